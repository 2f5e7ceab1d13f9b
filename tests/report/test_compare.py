"""Several runs side by side, and the leaderboard of a results directory."""

from __future__ import annotations

import json
import re

import pytest
from fakes.runs import make_run, run_cli

from swelancer.report.compare import Comparison, Leaderboard, compare_runs, leaderboard
from swelancer.report.metrics import compute

A = [
    ("1_1", "ic_swe", 100.0, ["passed"]),
    ("2_2", "ic_swe", 250.0, ["failed"]),
    ("3_3", "ic_swe", 1000.0, ["passed"]),
    ("4_4", "ic_swe", 2000.0, ["error"]),
    ("5-manager-0", "swe_manager", 500.0, ["passed"]),
    ("6-manager-0", "swe_manager", 4000.0, ["failed"]),
    ("7_7", "ic_swe", 300.0, ["failed"]),
]
B = [
    ("1_1", "ic_swe", 100.0, ["passed"]),  # same
    ("2_2", "ic_swe", 250.0, ["passed"]),  # differs
    ("3_3", "ic_swe", 1000.0, ["failed"]),  # differs
    ("4_4", "ic_swe", 2000.0, ["failed"]),  # error in A, graded in B: differs
    ("5-manager-0", "swe_manager", 500.0, ["passed"]),  # same
    ("6-manager-0", "swe_manager", 4000.0, ["passed"]),  # differs
    ("8_8", "ic_swe", 150.0, ["passed"]),  # only in B
]


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "results"
    make_run(root, "run-a", A, model="model/a")
    make_run(root, "run-b", B, model="model/b", cost=None)
    make_run(root, "run-c", [("1_1", "ic_swe", 100.0, ["failed"])], model="model/c")
    (root / "not-a-run").mkdir()
    (root / "notes.txt").write_text("hello")
    return root


def test_two_runs_differ_exactly_where_their_outcomes_differ(results):
    data = compare_runs([results / "run-a", results / "run-b"])
    assert isinstance(data, Comparison) and data.kind == "comparison"
    assert [d.task_id for d in data.differences] == ["6-manager-0", "4_4", "3_3", "2_2"]
    assert data.same == 2 and data.tasks_in_common == 6 and data.tasks == 8
    only = {d.task_id: d.runs for d in data.only_in_some}
    assert set(only) == {"7_7", "8_8"}
    assert only["8_8"][0] is None and only["8_8"][1].status == "passed"
    four = next(d for d in data.differences if d.task_id == "4_4")
    assert [s.status for s in four.runs] == ["error", "failed"]
    a, b = data.runs
    assert (a.earned_usd, b.earned_usd) == (1600, 5000)
    assert a.earned_usd == compute(results / "run-a").earned_usd
    assert b.cost_usd is None
    # on the 5 tasks both graded (4_4 errored in A): A earned 100+1000+500, B 100+250+500+4000
    assert (a.common_earned_usd, b.common_earned_usd) == (1600, 4850)
    assert a.common_available_usd == 100 + 250 + 1000 + 500 + 4000


def test_a_run_compared_with_itself_has_no_differences(results):
    data = compare_runs([results / "run-a", results / "run-a"])
    assert data.differences == [] and data.only_in_some == []
    assert data.same == 7
    assert all(r.common_earned_usd is None for r in data.runs)


def test_comparison_in_markdown_lists_the_differing_tasks(results, capsys):
    code, out, _ = run_cli(
        "report", str(results / "run-a"), str(results / "run-b"), "-f", "md", capsys=capsys
    )
    assert code == 0
    assert "| | run-a | run-b |" in out
    assert "| earned | $1,600 | $5,000 |" in out
    assert "| API cost | $0.3500 | unknown |" in out
    assert "## Tasks where they differ (4 of 6)" in out
    section = out.split("## Tasks where they differ")[1].split("##")[0]
    listed = re.findall(r"^\| (\S+) \| \$", section, re.M)
    assert listed == ["6-manager-0", "4_4", "3_3", "2_2"]
    assert "| 4_4 | $2,000 | error | failed 0.0% |" in section
    assert (
        "## Tasks in only some runs (2)" in out
        and "| 8_8 | $150 | not run | passed 100.0% |" in out
    )


