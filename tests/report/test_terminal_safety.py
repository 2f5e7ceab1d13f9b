"""Text from a task, a model or a container reaches the user's terminal, logs and reports inert:
no escape sequence, control character or bidi override gets through, rich reads no markup in
it, and Markdown and HTML viewers load or run nothing from it. Ordinary unicode survives."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.runs import make_run, run_cli
from markdown_it import MarkdownIt
from rich.console import Console

from swelancer.records import AttemptError, AttemptRecord
from swelancer.report.compare import compare_runs, leaderboard
from swelancer.report.markdown import render_comparison as render_comparison_markdown
from swelancer.report.markdown import render_leaderboard as render_leaderboard_markdown
from swelancer.report.metrics import compute
from swelancer.report.models import RunReport
from swelancer.report.table import print_comparison, print_leaderboard, print_run
from swelancer.report.view import attempt_blocks, load_attempt, render_terminal
from swelancer.run.progress import PlainProgress, RichProgress
from swelancer.run.results import RunDir, Transcript

NICE = "café ’quoted’ naïve 🎉 日本"
MARKUP = "[link=https://evil.example/m]markup[/link][/][bold red]"
HOSTILE = (
    "\x1b]52;c;ZXZpbA==\x07"  # OSC 52: sets the clipboard
    "\x1b]0;pwned title\x07"  # OSC 0: the window title
    "\x1b]8;;https://evil.example/o8\x1b\\hyperlink\x1b]8;;\x1b\\"  # OSC 8: a hyperlink
    "\x1b[2J\x1b[H"  # clear the screen, cursor home
    "\x9b2J\x9d0;c1 title\x9c\x90dcs\x9c"  # the same as C1 characters
    "\x1bP+q544e\x1b\\"  # DCS
    "\x07\x08\r\x0b\x0c\x7f\x00"  # BEL, backspace, CR, VT, FF, DEL, NUL
    "\u202e\u2066\u202a"  # bidi overrides and isolates
    "\x1b"  # a lone ESC at the end
)
EVIL = f"{NICE} {MARKUP} {HOSTILE} {NICE}"
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def assert_inert(text: str, *, nice: bool = True) -> None:
    """No escape, control character (but newline and tab) or bidi override; NICE intact."""
    found = sorted({f"U+{ord(c):04X}" for c in FORBIDDEN.findall(text)})
    assert not found, f"raw control characters reached the output: {found}"
    if nice:
        assert NICE in text


def assert_no_hostile_sequences(text: str, *, live: bool = False) -> None:
    """For a styled terminal, where rich writes colours of its own (and a live display moves
    the cursor): none of the hostile sequences gets through."""
    assert "\x1b]" not in text, "an OSC sequence (clipboard, title, hyperlink) got through"
    assert "\x1bP" not in text and "\x07" not in text
    assert "\x1b[2J" not in text and "\x1b[H" not in text
    assert not re.search("[\x80-\x9f\u202a-\u202e\u2066-\u2069\x08\x00]", text)
    if not live:
        assert "\r" not in text
        leftover = re.sub(r"\x1b\[[0-9;]*m", "", text)
        assert "\x1b" not in leftover, "an escape other than a colour got through"


def _terminal(width: int = 400) -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=width, color_system="truecolor")


# -- tasks list / show --------------------------------------------------------------------

HEADER = [
    "question_id", "variant", "price", "price_limit", "manager_data", "manager_commit",
    "acceptable_folders", "cwd", "set", "title", "description", "proposals",
]  # fmt: skip


def _hostile_manifest(tmp_path: Path) -> Path:
    proposals = [{"id": 1, "content": f"proposal {EVIL}"}]
    data = {"game": {"correct_proposal": {"id": 1}, "all_formal_proposals": proposals}}
    rows = [
        ["12155_1", "ic_swe", "250", "", "", "", "['12155_1']", "", "diamond",
         f"{NICE} {HOSTILE}", f"description {EVIL}", ""],
        ["15193-manager-0", "swe_manager", "500", "", repr(data), "abc1234", "[]", "", "diamond",
         f"{NICE}{HOSTILE}", f"manager description {EVIL}", f"proposals {EVIL}"],
    ]  # fmt: skip
    path = tmp_path / "hostile.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def test_tasks_list_shows_hostile_titles_inert(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # wide enough that no title is cut
    code, out, err = run_cli("tasks", "list", "--manifest", str(_hostile_manifest(tmp_path)),
                             capsys=capsys)  # fmt: skip
    assert code == 0, err
    assert_inert(out)


def test_tasks_list_json_escapes_what_a_terminal_acts_on_losslessly(tmp_path, capsys):
    path = _hostile_manifest(tmp_path)
    code, out, _ = run_cli("tasks", "list", "--manifest", str(path), "--json", capsys=capsys)
    assert code == 0
    assert_inert(out)
    rows = json.loads(out)
    assert rows[0]["title"] == f"{NICE} {HOSTILE}", "the JSON value itself is unchanged"


def test_tasks_show_prints_a_hostile_description_and_proposals_inert(tmp_path, capsys):
    path = _hostile_manifest(tmp_path)
    for task in ("12155_1", "15193-manager-0"):
        code, out, _ = run_cli("tasks", "show", task, "--manifest", str(path), capsys=capsys)
        assert code == 0
        assert_inert(out)
        assert MARKUP in out, "markup-looking text is shown as written"


def test_a_hostile_manifest_header_is_named_inert(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text(f"question_id,{HOSTILE}title\n1,2\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "swelancer", "tasks", "list", "--manifest", str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "missing column" in result.stderr
    assert_inert(result.stderr, nice=False)


# -- swelancer view -----------------------------------------------------------------------


def _hostile_attempt(root: Path) -> Path:
    """A run with one attempt whose every text came from a hostile model and container."""
    run = make_run(root, tasks=[("12155_1", "ic_swe", 100.0, ["failed"])], model=f"m {EVIL}")
    rd = RunDir(run)
    folder = rd.attempt_dir("12155_1", 1)
    log = Transcript(folder / "transcript.jsonl")
    log.event("prompt", role="user", content=f"title {EVIL}")
    log.event(
        "model", turn=2, content=f"reply {EVIL}",
        tool_calls=[{"id": "c", "name": "bash", "arguments": {"command": f"echo {EVIL}"}},
                    {"id": "d", "name": f"odd {EVIL}", "arguments": {"x": EVIL}}],
    )  # fmt: skip
    log.event("command", command=f"printf {EVIL}", output=f"output {EVIL}\n" * 3, exit_code=1)
    log.event("user_tool", output=f"user tool {EVIL}")
    log.event(f"kind {EVIL}", field=EVIL)
    log.event("note", text=f"note {EVIL}")
    log.close()
    grading = folder / "grading" / "12155_1" / "run-2"
    grading.mkdir(parents=True)
    (grading / "pytest.log").write_text(f"pytest {EVIL}\n", encoding="utf-8")
    (grading / "exit_code").write_text(f"1 {HOSTILE}\n", encoding="utf-8")
    (folder / "patch.diff").write_text(f"+{EVIL}\n", encoding="utf-8")
    (folder / "decision.json").write_text(EVIL, encoding="utf-8")
    rd.append(
        AttemptRecord(
            run_id="run-a", task_id="12155_1", variant="ic_swe", attempt=2, status="error",
            price_usd=100.0, model=f"m {EVIL}", reason=f"reason {EVIL}",
            stop_reason=f"stop {EVIL}", error=AttemptError(kind=f"k{HOSTILE}", message=EVIL),
            started_at="t", finished_at="t",
        )
    )  # fmt: skip
    rd.attempt_dir("12155_1", 2).mkdir(parents=True, exist_ok=True)
    return run


def test_view_of_a_hostile_attempt_prints_inert_text(tmp_path, capsys):
    run = _hostile_attempt(tmp_path)
    for attempt in ("1", "2"):
        code, out, err = run_cli("view", str(run), "12155_1", "-a", attempt, "--full",
                                 capsys=capsys)  # fmt: skip
        assert code == 0, err
        assert_inert(out + err)
    assert MARKUP in out


def test_view_on_a_terminal_passes_no_sequence_and_reads_no_markup(tmp_path):
    run = _hostile_attempt(tmp_path)
    for attempt in (1, 2):
        console = _terminal()
        render_terminal(attempt_blocks(load_attempt(run, "12155_1", attempt)), out=console)
        shown = console.file.getvalue()
        assert_no_hostile_sequences(shown)
        plain = re.sub(r"\x1b\[[0-9;]*m", "", shown)
        assert NICE in plain and "[link=https://evil.example/m]markup[/link]" in plain


# -- reports ------------------------------------------------------------------------------


def _hostile_run(root: Path, run_id: str = "run-a") -> Path:
    tasks = [("12155_1", "ic_swe", 100.0, ["error", "passed"]), ("2_2", "ic_swe", 50.0, ["failed"])]
    run = make_run(root, run_id, tasks, model=f"model {EVIL}", skipped=[f"29854_602 {EVIL}"])
    rd = RunDir(run)
    lines = rd.attempts_file.read_text().splitlines()
    first = AttemptRecord.model_validate_json(lines[0])
    first.error = AttemptError(kind=f"kind {HOSTILE}", message=f"container said {EVIL}")
    lines[0] = first.model_dump_json()
    rd.attempts_file.write_text("\n".join(lines) + "\n")
    meta = rd.read_run()
    meta["status"] = f"odd {EVIL}"
    rd.write_run(meta)
    return run


def test_report_table_is_inert(tmp_path, capsys):
    run = _hostile_run(tmp_path)
    code, out, err = run_cli("report", str(run), capsys=capsys)
    assert code == 0, err
    assert_inert(out + err)
    console = _terminal()
    print_run(compute(run), console)
    shown = console.file.getvalue()
    assert_no_hostile_sequences(shown)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", shown)
    assert NICE in plain and "[link=https://evil.example/m]markup[/link]" in plain


def test_report_json_is_inert_and_the_same_value(tmp_path, capsys):
    run = _hostile_run(tmp_path)
    code, out, _ = run_cli("report", str(run), "-f", "json", capsys=capsys)
    assert code == 0
    assert_inert(out)
    assert RunReport.model_validate_json(out) == compute(run)


def _rendered(markdown: str) -> str:
    return MarkdownIt("commonmark").render(markdown)


ACTIVE = [
    "<script>alert(1)</script>",
    "![pixel](https://evil.example/pixel.png)",
    "[click](javascript:alert(1))",
    "<img src=https://evil.example/i.png>",
    "<https://evil.example/autolink>",
    "&lt;script&gt;",
    "[ref]: https://evil.example/ref",
    "https://evil.example/bare www.evil.example",
]


SAFE_TAGS = {"h1", "h2", "p", "strong", "em", "code", "ul", "li", "table", "thead", "tbody",
             "tr", "th", "td", "hr", "br"}  # fmt: skip


def _assert_md_inert(text: str) -> None:
    """Inert on a terminal, and rendered it makes only plain tags: no script, image or link."""
    assert_inert(text, nice=False)
    page = _rendered(text)
    tags = re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)([^>]*)>", page)
    assert {name for name, _ in tags} <= SAFE_TAGS, page
    assert all(not attributes.strip() for _, attributes in tags), page
    assert not re.search(r"(?<!\\)://", text), "bare URLs are broken so none becomes a link"
    assert "www." not in text


def test_report_markdown_escapes_html_links_and_images(tmp_path, capsys):
    run = _hostile_run(tmp_path)
    rd = RunDir(run)
    lines = rd.attempts_file.read_text().splitlines()
    first = AttemptRecord.model_validate_json(lines[0])
    first.error = AttemptError(kind=" ".join(ACTIVE), message=f"{EVIL} " + " ".join(ACTIVE))
    rd.attempts_file.write_text(first.model_dump_json() + "\n" + "\n".join(lines[1:]) + "\n")
    code, out, _ = run_cli("report", str(run), "-f", "md", capsys=capsys)
    assert code == 0
    _assert_md_inert(out)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    shown = _rendered(out)
    assert "![pixel](https" in html.unescape(shown), "the text is shown as written"


def test_comparison_and_leaderboard_are_inert_in_every_format(tmp_path, capsys):
    results = tmp_path / "results"
    a = _hostile_run(results, "run-a")
    b = make_run(results, "run-b", [("3_3", "ic_swe", 9.0, ["passed"])], model=" ".join(ACTIVE))
    comparison = compare_runs([a, b])
    board = leaderboard(results)
    _assert_md_inert(render_comparison_markdown(comparison))
    _assert_md_inert(render_leaderboard_markdown(board))
    for render, data in ((print_comparison, comparison), (print_leaderboard, board)):
        console = _terminal()
        render(data, console)
        assert_no_hostile_sequences(console.file.getvalue())
    for args in ([str(a), str(b)], [str(results)]):
        for fmt in ("table", "md", "json"):
            code, out, err = run_cli("report", *args, "-f", fmt, capsys=capsys)
            assert code == 0, err
            assert_inert(out + err)


def test_html_report_keeps_hostile_titles_and_replies_inert(tmp_path, capsys):
    run = _hostile_attempt(tmp_path)
    folder = RunDir(run).attempt_dir("12155_1", 1)
    log = Transcript(folder / "transcript.jsonl")
    log.event("prompt", role="user", content=" ".join(ACTIVE) + " </pre></div><script>x()")
    log.event("model", turn=3, content='"><svg onload=alert(1)> ' + " ".join(ACTIVE))
    log.close()
    (folder / "patch.diff").write_text(  # drawn coloured, line by line
        "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@ " + " ".join(ACTIVE) + "\n"
        "-</pre></span><script>x()</script>\n+<img src=x onerror=alert(1)> " + EVIL + "\n",
        encoding="utf-8",
    )
    code, _, err = run_cli("report", str(run), "-f", "html", capsys=capsys)
    assert code == 0, err
    pages = [run / "report.html", *sorted((run / "report_files").rglob("*.html"))]
    assert len(pages) == 3
    for page_path in pages:
        page = page_path.read_text(encoding="utf-8")
        assert "script-src" in html.unescape(page) and "Content-Security-Policy" in page
        assert "<svg onload" not in page and "<img" not in page
        assert not re.search(r'(?:href|src)="\s*javascript:', page)
        assert "evil.example" not in "".join(re.findall(r'(?:href|src)="([^"]*)"', page))
    transcript = pages[1].read_text(encoding="utf-8")
    assert transcript.count("<script") == 0 and '<span class="da">+&lt;img' in transcript
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in transcript


# -- the run's progress lines and run.log -------------------------------------------------


def _record(task_id: str, status: str) -> AttemptRecord:
    return AttemptRecord(
        run_id="r", task_id=task_id, variant="ic_swe", attempt=1, status=status,
        price_usd=100.0, model="m", started_at="t", finished_at="t",
        error=AttemptError(kind=f"setup{HOSTILE}", message=f"container log: {EVIL}")
        if status == "error" else None,
    )  # fmt: skip


def test_run_quiet_lines_and_run_log_are_inert(tmp_path):
    stream = io.StringIO()
    log = tmp_path / "run.log"
    progress = PlainProgress(stream, log, phases=True)
    progress.start(run_id=f"run {EVIL}", planned=2, done_before=0, to_run=2)
    progress.phase(f"12155_1{HOSTILE}", 1, f"agent turn 1 {EVIL}")
    progress.note(f"12155_1 #1: infrastructure fault (setup): {EVIL}; retry 1 of 2")
    progress.finished(_record(f"12155_1{HOSTILE}", "error"), 1)
    progress.finished(_record("2_2", "passed"), 2)
    progress.close()
    for text in (stream.getvalue(), log.read_text(encoding="utf-8")):
        assert_inert(text)
        assert MARKUP in text and "infrastructure fault" in text and "container log" in text


def test_the_live_display_passes_no_sequence(tmp_path):
    console = _terminal()
    progress = RichProgress(console, tmp_path / "run.log", redirect=False)
    progress.start(run_id=f"run {EVIL}", planned=2, done_before=0, to_run=2)
    progress.phase(f"12155_1 {EVIL}", 1, f"agent turn 1 {EVIL}")
    progress.note(f"note {EVIL}")
    console.print(progress.renderable())
    progress.finished(_record("12155_1", "error"), 1)
    progress.close()
    shown = console.file.getvalue()
    assert_no_hostile_sequences(shown, live=True)
    assert "[link=https://evil.example/m]" in re.sub(r"\x1b\[[0-9;]*m", "", shown)
    assert_inert((tmp_path / "run.log").read_text(encoding="utf-8"))


@pytest.mark.parametrize("text", [NICE, "tab\there", "emoji 👩‍💻 and ZWJ", "→ ≥ $4,000"])
def test_ordinary_text_passes_unchanged_through_the_run_log(tmp_path, text):
    stream = io.StringIO()
    progress = PlainProgress(stream, tmp_path / "run.log")
    progress.note(text)
    progress.note(f"{text}\n2026-01-01 00:00:00Z [9/9] 1 #1: passed +$1,000,000")
    progress.close()
    for shown in (stream.getvalue(), (tmp_path / "run.log").read_text(encoding="utf-8")):
        assert text in shown
        assert f"{text} ⏎ 2026-01-01" in shown, "a newline in a note cannot forge a log line"
        assert not re.search(r"^2026-01-01", shown, re.M)
