"""Every rendering of a run (table, Markdown, JSON, HTML) shows the figures of attempts.jsonl,
as `compute` holds them in its `RunReport`.

`make_run` builds a run directory the way the runner does (RunDir.append, Transcript, grading
logs); the comparison, view and browser tests use it too.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.runs import make_run, run_cli

from swelancer.report.layout import BUCKET_COLUMNS
from swelancer.report.markdown import render_run as render_markdown
from swelancer.report.metrics import compute
from swelancer.report.models import Figures, RunReport, TaskRow
from swelancer.run.results import RunDir, Transcript
from swelancer.tasks.models import PRICE_BUCKETS


def dollars(text: str) -> float:
    return float(text.replace("$", "").replace(",", ""))


def percent_value(text: str) -> float:
    return float(text.rstrip("%")) / 100


def parse(text: str, key: str):
    """A figure as shown, turned back into the field of compute()'s report."""
    text = text.strip()
    if key == "cost_usd" or key.endswith("_usd"):
        return dollars(text)
    if key.startswith("pass_at"):
        return percent_value(text)
    if key == "earned_per_api_usd":
        return float(text.replace(",", ""))
    return int(text)


def shows(text: str, group: Figures, key: str) -> bool:
    """Whether a figure as shown is the group's figure (a dash: pass@k of no graded task)."""
    if text.strip() == "—":
        return key.startswith("pass_at") and group.tasks == 0
    return close(parse(text, key), getattr(group, key), key)


def close(shown, expected, key: str) -> bool:
    tolerance = {"pass": 0.0006, "usd": 0.006}
    if key.startswith("pass_at"):
        return abs(shown - expected) <= tolerance["pass"]
    if isinstance(expected, float):
        return abs(shown - expected) <= max(0.006, abs(expected) * 1e-4)
    return shown == expected


@pytest.fixture
def run(tmp_path) -> Path:
    return make_run(tmp_path / "results")


def test_compute_is_a_run_report_with_a_row_per_task(run):
    figures = compute(run)
    assert isinstance(figures, RunReport) and figures.schema_version == 5
    assert (figures.run_id, figures.model, figures.tries) == ("run-a", "test/model", 2)
    assert figures.manifest is not None and figures.manifest.split == "demo"
    assert figures.started_at == "2026-01-02T03:04:05+00:00"
    assert set(figures.by_variant) == {"ic_swe", "swe_manager"}
    assert list(figures.by_price_bucket) == [label for label, _, _ in PRICE_BUCKETS]
    # 100: 1/2, 250: 0, 1000: 1, 2000: error, 4000: 0 (one error), 500: 1, 1500: 1/2, 8000: 0
    assert figures.earned_usd == 50 + 1000 + 500 + 750
    assert figures.available_usd == 100 + 250 + 1000 + 4000 + 500 + 1500 + 8000
    assert figures.errored_usd == 2000
    assert (figures.tasks, figures.errors, figures.tampered) == (7, 3, 0)
    assert figures.pass_at_k == pytest.approx(4 / 7, abs=1e-4)
    rows = {t.task_id: t for t in figures.per_task}
    assert all(isinstance(t, TaskRow) for t in figures.per_task)
    assert rows["400_4"].status == "error" and rows["400_4"].pass_at_1 is None
    assert rows["100_1"].status == "mixed" and rows["500_5"].graded == 1
    assert sum(t.earned_usd for t in figures.per_task) == pytest.approx(figures.earned_usd)
    assert figures.cost_usd == pytest.approx(0.05 * 16)
    assert {(e.task_id, e.attempt) for e in figures.errored} == {
        ("400_4", 1),
        ("400_4", 2),
        ("500_5", 2),
    }


def test_one_try_has_no_pass_at_k(tmp_path):
    report = compute(make_run(tmp_path, tasks=[("1_1", "ic_swe", 100.0, ["passed"])]))
    assert report.tries == 1 and report.pass_at_k is None
    assert "pass@1" in render_markdown(report) and "pass@2" not in render_markdown(report)


def _md_tables(text: str) -> dict[str, dict[str, list[str]]]:
    """Each Markdown table under its heading: {row label: cells}."""
    tables: dict[str, dict[str, list[str]]] = {}
    heading = "summary"
    for line in text.splitlines():
        if line.startswith("## "):
            heading = line[3:]
        elif line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            tables.setdefault(heading, {})[cells[0]] = cells[1:]
    return tables


