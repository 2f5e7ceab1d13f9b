"""The charts of the HTML report, drawn here as inline SVG (nothing is loaded to draw them).

Every bar and line carries the value it draws (`data-value`), so that a test can read it back.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from swelancer.format import money, percent, short_money
from swelancer.report.layout import columns, figure_cell, share
from swelancer.report.page import e
from swelancer.tasks.models import PRICE_BUCKETS

if TYPE_CHECKING:
    from swelancer.report.compare import RunSummary
    from swelancer.report.models import RunReport


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above `value` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power: float = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value - 1e-9:
            return step * power
    return 10 * power


def short_bucket(low: float, high: float) -> str:
    """A price bucket's label short enough for an axis: `< $250`, `$1k–$2k`, `≥ $4k`."""
    if low <= 0:
        return f"< {short_money(high)}"
    if math.isinf(high):
        return f"≥ {short_money(low)}"
    return f"{short_money(low)}–{short_money(high)}"


def tasks_text(count: int) -> str:
    return f"{count} task" if count == 1 else f"{count} tasks"


def _f(x: float) -> str:
    return f"{x:.1f}"


def _legend() -> str:
    return (
        '<div class="legend"><span><i style="background:var(--earned)"></i>earned</span>'
        '<span><i style="background:var(--available)"></i>available</span></div>'
    )


def _y_grid(left: float, right_x: float, top: float, plot_h: float, top_value: float) -> str:
    """Five horizontal grid lines of a chart, labelled with dollars."""
    parts = []
    for step in range(5):
        value = top_value * step / 4
        y = top + plot_h - plot_h * step / 4
        parts.append(
            f'<line class="grid" x1="{left}" x2="{right_x}" y1="{_f(y)}" y2="{_f(y)}"/>'
            f'<text class="muted" x="{left - 6}" y="{_f(y + 4)}" text-anchor="end">'
            f"{e(short_money(value))}</text>"
        )
    return "".join(parts)


def bars_by_variant(report: RunReport) -> str:
    """Horizontal bars: earned over available, for each variant and the total."""
    cols = columns(report)
    width, left, right, row_h = 560, 96, 196, 72
    top = 8
    height = top + row_h * len(cols) + 4
    top_value = max((f.available_usd for _, _, f in cols), default=0) or 1
    span = width - left - right
    out = [
        f'<svg class="chart-variant" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="dollars earned and available by variant">'
    ]
    for i, (key, title, f) in enumerate(cols):
        y = top + i * row_h + (row_h - 36) / 2
        avail_w = span * f.available_usd / top_value
        earned_w = span * f.earned_usd / top_value
        label = f"{money(f.earned_usd)} of {money(f.available_usd)}"
        weight = ' font-weight="600"' if key == "total" else ""
        out += [
            f'<text x="{left - 8}" y="{y + 17}" text-anchor="end"{weight}>{e(title)}</text>',
            f'<rect class="bar available" data-group="{e(key)}" '
            f'data-value="{f.available_usd}" x="{left}" y="{y + 4}" '
            f'width="{_f(max(avail_w, 0.5))}" height="20" rx="3">'
            f"<title>{e(title)}: {e(money(f.available_usd))} available</title></rect>",
            f'<rect class="bar earned" data-group="{e(key)}" data-value="{f.earned_usd}" '
            f'x="{left}" y="{y + 4}" width="{_f(earned_w)}" height="20" rx="3">'
            f"<title>{e(title)}: {e(money(f.earned_usd))} earned</title></rect>",
            f'<text x="{_f(left + avail_w + 6)}" y="{y + 14}">{e(label)}</text>',
            f'<text class="muted" x="{_f(left + avail_w + 6)}" y="{y + 28}">'
            f"{e(percent(share(f)))} of the dollars · {e(tasks_text(f.tasks))}</text>",
        ]
    out.append("</svg>")
    return "".join(out) + _legend()


def bars_by_price(report: RunReport) -> str:
    """Vertical bars, one pair per price bucket: available behind, earned in front."""
    buckets = [
        (label, short_bucket(low, high), report.by_price_bucket[label])
        for label, low, high in PRICE_BUCKETS
        if label in report.by_price_bucket
    ]
    width, height, left, bottom, top = 560, 250, 56, 46, 14
    plot_h = height - top - bottom
    slot = (width - left - 10) / max(len(buckets), 1)
    top_value = nice_ceiling(max((f.available_usd for _, _, f in buckets), default=0))
    out = [
        f'<svg class="chart-price" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="dollars earned and available by price bucket">'
    ]
    out.append(_y_grid(left, width - 6, top, plot_h, top_value))
    for i, (label, short, f) in enumerate(buckets):
        x = left + i * slot + slot * 0.18
        bar_w = slot * 0.64
        avail_h = plot_h * f.available_usd / top_value
        earned_h = plot_h * f.earned_usd / top_value
        base = top + plot_h
        tip = (
            f"{label}: earned {money(f.earned_usd)} of {money(f.available_usd)}, "
            f"{tasks_text(f.tasks)}, pass@1 {figure_cell('pass_at_1', f)}"
        )
        out += [
            f'<rect class="bar available" data-group="{e(label)}" '
            f'data-value="{f.available_usd}" x="{_f(x)}" y="{_f(base - avail_h)}" '
            f'width="{_f(bar_w)}" height="{_f(avail_h)}"><title>{e(tip)}</title></rect>',
            f'<rect class="bar earned" data-group="{e(label)}" data-value="{f.earned_usd}" '
            f'x="{_f(x + bar_w * 0.2)}" y="{_f(base - earned_h)}" width="{_f(bar_w * 0.6)}" '
            f'height="{_f(earned_h)}"><title>{e(tip)}</title></rect>',
            f'<text x="{_f(x + bar_w / 2)}" y="{base + 16}" text-anchor="middle">{e(short)}</text>',
            f'<text class="muted" x="{_f(x + bar_w / 2)}" y="{base + 31}" '
            f'text-anchor="middle">{e(tasks_text(f.tasks))}</text>',
        ]
    out.append(
        f'<line class="axis" x1="{left}" x2="{width - 6}" y1="{top + plot_h}" '
        f'y2="{top + plot_h}"/></svg>'
    )
    return "".join(out) + _legend()


