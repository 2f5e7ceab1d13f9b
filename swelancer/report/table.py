"""Reports as rich tables, for a terminal (or, as plain text, for a file).

Text from a run is drawn as cleaned rich `Text` (`textsafe.rich_text`): no escape sequence and
no markup gets through, and the console reads no markup or emoji codes in anything printed.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from swelancer.format import money
from swelancer.report.layout import (
    BUCKET_COLUMNS,
    SAME,
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
from swelancer.textsafe import rich_text

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from swelancer.report.compare import Comparison, Leaderboard, RunSummary, TaskOutcomes
    from swelancer.report.models import RunReport
    from swelancer.report.paired import Paired


def console(file: Any = None, *, width: int | None = None) -> Console:
    """A rich console that reads no markup or emoji codes in what it prints (text from a run may
    hold any); wide when the output is not a terminal so that tables are not squeezed."""
    from rich.console import Console

    options: dict[str, Any] = {"highlight": False, "markup": False, "emoji": False}
    made = Console(file=file, width=width, **options)
    if width is None and not made.is_terminal:
        made = Console(file=file, width=160, **options)
    return made


def table_text(show: Callable[[Any, Console], None], data: Any) -> str:
    """What a table printer prints, as plain text (for --output)."""
    buffer = io.StringIO()
    show(data, console(buffer, width=120))
    return buffer.getvalue()


FLEX_MIN = 8
"""The narrowest a column that may fold (a run id, a model, a reason) is drawn."""


def _show(out: Console, table: Table, firm: set[int]) -> None:
    """Print `table` with its `firm` columns (task ids, variants, prices, figures) whole on one
    line at any width: the other columns fold to make room (down to their own `min_width`, or
    FLEX_MIN), and when even that is not enough the table is drawn wider than the terminal
    (which wraps it) rather than cut."""
    from rich.cells import cell_len

    needed = 1  # the left edge; each column adds its padding and its right edge
    for index, column in enumerate(table.columns):
        if index in firm:
            cells = [str(column.header), *map(str, column._cells)]
            column.min_width = max(cell_len(c) for c in cells)
            column.no_wrap = True
        else:
            column.overflow, column.min_width = "fold", max(FLEX_MIN, column.min_width or 0)
        needed += column.min_width + 3
    if needed > out.width:
        out = console(out.file, width=needed)
    _cap_flexible(out, table, firm, out.width - needed)
    out.print(table)


def _cap_flexible(out: Console, table: Table, firm: set[int], room: int) -> None:
    """When the table is wider than `out`, cap each folding column at its `min_width` plus an
    equal share of the `room` left beyond every column's minimum: rich's own narrowing can
    widen one folding column at the cost of another's minimum, and cut the last."""
    from rich.measure import Measurement

    if Measurement.get(out, out.options.update_width(10**6), table).maximum <= out.width:
        return
    flexible = [c for i, c in enumerate(table.columns) if i not in firm]
    for column in flexible:
        column.max_width = (column.min_width or 0) + room // len(flexible)


def _listing(title: str, heads: tuple[str, ...], body: list[tuple[Any, ...]], out: Console) -> None:
    from rich.table import Table

    table = Table(title=title)
    for name in heads:
        table.add_column(name)
    for values in body:
        table.add_row(*(rich_text(v) for v in values))
    _show(out, table, set(range(len(heads) - 1)))  # all but the reason


def _cells(title: str, table: tuple[list[str], str, list[list[str]]], out: Console) -> None:
    """A table of plain cells (`paired_layout`), every column whole."""
    from rich.table import Table

    head, align, body = table
    drawn = Table(title=rich_text(title))
    for name, side in zip(head, align, strict=True):
        drawn.add_column(rich_text(name), justify="right" if side == "r" else "left")
    for values in body:
        drawn.add_row(*(rich_text(v) for v in values))
    _show(out, drawn, set(range(len(head))))


def _paired(found: list[Paired], level: float, out: Console, drivers: bool) -> None:
    """Runs against their baseline, the tasks that drive each difference, the verdicts."""
    if not found:
        return
    _cells(paired_title(found), paired_table(found, level), out)
    for p in found if drivers else []:
        if p.drivers:
            _cells(drivers_title(p), drivers_table(p), out)
    for line in paired_lines(found):
        out.print(rich_text(line))


# -- one run ------------------------------------------------------------------------------