def test_markdown_figures_are_those_of_attempts_jsonl(run):
    figures = compute(run)
    text = render_markdown(figures)
    tables = _md_tables(text)
    summary = tables["summary"]
    assert summary[""] == ["IC SWE", "SWE Manager", "total"]
    labels = {
        "tasks graded": "tasks",
        "attempts": "attempts",
        "passed": "passed",
        "failed": "failed",
        "errors (not counted)": "errors",
        "pass@1": "pass_at_1",
        "pass@2": "pass_at_k",
        "earned": "earned_usd",
        "available": "available_usd",
        "API cost": "cost_usd",
        "earned per API dollar": "earned_per_api_usd",
    }
    groups = [figures.by_variant["ic_swe"], figures.by_variant["swe_manager"], figures]
    for label, key in labels.items():
        for shown, group in zip(summary[label], groups, strict=True):
            assert shows(shown, group, key), (label, shown, getattr(group, key))
    by_price = tables["By price"]
    for label, _, _ in PRICE_BUCKETS:
        bucket = figures.by_price_bucket[label]
        if not bucket.attempts:
            assert label not in by_price
            continue
        tasks, pass1, earned, available, errors = by_price[label]
        assert int(tasks) == bucket.tasks and int(errors) == bucket.errors
        assert shows(pass1, bucket, "pass_at_1")
        assert dollars(earned) == bucket.earned_usd and dollars(available) == bucket.available_usd
    errored = tables["Errored attempts"]
    assert sorted(errored) == ["400_4", "500_5", "task"]
    assert "exited 4" in errored["500_5"][2]
    assert "infrastructure errors" in text
    assert re.search(r"Earned \$2,300 \(95% CI \$0–\$[\d,]+\) of \$15,350", text)


def test_markdown_notes_say_skip_broken_and_incomplete(tmp_path):
    run = make_run(tmp_path, status="incomplete", skipped=["29854_602"], cost=None)
    text = render_markdown(compute(run))
    assert "--skip-broken): 29854_602" in text
    assert "the run is incomplete" in text
    assert "| API cost | unknown | unknown | unknown |" in text
    assert "| earned per API dollar | n/a | n/a | n/a |" in text


def test_json_through_the_cli_is_compute(run, capsys):
    code, out, _ = run_cli("report", str(run), "--format", "json", capsys=capsys)
    assert code == 0
    assert RunReport.model_validate_json(out) == compute(run)
    assert json.loads(out) == json.loads(compute(run).model_dump_json())
    assert json.loads(out)["schema_version"] == 5


def test_table_through_the_cli_to_a_file(run, tmp_path, capsys):
    target = tmp_path / "out" / "report.txt"
    code, out, err = run_cli("report", str(run), "--output", str(target), capsys=capsys)
    assert code == 0 and "wrote" in err and out == ""
    text = target.read_text()
    assert "$2,300" in text and "$15,350" in text and "pass@2" in text
    assert "errored attempts" in text and "400_4" in text and "$1,000–$1,999" in text
    assert "\x1b[" not in text


def test_table_on_stdout(run, capsys):
    code, out, _ = run_cli("report", str(run), capsys=capsys)
    assert code == 0
    assert "earned per API dollar" in out and "SWE Manager" in out and "by price" in out


def test_md_to_a_file_and_run_id_under_results_dir(run, tmp_path, capsys):
    target = tmp_path / "r.md"
    args = ["report", run.name, "--results-dir", str(run.parent), "-f", "md", "-o", str(target)]
    code, _, _ = run_cli(*args, capsys=capsys)
    assert code == 0
    assert target.read_text() == render_markdown(compute(run))


def _html_cells(text: str) -> dict[str, str]:
    """Every element with a data-key (summary cells, cards) → its text."""
    cells = {}
    for key, body in re.findall(r'<t[dh][^>]*data-key="([^"]+)"[^>]*>(.*?)</t[dh]>', text):
        cells.setdefault(html.unescape(key), html.unescape(re.sub(r"<[^>]+>", "", body)))
    for key, body in re.findall(r'<div class="v" data-key="([^"]+)">(.*?)</div>', text):
        cells["card." + html.unescape(key)] = html.unescape(body)
    return cells


