"""What every renderer shows of paired comparisons: the table of runs against their baseline,
the tasks that drive each difference, and the verdicts, as plain cells. The table, Markdown and
HTML renderers draw these with their own markup."""

from __future__ import annotations

from swelancer.format import money, percent
from swelancer.report.layout import ci_label
from swelancer.report.paired import Paired, PairedFigure

Table = tuple[list[str], str, list[list[str]]]
"""(head, alignment (one letter per column, l or r), rows) of a table."""


def paired_title(found: list[Paired]) -> str:
    return f"Paired against {found[0].baseline} (on the tasks both graded)"


def _signed_money(value: float) -> str:
    return ("+" if round(value, 2) > 0 else "") + money(value)


def _span(figure: PairedFigure, show: str) -> str:
    interval = figure.interval
    if interval is None:
        return "—"
    if show == "usd":
        return f"{_signed_money(interval.low)} to {_signed_money(interval.high)}"
    return f"{interval.low:+.1%} to {interval.high:+.1%}"


def _p(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def paired_table(found: list[Paired], level: float) -> Table:
    """One row per run against the baseline: the differences with their paired intervals, the
    tasks it did better and worse on, both tests, and whether the difference is beyond noise."""
    ci = ci_label(level)
    head = [
        "run",
        "common tasks",
        "Δ pass@1",
        ci,
        "Δ earned",
        ci,
        "better / worse",
        "sign test p",
        "bootstrap p",
        "beyond noise",
    ]
    rows = [
        [
            p.run,
            str(p.tasks),
            f"{p.pass_at_1.difference:+.1%}",
            _span(p.pass_at_1, "rate"),
            _signed_money(p.earned_usd.difference),
            _span(p.earned_usd, "usd"),
            f"{p.better} / {p.worse}",
            _p(p.sign_test_p),
            _p(p.earned_usd.bootstrap_p),
            "yes" if p.pass_at_1.beyond_noise or p.earned_usd.beyond_noise else "no",
        ]
        for p in found
    ]
    return head, "lrrrrrrrrl", rows


def drivers_title(p: Paired) -> str:
    return f"Tasks that drive {p.run} vs {p.baseline} most"


def drivers_table(p: Paired) -> Table:
    """The common tasks that moved the dollars most, largest first."""
    head = ["task", "price", p.baseline, p.run, "Δ earned"]
    rows = [
        [
            d.task_id,
            money(d.price_usd),
            percent(d.baseline_pass_at_1),
            percent(d.pass_at_1),
            _signed_money(d.earned_difference_usd),
        ]
        for d in p.drivers
    ]
    return head, "lrrrr", rows


def paired_lines(found: list[Paired]) -> list[str]:
    """Each verdict, then what a reader must know of it (tasks left out, prompts that differ)."""
    out = []
    for p in found:
        out += [p.verdict, *p.notes]
    return out