def cumulative_points(report: RunReport) -> list[tuple[str, float, float, float]]:
    """(task, price, cumulative earned, cumulative available) over the graded tasks, cheapest
    first (the order of the cumulative chart)."""
    graded = [t for t in report.per_task if t.pass_at_1 is not None]
    graded.sort(key=lambda t: (t.price_usd, t.task_id))
    points = []
    earned = available = 0.0
    for t in graded:
        earned += t.earned_usd
        available += t.price_usd
        points.append((t.task_id, t.price_usd, earned, available))
    return points


def cumulative_chart(report: RunReport) -> str:
    """Cumulative dollars over the graded tasks sorted by price: earned and available."""
    points = cumulative_points(report)
    width, height, left, bottom, top, right = 1100, 280, 64, 40, 14, 16
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(points), 1)
    top_value = nice_ceiling(points[-1][3] if points else 0)

    def xy(i: float, value: float) -> str:
        return f"{_f(left + plot_w * i / n)},{_f(top + plot_h - plot_h * value / top_value)}"

    out = [
        f'<svg class="chart-cumulative" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="cumulative dollars over tasks sorted by price">'
    ]
    out.append(_y_grid(left, width - right, top, plot_h, top_value))
    ticks = sorted({0, *(round(len(points) * q / 5) for q in range(1, 6))} - {0})
    for i in ticks:
        if not points:
            break
        price = points[i - 1][1]
        x = left + plot_w * i / n
        anchor = "end" if i == len(points) else "middle"
        out.append(
            f'<text class="muted" x="{_f(x)}" y="{top + plot_h + 16}" text-anchor="{anchor}">'
            f"{i} · {e(short_money(price))}</text>"
        )
    out.append(
        f'<text class="muted" x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">'
        "graded tasks, cheapest first (count · price of the last task)</text>"
    )
    earned_path = "M" + " L".join([xy(0, 0), *(xy(i + 1, p[2]) for i, p in enumerate(points))])
    avail_path = "M" + " L".join([xy(0, 0), *(xy(i + 1, p[3]) for i, p in enumerate(points))])
    area = earned_path + f" L{xy(len(points), 0)} Z"
    final = points[-1] if points else ("", 0.0, 0.0, 0.0)
    out += [
        f'<path class="area" d="{area}"/>',
        f'<path class="cumulative available" d="{avail_path}" data-value="{final[3]:.2f}">'
        f"<title>available: {e(money(final[3]))}</title></path>",
        f'<path class="cumulative earned" d="{earned_path}" data-value="{final[2]:.2f}">'
        f"<title>earned: {e(money(final[2]))}</title></path>",
        f'<line class="axis" x1="{left}" x2="{width - right}" y1="{top + plot_h}" '
        f'y2="{top + plot_h}"/>',
        "</svg>",
    ]
    legend = (
        '<div class="legend"><span><i style="background:var(--earned)"></i>earned, '
        'cumulative</span><span><i style="background:#94a3b8"></i>available, cumulative'
        "</span></div>"
    )
    return "".join(out) + legend


def run_bars(runs: list[RunSummary]) -> str:
    """Horizontal bars, one per run: earned over available."""
    width, left, right, row_h, top = 900, 260, 190, 30, 6
    height = top + row_h * len(runs) + 4
    top_value = max((r.available_usd for r in runs), default=0) or 1
    span = width - left - right
    out = [
        f'<svg class="chart-runs" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="dollars earned by run">'
    ]
    for i, r in enumerate(runs):
        y = top + i * row_h
        avail_w = span * r.available_usd / top_value
        earned_w = span * r.earned_usd / top_value
        name = r.run_id if len(r.run_id) <= 38 else r.run_id[:37] + "…"
        drawn = f"{money(r.earned_usd)} of {money(r.available_usd)}"
        out += [
            f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{e(name)}</text>',
            f'<rect class="bar available" data-value="{r.available_usd}" x="{left}" '
            f'y="{y + 4}" width="{_f(max(avail_w, 0.5))}" height="18" rx="3"/>',
            f'<rect class="bar earned" data-value="{r.earned_usd}" x="{left}" y="{y + 4}" '
            f'width="{_f(earned_w)}" height="18" rx="3"><title>{e(r.run_id)}: '
            f"{e(drawn)}</title></rect>",
            f'<text x="{_f(left + avail_w + 6)}" y="{y + 17}">{e(drawn)}</text>',
        ]
    out.append("</svg>")
    return "".join(out) + _legend()
