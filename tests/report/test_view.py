"""`swelancer view`: one attempt as a reader wants it, from whatever the run directory holds."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from fakes.runs import make_run, run_cli
from rich.console import Console

from swelancer.errors import ConfigError
from swelancer.report.view import attempt_blocks, fold, load_attempt, plain_text, render_terminal
from swelancer.run.results import RunDir, Transcript


@pytest.fixture
def run(tmp_path):
    return make_run(tmp_path / "results")


def test_an_ic_attempt_shows_prompt_turns_commands_grading_and_verdict(run, capsys):
    code, out, _ = run_cli("view", str(run), "300_3", "--attempt", "2", capsys=capsys)
    assert code == 0
    order = [
        "== 300_3 · attempt 2",
        "== sandbox",
        "== prompt (user)",
        "You are working on task 300_3.",
        "== model · turn 1",
        "1,200 in / 80 out tokens",
        "Let me look at the code.",
        "--- bash\ncat src/app.js",
        "== $ cat src/app.js",
        "exit 0",
        "line 1 of the build log",
        "… 170 lines folded …",
        "line 200 of the build log",
        "== user tool",
        "Step 1: open the form.",
        "== agent done: done after 1 turn(s)",
        "== patch",
        "+fix",
        "== grading · 300_3 · run 1",
        "exit 0",
        "test_300_3 PASSED",
        "== verdict: passed, earned $1,000",
        "== result: passed, earned $1,000 of $1,000",
    ]
    at = 0
    for piece in order:
        found = out.find(piece, at)
        assert found >= 0, f"{piece!r} missing or out of order"
        at = found + len(piece)
    assert "line 21 of the build log" not in out
    assert "\x1b[" not in out, "plain text when not a terminal"


def test_full_unfolds(run, capsys):
    code, out, _ = run_cli("view", str(run), "300_3", "--full", capsys=capsys)
    assert code == 0
    assert "folded" not in out
    assert all(f"line {i} of the build log" in out for i in range(1, 201))


def test_a_manager_attempt_shows_the_decision(run, capsys):
    args = ["view", run.name, "700-manager-0", "-a", "1", "--results-dir", str(run.parent)]
    code, out, _ = run_cli(*args, capsys=capsys)
    assert code == 0
    assert "== decision: proposal 2" in out
    assert "== decision.json" in out and '{"selected_proposal_id": 2}' in out
    assert "result: failed, earned $0 of $1,500" in out
    assert "selected proposal: 2\ncorrect proposal:  1" in out


def test_an_errored_attempt_says_it_is_not_counted(run, capsys):
    code, out, _ = run_cli("view", str(run), "400_4", "--attempt", "2", capsys=capsys)
    assert code == 0
    assert "result: error, not counted (a $2,000 task)" in out
    assert "grader: test of 400_4 exited 4" in out


def test_garbage_lines_and_unknown_kinds_never_crash(tmp_path):
    run = make_run(tmp_path, tasks=[("1_1", "ic_swe", 100.0, ["failed"])])
    folder = RunDir(run).attempt_dir("1_1", 1)
    log = Transcript(folder / "transcript.jsonl")
    log.event("telemetry", gpu="A100", samples=[1, 2, 3])
    log.event("model", turn="x", content=None, tool_calls="not a list", usage=5, seconds="slow")
    log.event("command")
    log.event("limit", reason="max_turns")
    log.event("trimmed", dropped=4)
    log.event("context_window_exceeded", message="too long", kept=3)
    log.event("note", text="a note")
    log.event("command", command="cat bin", output="bytes \udcff\udcfe end")
    log.event("note", text="a lone \ud800 surrogate")
    log.close()
    with (folder / "transcript.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"kind": "model", "turn": 9, "cont\n')  # a crash mid-write
        handle.write("[1, 2]\n\n")
        handle.write("\xff not json at all\n")
        handle.write('{"t": "x", "kind": "note", "text": "after the damage"}\n')
    text = plain_text(attempt_blocks(load_attempt(run, "1_1")))
    assert "== event: telemetry" in text and '"gpu": "A100"' in text
    assert "== model · turn x" in text and "not a list" in text
    assert "limit reached: max_turns" in text and "context trimmed: 4" in text
    assert "context window exceeded" in text and "kept 3 message(s)" in text
    assert "a note" in text and "after the damage" in text
    assert "3 damaged line(s) of transcript.jsonl skipped" in text
    assert "bytes \ufffd\ufffd end" in text and "a lone ? surrogate" in text
    text.encode("utf-8")


def test_an_attempt_without_transcript_or_record(tmp_path):
    run = make_run(tmp_path, tasks=[("1_1", "ic_swe", 100.0, ["failed"])])
    RunDir(run).fresh_attempt_dir("1_1", 2)  # started, never finished
    text = plain_text(attempt_blocks(load_attempt(run, "1_1", 2)))
    assert "no transcript at" in text
    assert "no record in attempts.jsonl" in text and "nothing was scored" in text


def test_the_terminal_gets_colour(run):
    buffer = io.StringIO()
    out = Console(file=buffer, force_terminal=True, width=100, color_system="standard")
    render_terminal(attempt_blocks(load_attempt(run, "100_1")), out=out)
    text = buffer.getvalue()
    assert "\x1b[" in text and "170 lines folded" in text and "sandbox" in text


@pytest.mark.parametrize(
    ("lines", "hidden"), [(10, 0), (33, 0), (34, 4), (500, 470)]
)  # fmt: skip
def test_fold_keeps_head_and_tail(lines, hidden):
    text = "\n".join(f"l{i}" for i in range(lines))
    folded, count = fold(text)
    assert count == hidden
    if hidden:
        assert folded.splitlines()[20] == f"… {hidden:,} lines folded …"
        assert folded.splitlines()[0] == "l0" and folded.splitlines()[-1] == f"l{lines - 1}"
    else:
        assert folded == text


def test_fold_shortens_one_huge_line():
    folded, _ = fold("x" * 50_000)
    assert "49,200 characters folded" in folded and len(folded) < 1000


def test_unknown_run_task_or_attempt_is_a_clear_error(run, tmp_path):
    with pytest.raises(ConfigError, match=r"no task 'nope'; its tasks: 100_1, 200_2"):
        load_attempt(run, "nope")
    with pytest.raises(ConfigError, match=r"has no attempt 7; its attempts: 1, 2"):
        load_attempt(run, "100_1", 7)

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "swelancer", "view", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    result = cli("nope", "100_1", "--results-dir", str(run.parent))
    assert result.returncode == 2, result.stderr
    assert "runs under" in " ".join(result.stderr.split()) and "run-a" in result.stderr
    assert "Traceback" not in result.stderr
    result = cli(str(run), "100_1", "--attempt", "3")
    assert result.returncode == 2 and "its attempts: 1, 2" in result.stderr


def test_the_transcript_is_read_as_written(run):
    """Non-ASCII output survives the round trip through transcript.jsonl."""
    folder = RunDir(run).attempt_dir("100_1", 1)
    log = Transcript(folder / "transcript.jsonl")
    log.event("note", text="café ✓ 日本")
    log.close()
    lines = (folder / "transcript.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["text"] == "café ✓ 日本"
    assert "café ✓ 日本" in plain_text(attempt_blocks(load_attempt(run, "100_1", 1)))
