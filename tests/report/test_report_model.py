"""The report as data: `RunReport`, `Comparison` and `Leaderboard` round-trip through their JSON,
every renderer draws a tampered attempt as a flagged failure, and the HTML's style and script
are package files read from wherever swelancer is installed."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import subprocess
import sys
import zipfile
from importlib.resources import files
from pathlib import Path

import pytest
from fakes.runs import TAMPERING, make_run, run_cli

import swelancer
from swelancer.report.compare import Comparison, Leaderboard, compare_runs, leaderboard
from swelancer.report.html import render_run
from swelancer.report.metrics import compute
from swelancer.report.models import REPORT_SCHEMA, Figures, RunReport
from swelancer.report.page import asset
from swelancer.report.render import FORMATS, render

TAMPERED_TASKS = [
    ("1_1", "ic_swe", 1000.0, ["tampered", "passed"]),
    ("2_2", "ic_swe", 500.0, ["tampered"]),
    ("3-manager-0", "swe_manager", 250.0, ["passed", "failed"]),
]


@pytest.fixture
def tampered_run(tmp_path) -> Path:
    return make_run(tmp_path / "results", "run-t", TAMPERED_TASKS)


# -- JSON ---------------------------------------------------------------------------------


def test_the_json_of_a_run_reads_back_as_the_report(tmp_path, capsys):
    for run in (make_run(tmp_path / "a"), make_run(tmp_path / "b", "run-t", TAMPERED_TASKS)):
        code, out, _ = run_cli("report", str(run), "-f", "json", capsys=capsys)
        assert code == 0
        assert RunReport.model_validate_json(out) == compute(run)
        assert render(compute(run), "json") == out


def test_the_json_keys_are_the_fields(tampered_run):
    data = json.loads(render(compute(tampered_run), "json"))
    assert data["schema_version"] == REPORT_SCHEMA == 5
    figure_keys = set(Figures.model_fields)
    assert figure_keys <= set(data)
    assert all(set(group) == figure_keys for group in data["by_variant"].values())
    assert all(set(group) == figure_keys for group in data["by_price_bucket"].values())
    assert not [k for k in data if re.fullmatch(r"pass_at_\d+", k) and k != "pass_at_1"]


def test_comparison_and_leaderboard_read_back_from_their_json(tmp_path, capsys):
    root = tmp_path / "results"
    a = make_run(root, "run-a")
    b = make_run(root, "run-t", TAMPERED_TASKS)
    code, out, _ = run_cli("report", str(a), str(b), "-f", "json", capsys=capsys)
    assert code == 0 and Comparison.model_validate_json(out) == compare_runs([a, b])
    code, out, _ = run_cli("report", str(root), "-f", "json", capsys=capsys)
    assert code == 0 and Leaderboard.model_validate_json(out) == leaderboard(root)


def test_a_damaged_run_json_is_a_problem_not_a_crash(tmp_path):
    run = make_run(tmp_path, tasks=[("1_1", "ic_swe", 100.0, ["passed"])])
    (run / "run.json").write_text('{"run_id": 7, "manifest": "not an object", "config": []}')
    report = compute(run)
    assert report.run_id == "7" and report.manifest is None and report.tries == 1
    assert any("manifest" in p for p in report.problems)
    assert RunReport.model_validate_json(render(report, "json")) == report


# -- tampering ----------------------------------------------------------------------------


def test_a_tampered_attempt_is_a_failure_in_the_figures(tampered_run):
    report = compute(tampered_run)
    assert (report.passed, report.failed, report.tampered) == (2, 3, 2)
    assert report.earned_usd == 1000 * 0.5 + 0 + 250 * 0.5
    assert report.by_variant["ic_swe"].tampered == 2
    assert report.by_variant["swe_manager"].tampered == 0
    rows = {t.task_id: t for t in report.per_task}
    assert rows["1_1"].status == "mixed" and rows["1_1"].tampered == 1
    assert [a.tampering for a in rows["1_1"].attempts] == [TAMPERING, None]
    assert rows["2_2"].status == "failed" and rows["2_2"].earned_usd == 0
    assert [(t.task_id, t.attempt) for t in report.tampered_attempts] == [("1_1", 1), ("2_2", 1)]


def test_a_record_that_passed_but_names_tampering_scores_nothing(tmp_path):
    run = make_run(tmp_path, tasks=[("1_1", "ic_swe", 1000.0, ["passed"])])
    path = run / "attempts.jsonl"
    record = json.loads(path.read_text())
    record["tampering"] = "a forged verdict"
    path.write_text(json.dumps(record) + "\n")
    report = compute(run)
    assert (report.passed, report.failed, report.tampered, report.earned_usd) == (0, 1, 1, 0)
    assert report.per_task[0].attempts[0].status == "failed"


def test_table_shows_tampered_attempts_flagged(tampered_run, capsys):
    code, out, _ = run_cli("report", str(tampered_run), capsys=capsys)
    assert code == 0
    assert re.search(r"tampered \(in failed\)\s*│\s*2\s*│\s*0\s*│\s*2", out)
    assert "tampered attempts (scored as failures)" in out and TAMPERING[:40] in out
    assert "2 attempt(s) tampered with their grading" in out


def test_markdown_shows_tampered_attempts_flagged(tampered_run, capsys):
    code, out, _ = run_cli("report", str(tampered_run), "-f", "md", capsys=capsys)
    assert code == 0
    assert "| tampered (in failed) | 2 | 0 | 2 |" in out
    section = out.split("## Tampered attempts (scored as failures)")[1].split("##")[0]
    assert re.findall(r"^\| (\S+) \| (\d) \|", section, re.M) == [("1_1", "1"), ("2_2", "1")]
    assert "the verdict file was written by the agent" in section


def test_json_shows_tampered_attempts_flagged(tampered_run, capsys):
    code, out, _ = run_cli("report", str(tampered_run), "-f", "json", capsys=capsys)
    data = json.loads(out)
    assert code == 0 and data["tampered"] == 2 and data["failed"] == 3
    assert [t["task_id"] for t in data["tampered_attempts"]] == ["1_1", "2_2"]
    first = data["per_task"][0]["attempts"][0]
    assert first["status"] == "failed" and first["tampering"] == TAMPERING


def test_html_shows_tampered_attempts_flagged(tampered_run, capsys):
    code, _, _ = run_cli("report", str(tampered_run), "-f", "html", capsys=capsys)
    assert code == 0
    text = (tampered_run / "report.html").read_text()
    assert re.search(r'data-key="total.tampered">2<', text)
    assert re.search(r'data-key="tampered">2<', text), "a card counts them"
    row = re.search(r'<tr id="task-1_1".*?</tr>', text, re.S).group(0)
    assert 'data-tampered="1"' in row and '<span class="flag">tampered</span>' in row
    flagged = re.findall(r'<a class="att failed tampered" href="[^"]+" title="([^"]+)"', row)
    assert len(flagged) == 1 and "attempt 1: failed (tampered)" in html.unescape(flagged[0])
    listed = re.search(r'<table class="tampered">.*?</table>', text, re.S).group(0)
    assert listed.count("<tr><td>") == 2 and "1_1/1.html" in listed
    page = (tampered_run / "report_files" / "1_1" / "1.html").read_text()
    assert "result: failed (tampered), earned $0 of $1,000" in page
    assert "tampered: scored as a failure" in page


def test_comparison_and_leaderboard_flag_tampered_runs(tmp_path, capsys):
    root = tmp_path / "results"
    a = make_run(root, "run-a", [("1_1", "ic_swe", 1000.0, ["passed"])])
    b = make_run(root, "run-t", TAMPERED_TASKS)
    code, out, _ = run_cli("report", str(a), str(b), "-f", "md", capsys=capsys)
    assert code == 0 and "| tampered | 0 | 2 |" in out
    assert "| 1_1 | $1,000 | passed 100.0% | mixed 50.0% (tampered) |" in out
    assert "scored as failures: run-t (2)" in out
    code, out, _ = run_cli("report", str(root), "-f", "md", capsys=capsys)
    assert code == 0 and "| tampered |" in out and "run-t (2)" in out


def test_no_tampering_shows_no_flag(tmp_path, capsys):
    run = make_run(tmp_path)
    for fmt in ("table", "md"):
        code, out, _ = run_cli("report", str(run), "-f", fmt, capsys=capsys)
        assert code == 0 and "tampered" not in out.lower()
    run_cli("report", str(run), "-f", "html", capsys=capsys)
    assert 'class="flag"' not in (run / "report.html").read_text()


# -- rendering ----------------------------------------------------------------------------


def test_every_format_renders_every_kind_of_report(tmp_path):
    root = tmp_path / "results"
    a, b = make_run(root, "run-a"), make_run(root, "run-b")
    for data in (compute(a), compare_runs([a, b]), leaderboard(root)):
        for fmt in FORMATS:
            assert render(data, fmt).endswith("\n")
    with pytest.raises(ValueError, match="unknown format"):
        render(compute(a), "pdf")


# -- assets -------------------------------------------------------------------------------


def test_the_assets_are_package_files_inlined_in_the_page(tmp_path):
    folder = files("swelancer.report") / "assets"
    css, js = (folder / "report.css").read_text(), (folder / "report.js").read_text()
    assert asset("report.css") == css and asset("report.js") == js
    page = render_run(compute(make_run(tmp_path)))
    assert f"<style>{css}</style>" in page and f"<script>{js}</script>" in page
    digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in html.unescape(page)


def test_the_assets_load_from_an_installed_copy(tmp_path):
    """A copy of the package alone, zipped as a wheel is: the page still has its style and
    script (they are read as package resources, not from the source tree)."""
    package = Path(swelancer.__file__).parent
    archive = tmp_path / "swelancer.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in package.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                zipped.write(path, Path("swelancer") / path.relative_to(package))
    code = (
        f"import sys; sys.path.insert(0, {str(archive)!r}); "
        "import swelancer.report.page as p; assert p.__file__.startswith(sys.path[0]), p.__file__; "
        "page = p.page('t', 'body', script=p.asset('report.js')); "
        "assert '.att.tampered' in page and \"dataset.ready = 'yes'\" in page; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
