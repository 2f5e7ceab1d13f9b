"""Reports as Markdown. Text from a run stays inside its table cell, heading or list item and
makes no HTML, link or image there (`textsafe.md_text`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swelancer.format import money
from swelancer.report import flags
from swelancer.report.layout import (
    BUCKET_COLUMNS,
    ERRORED_TITLE,
    SAME,
    TAMPERED_TITLE,
    TEXT_FIELDS,
    bucket_rows,
    columns,
    comparison_rows,
    figure_cell,
    headline,
    leaderboard_columns,
    model_name,
    notes,
    rows,
    status_text,
)
from swelancer.report.paired_layout import (
    drivers_table,
    drivers_title,
    paired_lines,
    paired_table,
    paired_title,
)
from swelancer.textsafe import md_text

if TYPE_CHECKING:
    from swelancer.report.compare import Comparison, Leaderboard, RunSummary, TaskOutcomes
    from swelancer.report.models import RunReport
    from swelancer.report.paired import Paired


def _table(head: list[str], align: str, body: list[list[Any]]) -> list[str]:
    """A Markdown table; `align` has one letter per column, l or r. Cells are used as given."""
    lines = [_row(head), "|" + "".join(_rule(a) for a in align)]
    return lines + [_row(row) for row in body]


def _row(cells: list[Any]) -> str:
    return "|" + "|".join(f" {c} " if c != "" else " " for c in cells) + "|"


def _rule(align: str) -> str:
    return "---:|" if align == "r" else "---|"


def _notes(found: list[str]) -> list[str]:
    return ["", "## Notes", "", *(f"- {md_text(n)}" for n in found)] if found else []


def _cells(table: tuple[list[str], str, list[list[str]]]) -> list[str]:
    head, align, body = table
    return _table([md_text(h) for h in head], align, [[md_text(c) for c in r] for r in body])


def _paired(found: list[Paired], level: float, drivers: bool) -> list[str]:
    """Runs against their baseline, the tasks that drive each difference, the verdicts."""
    if not found:
        return []
    lines = ["", f"## {md_text(paired_title(found))}", "", *_cells(paired_table(found, level))]
    for p in found if drivers else []:
        if p.drivers:
            lines += ["", f"### {md_text(drivers_title(p))}", "", *_cells(drivers_table(p))]
    return [*lines, "", *(f"- {md_text(line)}" for line in paired_lines(found))]


# -- one run ------------------------------------------------------------------------------


def render_run(report: RunReport) -> str:
    """The report of one run: the summary, by price, errored and tampered attempts, notes."""
    cols = columns(report)
    lines = [
        f"# {md_text(report.run_id)} — {md_text(model_name(report))}",
        "",
        f"**{headline(report)}**",
        "",
        *_table(
            ["", *(title for _, title, _ in cols)],
            "l" + "r" * len(cols),
            [[label, *(figure_cell(key, f) for _, _, f in cols)] for key, label in rows(report)],
        ),
    ]
    buckets = bucket_rows(report)
    if buckets:
        body: list[list[Any]] = [
            [label, *(figure_cell(k, f) for k, _ in BUCKET_COLUMNS)] for label, f in buckets
        ]
        head = ["price", *(label for _, label in BUCKET_COLUMNS)]
        lines += ["", "## By price", "", *_table(head, "l" + "r" * len(BUCKET_COLUMNS), body)]
    if report.errored:
        body = [
            [md_text(e.task_id), e.attempt, md_text(e.kind), md_text(e.message)]
            for e in report.errored
        ]
        head = ["task", "attempt", "kind", "reason"]
        lines += ["", f"## {ERRORED_TITLE}", "", *_table(head, "lrll", body)]
    if report.tampered_attempts:
        body = [
            [md_text(t.task_id), t.attempt, md_text(t.tampering)] for t in report.tampered_attempts
        ]
        head = ["task", "attempt", "what showed it"]
        lines += ["", f"## {TAMPERED_TITLE}", "", *_table(head, "lrl", body)]
    lines += _monitor(report)
    return "\n".join(lines + _notes(notes(report))) + "\n"


def _monitor(report: RunReport) -> list[str]:
    """The monitor's totals, flagged attempts and the figures with flagged passes excluded."""
    line = flags.totals(report)
    if line is None:
        return []
    out = ["", f"## {flags.FLAGGED_TITLE}", "", md_text(line)]
    rows = [[md_text(c) for c in row] for row in flags.flagged_rows(report)]
    if rows:
        out += ["", *_table(list(flags.FLAGGED_HEADS), "lrllrl", rows)]
    excluded = [[md_text(c) for c in row] for row in flags.excluded_rows(report)]
    if excluded:
        out += ["", *_table(list(flags.EXCLUDED_HEADS), "lrrrr", excluded)]
    return out


# -- several runs -------------------------------------------------------------------------


def _task_table(runs: list[RunSummary], entries: list[TaskOutcomes]) -> list[str]:
    head = ["task", "price", *(md_text(r.run_id) for r in runs)]
    body = [
        [md_text(d.task_id), money(d.price_usd), *(status_text(s) for s in d.runs)] for d in entries
    ]
    return _table(head, "lr" + "l" * len(runs), body)


def render_comparison(comparison: Comparison) -> str:
    """Runs side by side, the tasks where they differ and the tasks only some runs have."""
    runs = comparison.runs
    body = [
        [label, *(md_text(figure_cell(key, r)) for r in runs)]
        for key, label in comparison_rows(comparison)
    ]
    lines = [
        f"# {len(runs)} runs compared",
        "",
        *_table(["", *(md_text(r.run_id) for r in runs)], "l" + "r" * len(runs), body),
    ]
    diffs = comparison.differences
    lines += ["", f"## Tasks where they differ ({len(diffs)} of {comparison.tasks_in_common})"]
    lines += ["", *_task_table(runs, diffs)] if diffs else ["", SAME]
    if comparison.only_in_some:
        lines += ["", f"## Tasks in only some runs ({len(comparison.only_in_some)})", ""]
        lines += _task_table(runs, comparison.only_in_some)
    lines += _paired(comparison.paired, comparison.statistics.level, drivers=True)
    return "\n".join(lines + _notes(comparison.notes)) + "\n"


def render_leaderboard(board: Leaderboard) -> str:
    """The runs of a results directory, by dollars earned."""
    fields = leaderboard_columns(board.runs, board.statistics.level)
    body = [[md_text(figure_cell(k, r)) for k, _ in fields] for r in board.runs]
    align = "".join("l" if k in TEXT_FIELDS else "r" for k, _ in fields)
    lines = [
        f"# Leaderboard: {md_text(board.results_dir)}",
        "",
        *_table([label for _, label in fields], align, body),
        *_paired(board.paired, board.statistics.level, drivers=False),
    ]
    return "\n".join(lines + _notes(board.notes)) + "\n"
