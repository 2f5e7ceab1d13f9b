"""One dispatch from a report and a format to its text: table, json, md or html.

A report is a `RunReport` (one run), a `Comparison` (several) or a `Leaderboard` (a results
directory). JSON is the model itself, with nothing in it that a terminal acts on
(`textsafe.json_text`); `Model.model_validate_json` reads it back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, get_args

from swelancer.report.compare import Comparison, Leaderboard
from swelancer.report.models import RunReport
from swelancer.textsafe import json_text

Format = Literal["table", "json", "md", "html"]
FORMATS: tuple[str, ...] = get_args(Format)
Report = RunReport | Comparison | Leaderboard


def render_json(data: Report) -> str:
    """The report as indented JSON: the same value as `data.model_dump_json()`."""
    return json_text(data.model_dump(mode="json"), indent=2) + "\n"


def _renderers(fmt: str) -> tuple[Callable[..., str], ...]:
    """(run, comparison, leaderboard) renderers of a text format; imported when used."""
    if fmt == "md":
        from swelancer.report import markdown

        return markdown.render_run, markdown.render_comparison, markdown.render_leaderboard
    if fmt == "html":
        from swelancer.report import html

        return html.render_run, html.render_comparison, html.render_leaderboard
    from swelancer.report import table

    def text(show: Callable[..., None]) -> Callable[[Any], str]:
        return lambda data: table.table_text(show, data)

    return (
        text(table.print_run),
        text(table.print_comparison),
        text(table.print_leaderboard),
    )


def render(data: Report, fmt: str) -> str:
    """The report as the text of a file in `fmt` (a table as plain text; html: the main page,
    whose transcript pages `html.write_run_html` writes)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if fmt == "json":
        return render_json(data)
    run, comparison, leaderboard = _renderers(fmt)
    if isinstance(data, RunReport):
        return run(data)
    if isinstance(data, Comparison):
        return comparison(data)
    return leaderboard(data)


def show(data: Report, out: Any = None) -> None:
    """The report as rich tables on a console (the terminal by default)."""
    from swelancer.report import table

    if isinstance(data, RunReport):
        table.print_run(data, out)
    elif isinstance(data, Comparison):
        table.print_comparison(data, out)
    else:
        table.print_leaderboard(data, out)
