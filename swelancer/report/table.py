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
from swelancer.textsafe import rich_text

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from swelancer.report.compare import Comparison, Leaderboard, RunSummary, TaskOutcomes
    from swelancer.report.models import RunReport


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


def _listing(title: str, heads: tuple[str, ...], body: list[tuple[Any, ...]]) -> Table:
    from rich.table import Table

    table = Table(title=title)
    for name in heads:
        table.add_column(name, overflow="fold")
    for values in body:
        table.add_row(*(rich_text(v) for v in values))
    return table


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
    out.print(table)
    out.print(headline(report), style="bold", markup=False)
    buckets = bucket_rows(report)
    if buckets:
        by_price = Table(title="by price")
        by_price.add_column("price")
        for _, label in BUCKET_COLUMNS:
            by_price.add_column(label, justify="right")
        for label, f in buckets:
            by_price.add_row(label, *(figure_cell(k, f) for k, _ in BUCKET_COLUMNS))
        out.print(by_price)
    if report.errored:
        body = [(e.task_id, e.attempt, e.kind, e.message) for e in report.errored]
        heads = ("task", "attempt", "kind", "reason")
        out.print(_listing("errored attempts (not counted)", heads, body))
    if report.tampered_attempts:
        body = [(t.task_id, t.attempt, t.tampering) for t in report.tampered_attempts]
        heads = ("task", "attempt", "what showed it")
        out.print(_listing("tampered attempts (scored as failures)", heads, body))
    for note in notes(report):
        out.print(rich_text(note))


# -- several runs -------------------------------------------------------------------------


def _task_table(title: str, runs: list[RunSummary], entries: list[TaskOutcomes]) -> Table:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("task")
    table.add_column("price", justify="right")
    for r in runs:
        table.add_column(rich_text(r.run_id), overflow="fold")
    for d in entries:
        table.add_row(rich_text(d.task_id), money(d.price_usd), *map(status_text, d.runs))
    return table


def print_comparison(comparison: Comparison, out: Console | None = None) -> None:
    """Runs side by side on `out`, then the tasks where they differ."""
    from rich.table import Table

    out = out or console()
    runs = comparison.runs
    table = Table(title=f"{len(runs)} runs compared")
    table.add_column("")
    for r in runs:
        table.add_column(rich_text(r.run_id), justify="right", overflow="fold")
    for key, label in comparison_rows(comparison):
        table.add_row(label, *(rich_text(figure_cell(key, r)) for r in runs))
    out.print(table)
    diffs = comparison.differences
    if diffs:
        title = f"tasks where they differ ({len(diffs)} of {comparison.tasks_in_common})"
        out.print(_task_table(title, runs, diffs))
    else:
        out.print(SAME)
    if comparison.only_in_some:
        title = f"tasks in only some runs ({len(comparison.only_in_some)})"
        out.print(_task_table(title, runs, comparison.only_in_some))
    for note in comparison.notes:
        out.print(rich_text(note))


def print_leaderboard(board: Leaderboard, out: Console | None = None) -> None:
    """The runs of a results directory on `out`, by dollars earned."""
    from rich.table import Table

    out = out or console()
    table = Table(title=rich_text(f"leaderboard: {board.results_dir} (by dollars earned)"))
    fields = leaderboard_columns(board.runs)
    for key, label in fields:
        left = key in TEXT_FIELDS
        table.add_column(label, justify="left" if left else "right", overflow="fold")
    for r in board.runs:
        table.add_row(*(rich_text(figure_cell(k, r)) for k, _ in fields))
    out.print(table)
    for note in board.notes:
        out.print(rich_text(note))