def print_run(report: RunReport, out: Console | None = None) -> None:
    """The report of one run on `out` (the terminal by default)."""
    from rich.table import Table

    out = out or console()
    table = Table(title=rich_text(f"{report.run_id} — {model_name(report)}"))
    table.add_column("")
    cols = columns(report)
    for _, title, _ in cols:
        table.add_column(title, justify="right")
    for key, label in rows(report):
        table.add_row(label, *(figure_cell(key, f) for _, _, f in cols))
    _show(out, table, set(range(1, len(cols) + 1)))
    out.print(headline(report), style="bold", markup=False)
    buckets = bucket_rows(report)
    if buckets:
        by_price = Table(title="by price")
        by_price.add_column("price")
        for _, label in BUCKET_COLUMNS:
            by_price.add_column(label, justify="right")
        for label, f in buckets:
            by_price.add_row(label, *(figure_cell(k, f) for k, _ in BUCKET_COLUMNS))
        _show(out, by_price, set(range(len(BUCKET_COLUMNS) + 1)))
    if report.errored:
        body: list[tuple[Any, ...]] = [
            (e.task_id, e.attempt, e.kind, e.message) for e in report.errored
        ]
        heads: tuple[str, ...] = ("task", "attempt", "kind", "reason")
        _listing("errored attempts (not counted)", heads, body, out)
    if report.tampered_attempts:
        body = [(t.task_id, t.attempt, t.tampering) for t in report.tampered_attempts]
        heads = ("task", "attempt", "what showed it")
        _listing("tampered attempts (scored as failures)", heads, body, out)
    _monitor(report, out)
    for note in notes(report):
        out.print(rich_text(note))


def _monitor(report: RunReport, out: Console) -> None:
    """The monitor's totals, flagged attempts and the figures with flagged passes excluded."""
    from swelancer.report import flags

    line = flags.totals(report)
    if line is None:
        return
    out.print(rich_text(line))
    if report.monitor and report.monitor.attempts:
        _listing(flags.FLAGGED_TITLE.lower(), flags.FLAGGED_HEADS, flags.flagged_rows(report), out)
    if report.excluding_flagged:
        _listing("flagged passes excluded", flags.EXCLUDED_HEADS, flags.excluded_rows(report), out)


# -- several runs -------------------------------------------------------------------------


def _task_table(
    title: str, runs: list[RunSummary], entries: list[TaskOutcomes], out: Console
) -> None:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("task")
    table.add_column("price", justify="right")
    for r in runs:
        table.add_column(rich_text(r.run_id))
    for d in entries:
        table.add_row(rich_text(d.task_id), money(d.price_usd), *map(status_text, d.runs))
    _show(out, table, {0, 1})


def print_comparison(comparison: Comparison, out: Console | None = None) -> None:
    """Runs side by side on `out`, then the tasks where they differ."""
    from rich.cells import cell_len
    from rich.table import Table

    out = out or console()
    runs = comparison.runs
    table = Table(title=f"{len(runs)} runs compared")
    table.add_column("")
    figures = [key for key, _ in comparison_rows(comparison) if key not in TEXT_FIELDS]
    for r in runs:  # a run id (and a model) may fold; its figures stay whole
        whole = max((cell_len(figure_cell(key, r)) for key in figures), default=0)
        table.add_column(rich_text(r.run_id), justify="right", min_width=whole)
    for key, label in comparison_rows(comparison):
        table.add_row(label, *(rich_text(figure_cell(key, r)) for r in runs))
    _show(out, table, set())
    diffs = comparison.differences
    if diffs:
        title = f"tasks where they differ ({len(diffs)} of {comparison.tasks_in_common})"
        _task_table(title, runs, diffs, out)
    else:
        out.print(SAME)
    if comparison.only_in_some:
        title = f"tasks in only some runs ({len(comparison.only_in_some)})"
        _task_table(title, runs, comparison.only_in_some, out)
    _paired(comparison.paired, comparison.statistics.level, out, drivers=True)
    for note in comparison.notes:
        out.print(rich_text(note))


def print_leaderboard(board: Leaderboard, out: Console | None = None) -> None:
    """The runs of a results directory on `out`, by dollars earned."""
    from rich.table import Table

    out = out or console()
    table = Table(title=rich_text(f"leaderboard: {board.results_dir} (by dollars earned)"))
    fields = leaderboard_columns(board.runs, board.statistics.level)
    for key, label in fields:
        table.add_column(label, justify="left" if key in TEXT_FIELDS else "right")
    for r in board.runs:
        table.add_row(*(rich_text(figure_cell(k, r)) for k, _ in fields))
    firm = {i for i, (key, _) in enumerate(fields) if key not in TEXT_FIELDS or key == "status"}
    _show(out, table, firm)
    _paired(board.paired, board.statistics.level, out, drivers=False)
    for note in board.notes:
        out.print(rich_text(note))
