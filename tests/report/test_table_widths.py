"""Report tables read at any width, and say what the JSON says: task ids, variants, prices
and figures are never cut or folded (run ids, models and reasons fold instead; a table too
wide for the terminal is drawn wider rather than cut)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from swelancer.format import money
from swelancer.report.compare import compare_runs, leaderboard
from swelancer.report.layout import TEXT_FIELDS, comparison_rows, figure_cell
from swelancer.report.metrics import compute
from swelancer.report.table import console, print_comparison, print_leaderboard, print_run
from tests.fakes.runs import TASKS, make_run, run_cli

LONG_RUN = "gpt-4o-2024-08-06-a-long-run-name-20260101-120000"
LONG_MODEL = "openrouter/anthropic/claude-sonnet-4-5-20250929"
OTHER = [
    ("100_1", "ic_swe", 100.0, ["failed", "failed"]),
    ("200_2", "ic_swe", 250.0, ["passed", "passed"]),
    ("600-manager-0", "swe_manager", 500.0, ["failed", "failed"]),
    ("15193-manager-0", "swe_manager", 12345.5, ["passed", "failed"]),
]


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    a = make_run(tmp_path, LONG_RUN, model=LONG_MODEL)
    b = make_run(tmp_path, "o3-mini-another-long-run-name-20260102-130000", tasks=OTHER)
    return a, b


def shown(printer, width: int) -> list[str]:
    buffer = io.StringIO()
    printer(console(buffer, width=width))
    return buffer.getvalue().splitlines()


def cells(lines: list[str]) -> set[str]:
    """Every table cell's text, line by line."""
    return {c.strip() for line in lines for c in line.replace("┃", "│").split("│")}


@pytest.mark.parametrize("width", [40, 60, 80, 100])
def test_ids_variants_prices_and_figures_are_whole_at_any_width(runs, width: int) -> None:
    a, b = runs
    report = compute(a)
    one = cells(shown(lambda out: print_run(report, out), width))
    assert {"IC SWE", "SWE Manager", "$15,350", "$2,300", "42.9%", "2,875.00"} <= one
    assert {"400_4", "500_5", "≥ $4,000", "$1,000–$1,999", "$12,000"} <= one

    comparison = compare_runs([a, b])
    both = cells(shown(lambda out: print_comparison(comparison, out), width))
    prices = {money(price) for _, _, price, _ in TASKS + OTHER}
    ids = {task_id for task_id, *_ in TASKS + OTHER}
    assert ids <= both and prices <= both, sorted(both)
    keys = [key for key, _ in comparison_rows(comparison) if key not in TEXT_FIELDS]
    figures = {figure_cell(key, r) for key in keys for r in comparison.runs}
    assert figures <= both, sorted(figures - both)

    board = cells(shown(lambda out: print_leaderboard(leaderboard(a.parent), out), width))
    assert {"$2,300", "$15,350", "42.9%", "$0.8000", "complete"} <= board


def test_a_run_id_folds_but_is_all_there(runs) -> None:
    a, _ = runs
    lines = shown(lambda out: print_leaderboard(leaderboard(a.parent), out), 60)
    column = "".join(line.split("│")[2].strip() for line in lines if line.count("│") > 3)
    assert LONG_RUN in column


def test_json_and_table_agree_on_a_group_with_no_graded_task(tmp_path: Path, capsys) -> None:
    """The $2,000–$3,999 bucket holds only errors and the run has no manager task: the table
    shows "—" for their pass@1, and the JSON says null (not 0.0, which would read as 0%)."""
    ic_only = [t for t in TASKS if t[1] == "ic_swe"]
    run = make_run(tmp_path, "ic-only", tasks=ic_only)
    code, out, _ = run_cli("report", str(run), "-f", "json", capsys=capsys)
    assert code == 0
    data = json.loads(out)
    empty = data["by_price_bucket"]["$2,000–$3,999"]
    assert empty["tasks"] == 0 and empty["pass_at_1"] is None and empty["pass_at_k"] is None
    manager = data["by_variant"].get("swe_manager")
    assert manager is None or manager["pass_at_1"] is None
    lines = shown(lambda out: print_run(compute(run), out), 120)
    bucket = next(line for line in lines if "$2,000–$3,999" in line)
    assert [c.strip() for c in bucket.split("│")][3] == "—"


@pytest.mark.parametrize("how", ["html in the run directory", "md under a file"])
def test_a_report_that_cannot_be_written_is_one_paragraph(tmp_path: Path, capsys, how) -> None:
    run = make_run(tmp_path, "r")
    if how.startswith("html"):
        (run / "report_files").write_text("a file where the pages' folder goes")
        args = ("report", str(run), "-f", "html")
    else:
        (tmp_path / "notes").write_text("a file, not a folder")
        args = ("report", str(run), "-f", "md", "-o", str(tmp_path / "notes" / "r.md"))
    code, _, err = run_cli(*args, capsys=capsys)
    said = " ".join(err.split())
    assert code != 0 and "Traceback" not in err and "could not write" in said, err
    assert "--output/-o FILE" in said and len([p for p in err.split("\n\n") if p.strip()]) == 1