def test_comparison_as_json_and_table(results, capsys):
    runs = [str(results / "run-a"), str(results / "run-b"), str(results / "run-c")]
    code, out, _ = run_cli("report", *runs, "--format", "json", capsys=capsys)
    assert code == 0
    data = json.loads(out)
    assert data["kind"] == "comparison" and [r["run_id"] for r in data["runs"]] == [
        "run-a",
        "run-b",
        "run-c",
    ]
    code, out, _ = run_cli("report", *runs, capsys=capsys)
    assert code == 0
    assert "3 runs compared" in out and "tasks where they differ" in out and "model/c" in out


def test_comparison_as_html(results, tmp_path, capsys):
    target = tmp_path / "cmp.html"
    runs = [str(results / "run-a"), str(results / "run-b")]
    code, _, err = run_cli("report", *runs, "-f", "html", "-o", str(target), capsys=capsys)
    assert code == 0 and "wrote" in err
    text = target.read_text()
    rows = re.findall(r'<table class="differences">.*?</table>', text, re.S)[0]
    assert re.findall(r'<tr data-task="([^"]+)"', rows) == ["6-manager-0", "4_4", "3_3", "2_2"]
    assert text.count('class="bar earned"') == 2


def test_leaderboard_of_a_results_directory_is_sorted_by_earned(results, capsys):
    board = leaderboard(results)
    assert isinstance(board, Leaderboard) and board.kind == "leaderboard"
    assert [r.run_id for r in board.runs] == ["run-b", "run-a", "run-c"]
    assert [r.rank for r in board.runs] == [1, 2, 3]
    assert [r.earned_usd for r in board.runs] == [5000, 1600, 0]
    assert "different dollars available" in board.notes[0]

    code, out, _ = run_cli("report", str(results), "-f", "md", capsys=capsys)
    assert code == 0
    assert re.findall(r"^\| (\d) \| (run-\w) \|", out, re.M) == [
        ("1", "run-b"),
        ("2", "run-a"),
        ("3", "run-c"),
    ]
    code, out, _ = run_cli("report", str(results), "-f", "json", capsys=capsys)
    assert [r["run_id"] for r in json.loads(out)["runs"]] == ["run-b", "run-a", "run-c"]
    code, out, _ = run_cli("report", str(results), capsys=capsys)
    assert code == 0 and out.index("run-b") < out.index("run-a") < out.index("run-c")
    code, _, _ = run_cli("report", str(results), "-f", "html", capsys=capsys)
    assert code == 0 and (results / "leaderboard.html").is_file()
    page = (results / "leaderboard.html").read_text()
    assert re.findall(r'<tr data-run="([^"]+)"', page) == ["run-b", "run-a", "run-c"]


def test_ties_keep_a_stable_order(tmp_path):
    for name in ("zeta", "alpha", "mid"):
        make_run(tmp_path, name, [("1_1", "ic_swe", 100.0, ["passed"])])
    assert [r.run_id for r in leaderboard(tmp_path).runs] == ["alpha", "mid", "zeta"]


def test_no_argument_is_the_newest_run(results, capsys):
    import os

    os.utime(results / "run-c" / "run.json", (2_000_000_000, 2_000_000_000))
    code, out, _ = run_cli("report", "--results-dir", str(results), "-f", "json", capsys=capsys)
    assert code == 0 and json.loads(out)["run_id"] == "run-c"


def test_a_folder_that_is_neither_is_refused(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, _ = run_cli("report", str(tmp_path / "empty"), capsys=capsys)
    assert code == 2