def test_html_figures_are_those_of_attempts_jsonl(run, capsys):
    code, out, _ = run_cli("report", str(run), "--format", "html", capsys=capsys)
    assert code == 0 and "report.html" in out
    text = (run / "report.html").read_text()
    figures = compute(run)
    cells = _html_cells(text)
    groups = {**figures.by_variant, "total": figures}
    keys = ["tasks", "attempts", "passed", "failed", "errors", "pass_at_1", "pass_at_k"]
    keys += ["earned_usd", "available_usd", "cost_usd", "earned_per_api_usd"]
    for group, data in groups.items():
        for key in keys:
            shown = cells[f"{group}.{key}"]
            assert shows(shown, data, key), (group, key, shown)
    for key in ("earned_usd", "available_usd", "pass_at_1", "pass_at_k", "cost_usd"):
        assert close(parse(cells[f"card.{key}"], key), getattr(figures, key), key)
    for label, bucket in figures.by_price_bucket.items():
        if bucket.attempts:
            for key, _ in BUCKET_COLUMNS:
                assert shows(cells[f"{label}.{key}"], bucket, key), (label, key)
    assert "$2,000–$3,999" in text and cells["$2,000–$3,999.pass_at_1"] == "—"
    # the per-task table: one row per task, its earned and pass@1 as in compute()
    rows = re.findall(r'<tr id="task-[^"]*" data-task="([^"]+)".*?</tr>', text, re.S)
    assert rows == [t.task_id for t in figures.per_task]
    for t in figures.per_task:
        row = re.search(rf'data-task="{re.escape(t.task_id)}".*?</tr>', text, re.S).group(0)
        earned = re.search(r'data-key="earned_usd" data-v="([^"]+)"', row).group(1)
        assert float(earned) == t.earned_usd
        assert row.count('class="att ') == len(t.attempts)
    # the bars carry the values they draw
    earned_bars = re.findall(r'class="bar earned" data-group="([^"]+)" data-value="([^"]+)"', text)
    drawn = {html.unescape(g): float(v) for g, v in earned_bars}
    assert drawn["total"] == figures.earned_usd
    assert drawn["ic_swe"] == figures.by_variant["ic_swe"].earned_usd
    assert len(drawn) == 3 + len(PRICE_BUCKETS)
    final = re.search(r'class="cumulative earned" d="[^"]+" data-value="([^"]+)"', text).group(1)
    assert float(final) == pytest.approx(figures.earned_usd, abs=0.01)


def test_html_is_self_contained_and_links_every_attempt(run, tmp_path, capsys):
    target = tmp_path / "share" / "my report.html"
    code, out, _ = run_cli("report", str(run), "-f", "html", "-o", str(target), capsys=capsys)
    assert code == 0 and "16 transcript page(s)" in out
    text = target.read_text()
    assert not re.search(r'(src|href)="(https?:)?//', text), "nothing from the network"
    assert "<link" not in text and "@import" not in text
    hrefs = re.findall(r'href="([^"#]+)"', text)
    assert len(hrefs) >= 16
    for href in hrefs:
        from urllib.parse import unquote

        page = target.parent / unquote(html.unescape(href))
        assert page.is_file(), href
    page = (target.parent / "my report_files" / "300_3" / "2.html").read_text()
    assert 'href="../../my%20report.html#task-300_3"' in page
    assert "cat src/app.js" in page and "test_300_3 PASSED" in page
    assert "170 lines folded" in page and "show all 200 lines" in page


def test_html_escapes_what_the_model_wrote(tmp_path, capsys):
    run = make_run(tmp_path, tasks=[("<b>9<b>", "ic_swe", 100.0, ["passed"])])
    folder = RunDir(run).attempt_dir("<b>9<b>", 1)
    log = Transcript(folder / "transcript.jsonl")
    log.event("model", turn=2, content="<script>alert('x')</script>", tool_calls=[])
    log.event("command", command="echo '<img src=x onerror=alert(1)>'", output="</pre><script>")
    log.close()
    code, _, _ = run_cli("report", str(run), "-f", "html", capsys=capsys)
    assert code == 0
    main_page = (run / "report.html").read_text()
    assert "<b>9<b>" not in main_page and "&lt;b&gt;9&lt;b&gt;" in main_page
    pages = list((run / "report_files").rglob("*.html"))
    assert len(pages) == 1 and pages[0].parent.name == "_b_9_b_"
    page = pages[0].read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)" in page
    assert "<img" not in page and "</pre><script>" not in page
    assert page.count("<script") == 0, "transcript pages run no script"
    assert "script-src 'none'" in html.unescape(page)


def test_unknown_format_and_missing_run_exit_2(tmp_path):
    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "swelancer", *args], capture_output=True, text=True, timeout=60
        )

    bad = cli("report", str(tmp_path), "--format", "pdf")
    assert bad.returncode == 2 and "choose table, json, md or html" in bad.stderr
    missing = cli("report", str(tmp_path / "nope"), "--results-dir", str(tmp_path))
    assert missing.returncode == 2 and "not a run directory" in missing.stderr
    assert "Traceback" not in missing.stderr
