"""Paired comparisons as HTML: the runs against their baseline, the tasks that drive each
difference and the verdicts (cells from `paired_layout`, every text escaped)."""

from __future__ import annotations

from swelancer.report.page import e
from swelancer.report.paired import Paired
from swelancer.report.paired_layout import (
    drivers_table,
    drivers_title,
    paired_lines,
    paired_table,
    paired_title,
)


def _cells(cls: str, table: tuple[list[str], str, list[list[str]]]) -> str:
    head, align, body = table
    side = {"r": ' class="n"', "l": ""}
    heads = "".join(f"<th{side[a]}>{e(h)}</th>" for h, a in zip(head, align, strict=True))
    rows = [
        "<tr>"
        + "".join(f"<td{side[a]}>{e(c)}</td>" for c, a in zip(r, align, strict=True))
        + "</tr>"
        for r in body
    ]
    return (
        f'<table class="{cls}"><thead><tr>{heads}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def paired_html(found: list[Paired], level: float, drivers: bool) -> list[str]:
    """Runs against their baseline, the tasks that drive each difference, the verdicts."""
    if not found:
        return []
    parts = [f"<h2>{e(paired_title(found))}</h2>", _cells("paired", paired_table(found, level))]
    for p in found if drivers else []:
        if p.drivers:
            parts += [f"<h3>{e(drivers_title(p))}</h3>", _cells("drivers", drivers_table(p))]
    return parts + [f'<p class="verdict">{e(line)}</p>' for line in paired_lines(found)]
