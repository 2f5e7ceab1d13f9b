"""The HTML report: one self-contained file (inline CSS, SVG drawn here, a little inline JS) and
one page per attempt with its transcript, in `<stem>_files/<task>/<attempt>.html` beside it.

Nothing is fetched from the network. Every text that comes from a run (model output, commands,
logs, task ids) is escaped; a Content-Security-Policy admits only this module's own script.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from swelancer import __version__
from swelancer.report.metrics import (
    BUCKET_COLUMNS,
    api_money,
    bucket_rows,
    columns,
    figure_cell,
    headline,
    model_name,
    money,
    notes,
    percent,
    ratio,
    rows,
    variant_name,
)
from swelancer.report.view import Block, Part, attempt_blocks, fold, load_attempt
from swelancer.run.results import RunDir, utc_now, write_text_atomic
from swelancer.tasks.models import PRICE_BUCKETS

FULL_TEXT_LIMIT = 400_000
"""Characters of one output kept in a transcript page (the files on disk hold the rest)."""

CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bg:#f7f8fa; --card:#fff;
  --earned:#15803d; --available:#cbd5e1; --failed:#b91c1c; --error:#b45309; --accent:#1d4ed8; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--ink); background:var(--bg); }
main { max-width:1180px; margin:0 auto; padding:24px 28px 48px; }
h1 { font-size:22px; margin:0 0 4px; word-break:break-all; }
h2 { font-size:16px; margin:28px 0 10px; }
.sub { color:var(--muted); margin:0; }
.sub code { font-size:12px; }
.cards { display:flex; flex-wrap:wrap; gap:12px; margin:18px 0 6px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px;
  padding:12px 16px; min-width:150px; }
.card .v { font-size:22px; font-weight:650; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card.main .v { color:var(--earned); font-size:28px; }
table { border-collapse:collapse; background:var(--card); border:1px solid var(--line);
  border-radius:8px; overflow:hidden; }
th, td { padding:6px 12px; border-bottom:1px solid var(--line); text-align:left;
  vertical-align:top; }
th { background:#f0f2f5; font-weight:600; font-size:13px; }
td.n, th.n { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
tr:last-child td { border-bottom:none; }
.charts { display:grid; grid-template-columns:1fr 1fr; gap:16px; }
@media (max-width:800px) { .charts { grid-template-columns:1fr; } }
.chart { background:var(--card); border:1px solid var(--line); border-radius:8px;
  padding:12px 14px; }
.chart h3 { margin:0 0 6px; font-size:14px; }
.chart.wide { grid-column:1/-1; }
svg { display:block; width:100%; height:auto; font-family:inherit; }
svg text { fill:var(--ink); font-size:12px; }
svg .muted { fill:var(--muted); font-size:11px; }
svg .grid { stroke:var(--line); }
svg .axis { stroke:#9aa5b1; }
.bar.earned { fill:var(--earned); }
.bar.available { fill:var(--available); }
path.cumulative.earned { stroke:var(--earned); fill:none; stroke-width:2; }
path.cumulative.available { stroke:#94a3b8; fill:none; stroke-width:1.5; stroke-dasharray:4 3; }
path.area { fill:var(--earned); opacity:.12; }
.legend { display:flex; gap:14px; color:var(--muted); font-size:12px; margin-top:4px; }
.legend i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:4px;
  vertical-align:-1px; }
.notes li { margin:4px 0; }
.att { display:inline-block; min-width:22px; padding:0 6px; margin:1px 2px 1px 0;
  border-radius:10px; text-align:center; color:#fff; text-decoration:none; font-size:12px; }
.att.passed { background:var(--earned); } .att.failed { background:var(--failed); }
.att.error { background:var(--error); }
.status-passed { color:var(--earned); } .status-failed { color:var(--failed); }
.status-error { color:var(--error); } .status-mixed { color:var(--accent); }
.err { color:var(--error); max-width:380px; font-size:12px; word-break:break-word; }
.tools { display:flex; gap:10px; align-items:center; margin:0 0 8px; }
.tools input { padding:5px 8px; border:1px solid var(--line); border-radius:6px; width:260px; }
th[data-sort] { cursor:pointer; user-select:none; }
th[data-sort]::after { content:" ↕"; color:#9aa5b1; font-weight:400; }
footer { color:var(--muted); font-size:12px; margin-top:32px; }
.block { background:var(--card); border:1px solid var(--line); border-left:4px solid #9aa5b1;
  border-radius:6px; margin:10px 0; padding:8px 14px; }
.block h2 { font-size:14px; margin:2px 0; }
.block .meta { color:var(--muted); font-size:12px; }
.block .label { color:var(--muted); font-size:12px; margin-top:6px; font-style:italic; }
.block pre { margin:4px 0; padding:8px 10px; background:#f4f5f7; border-radius:4px;
  white-space:pre-wrap; word-break:break-word; font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;
  max-height:none; }
.block pre.text { background:none; padding:0; font:14px/1.5 system-ui,sans-serif; }
.block pre.code { background:#fdf6e3; }
.block .fold { background:#e0e7ff; color:#3730a3; border-radius:3px; padding:0 6px; }
.foldbox:has(details[open]) > pre.folded { display:none; }
.block details summary { cursor:pointer; color:var(--accent); font-size:12px; }
.kind-prompt { border-left-color:#64748b; } .kind-model { border-left-color:var(--accent); }
.kind-command { border-left-color:#d97706; } .kind-user_tool { border-left-color:#7c3aed; }
.tone-good { border-left-color:var(--earned); } .tone-bad { border-left-color:var(--failed); }
.tone-warn { border-left-color:var(--error); }
.tone-good h2 { color:var(--earned); } .tone-bad h2 { color:var(--failed); }
.tone-warn h2 { color:var(--error); }
nav.top { margin-bottom:12px; font-size:13px; }
nav.top a { color:var(--accent); margin-right:12px; }
"""

SCRIPT = """
(function () {
  var table = document.getElementById('tasks');
  if (!table) return;
  var body = table.tBodies[0];
  var filter = document.getElementById('filter');
  var count = document.getElementById('shown');
  function update() {
    var q = filter.value.toLowerCase(), n = 0;
    for (var i = 0; i < body.rows.length; i++) {
      var row = body.rows[i];
      var hit = row.textContent.toLowerCase().indexOf(q) >= 0;
      row.style.display = hit ? '' : 'none';
      if (hit) n++;
    }
    count.textContent = n + ' of ' + body.rows.length + ' tasks';
  }
  filter.addEventListener('input', update);
  var heads = table.tHead.rows[0].cells;
  for (var c = 0; c < heads.length; c++) {
    (function (col) {
      var th = heads[col];
      if (!th.dataset.sort) return;
      th.addEventListener('click', function () {
        var numeric = th.dataset.sort === 'n';
        var dir = th.dataset.dir === 'asc' ? -1 : 1;
        th.dataset.dir = dir === 1 ? 'asc' : 'desc';
        var list = Array.prototype.slice.call(body.rows);
        list.sort(function (a, b) {
          var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
          if (numeric) { x = parseFloat(x); y = parseFloat(y);
            x = isNaN(x) ? -1 : x; y = isNaN(y) ? -1 : y; }
          return x < y ? -dir : x > y ? dir : 0;
        });
        list.forEach(function (row) { body.appendChild(row); });
      });
    })(c);
  }
  update();
  document.documentElement.dataset.ready = 'yes';
})();
"""


def e(value: Any) -> str:
    """Escaped text for HTML content and attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


def _csp(script: str | None) -> str:
    scripts = "'none'"
    if script is not None:
        digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
        scripts = f"'sha256-{digest}'"
    return (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src {scripts}; "
        "base-uri 'none'; form-action 'none'"
    )


def page(title: str, body: str, *, script: str | None = None) -> str:
    """A whole HTML document: inline style, and `script` admitted by its hash only."""
    tail = f"<script>{script}</script>" if script is not None else ""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{e(_csp(script))}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{e(title)}</title><style>{CSS}</style></head>\n"
        f"<body><main>\n{body}\n</main>{tail}</body></html>\n"
    )


# -- charts -------------------------------------------------------------------------------


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above `value` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value - 1e-9:
            return step * power
    return 10 * power


def short_money(value: float) -> str:
    if value >= 1_000_000:
        return f"${value / 1_000_000:g}M"
    if value >= 1_000:
        return f"${value / 1_000:g}k"
    return f"${value:g}"


def _f(x: float) -> str:
    return f"{x:.1f}"


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


def bars_by_variant(report: dict[str, Any]) -> str:
    """Horizontal bars: earned over available, for each variant and the total."""
    cols = columns(report)
    width, left, right, row_h = 560, 96, 196, 72
    top = 8
    height = top + row_h * len(cols) + 4
    top_value = max((f["available_usd"] for _, _, f in cols), default=0) or 1
    span = width - left - right
    out = [
        f'<svg class="chart-variant" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="dollars earned and available by variant">'
    ]
    for i, (key, title, f) in enumerate(cols):
        y = top + i * row_h + (row_h - 36) / 2
        avail_w = span * f["available_usd"] / top_value
        earned_w = span * f["earned_usd"] / top_value
        share = f["earned_usd"] / f["available_usd"] if f["available_usd"] else None
        label = f"{money(f['earned_usd'])} of {money(f['available_usd'])}"
        weight = ' font-weight="600"' if key == "total" else ""
        out += [
            f'<text x="{left - 8}" y="{y + 17}" text-anchor="end"{weight}>{e(title)}</text>',
            f'<rect class="bar available" data-group="{e(key)}" '
            f'data-value="{f["available_usd"]}" x="{left}" y="{y + 4}" '
            f'width="{_f(max(avail_w, 0.5))}" height="20" rx="3">'
            f"<title>{e(title)}: {e(money(f['available_usd']))} available</title></rect>",
            f'<rect class="bar earned" data-group="{e(key)}" data-value="{f["earned_usd"]}" '
            f'x="{left}" y="{y + 4}" width="{_f(earned_w)}" height="20" rx="3">'
            f"<title>{e(title)}: {e(money(f['earned_usd']))} earned</title></rect>",
            f'<text x="{_f(left + avail_w + 6)}" y="{y + 14}">{e(label)}</text>',
            f'<text class="muted" x="{_f(left + avail_w + 6)}" y="{y + 28}">'
            f"{e(percent(share))} of the dollars · {e(tasks_text(f['tasks']))}</text>",
        ]
    out.append("</svg>")
    return "".join(out) + _legend()


def tasks_text(count: int) -> str:
    return f"{count} task" if count == 1 else f"{count} tasks"


def _legend() -> str:
    return (
        '<div class="legend"><span><i style="background:var(--earned)"></i>earned</span>'
        '<span><i style="background:var(--available)"></i>available</span></div>'
    )


def short_bucket(low: float, high: float) -> str:
    """A price bucket's label short enough for an axis: `< $250`, `$1k–$2k`, `≥ $4k`."""
    if low <= 0:
        return f"< {short_money(high)}"
    if math.isinf(high):
        return f"≥ {short_money(low)}"
    return f"{short_money(low)}–{short_money(high)}"


def bars_by_price(report: dict[str, Any]) -> str:
    """Vertical bars, one pair per price bucket: available behind, earned in front."""
    buckets = [
        (label, short_bucket(low, high), report["by_price_bucket"][label])
        for label, low, high in PRICE_BUCKETS
    ]
    width, height, left, bottom, top = 560, 250, 56, 46, 14
    plot_h = height - top - bottom
    slot = (width - left - 10) / len(buckets)
    top_value = nice_ceiling(max((f["available_usd"] for _, _, f in buckets), default=0))
    out = [
        f'<svg class="chart-price" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="dollars earned and available by price bucket">'
    ]
    out.append(_y_grid(left, width - 6, top, plot_h, top_value))
    for i, (label, short, f) in enumerate(buckets):
        x = left + i * slot + slot * 0.18
        bar_w = slot * 0.64
        avail_h = plot_h * f["available_usd"] / top_value
        earned_h = plot_h * f["earned_usd"] / top_value
        base = top + plot_h
        tip = (
            f"{label}: earned {money(f['earned_usd'])} of {money(f['available_usd'])}, "
            f"{tasks_text(f['tasks'])}, pass@1 {figure_cell('pass_at_1', f)}"
        )
        out += [
            f'<rect class="bar available" data-group="{e(label)}" '
            f'data-value="{f["available_usd"]}" x="{_f(x)}" y="{_f(base - avail_h)}" '
            f'width="{_f(bar_w)}" height="{_f(avail_h)}"><title>{e(tip)}</title></rect>',
            f'<rect class="bar earned" data-group="{e(label)}" data-value="{f["earned_usd"]}" '
            f'x="{_f(x + bar_w * 0.2)}" y="{_f(base - earned_h)}" width="{_f(bar_w * 0.6)}" '
            f'height="{_f(earned_h)}"><title>{e(tip)}</title></rect>',
            f'<text x="{_f(x + bar_w / 2)}" y="{base + 16}" text-anchor="middle">{e(short)}</text>',
            f'<text class="muted" x="{_f(x + bar_w / 2)}" y="{base + 31}" '
            f'text-anchor="middle">{e(tasks_text(f["tasks"]))}</text>',
        ]
    out.append(
        f'<line class="axis" x1="{left}" x2="{width - 6}" y1="{top + plot_h}" '
        f'y2="{top + plot_h}"/></svg>'
    )
    return "".join(out) + _legend()


def cumulative_points(report: dict[str, Any]) -> list[tuple[str, float, float, float]]:
    """(task, price, cumulative earned, cumulative available) over the graded tasks, cheapest
    first (the order of the cumulative chart)."""
    graded = [t for t in report["per_task"] if t["pass_at_1"] is not None]
    graded.sort(key=lambda t: (t["price_usd"], t["task_id"]))
    points = []
    earned = available = 0.0
    for t in graded:
        earned += t["earned_usd"]
        available += t["price_usd"]
        points.append((t["task_id"], t["price_usd"], earned, available))
    return points


def cumulative_chart(report: dict[str, Any]) -> str:
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


# -- the run report -----------------------------------------------------------------------


def safe_name(task_id: str) -> str:
    """A file name for a task id (ids are plain upstream, but a page must never escape)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", task_id).lstrip(".")
    return name or "_"


def transcript_href(files_dir: str, task_id: str, attempt: int) -> str:
    return f"{quote(files_dir)}/{quote(safe_name(task_id))}/{attempt}.html"


def _td(key: str, text: str, *, sort: Any = None, cls: str = "n") -> str:
    value = "" if sort is None else f' data-v="{e(sort)}"'
    return f'<td class="{cls}" data-key="{e(key)}"{value}>{e(text)}</td>'


def _summary_table(report: dict[str, Any]) -> str:
    cols = columns(report)
    head = "".join(f'<th class="n">{e(title)}</th>' for _, title, _ in cols)
    body = []
    for key, label in rows(report):
        cells = "".join(_td(f"{ck}.{key}", figure_cell(key, f)) for ck, _, f in cols)
        body.append(f"<tr><th>{e(label)}</th>{cells}</tr>")
    return (
        f'<table class="summary"><thead><tr><th></th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _bucket_table(report: dict[str, Any]) -> str:
    head = "".join(f'<th class="n">{e(label)}</th>' for _, label in BUCKET_COLUMNS)
    body = []
    for label, f in bucket_rows(report):
        cells = "".join(_td(f"{label}.{k}", figure_cell(k, f)) for k, _ in BUCKET_COLUMNS)
        body.append(f'<tr data-bucket="{e(label)}"><th>{e(label)}</th>{cells}</tr>')
    return (
        f'<table class="buckets"><thead><tr><th>price</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _errored_table(report: dict[str, Any], files_dir: str) -> str:
    body = []
    for err in report["errored"]:
        href = transcript_href(files_dir, err["task_id"], err["attempt"])
        body.append(
            f"<tr><td>{e(err['task_id'])}</td>"
            f'<td class="n"><a href="{e(href)}">{err["attempt"]}</a></td>'
            f'<td>{e(err["kind"])}</td><td class="err">{e(err["message"])}</td></tr>'
        )
    return (
        '<table class="errored"><thead><tr><th>task</th><th class="n">attempt</th><th>kind</th>'
        f"<th>reason</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _task_table(report: dict[str, Any], files_dir: str) -> str:
    body = []
    for t in report["per_task"]:
        links = []
        for a in t["attempts"]:
            href = transcript_href(files_dir, t["task_id"], a["attempt"])
            tip = f"attempt {a['attempt']}: {a['status']}"
            if a["error"] or a["reason"]:
                tip += f" — {a['error'] or a['reason']}"
            links.append(
                f'<a class="att {e(a["status"])}" href="{e(href)}" title="{e(tip)}">'
                f"{a['attempt']}</a>"
            )
        errors = "; ".join(f"#{a['attempt']} {a['error']}" for a in t["attempts"] if a["error"])
        shown_errors = errors if len(errors) <= 240 else errors[:240] + "…"
        pass1 = t["pass_at_1"]
        body.append(
            f'<tr id="task-{e(safe_name(t["task_id"]))}" data-task="{e(t["task_id"])}" '
            f'data-status="{e(t["status"])}">'
            f'<td data-key="task_id" data-v="{e(t["task_id"])}">{e(t["task_id"])}</td>'
            f'<td data-key="variant" data-v="{e(t["variant"])}">{e(variant_name(t["variant"]))}'
            "</td>"
            + _td("price_usd", money(t["price_usd"]), sort=t["price_usd"])
            + f'<td data-key="attempts" data-v="{len(t["attempts"])}">{"".join(links)}</td>'
            + _td("passed", f"{t['passed']}/{t['graded']}", sort=t["passed"])
            + f'<td class="n status-{e(t["status"])}" data-key="pass_at_1" '
            f'data-v="{"" if pass1 is None else pass1}">'
            f"{e('error' if pass1 is None else percent(pass1))}</td>"
            + _td("earned_usd", money(t["earned_usd"]), sort=t["earned_usd"])
            + f'<td class="err" data-key="error" data-v="{e(errors)}" title="{e(errors)}">'
            f"{e(shown_errors)}</td></tr>"
        )
    head = (
        '<tr><th data-sort="s">task</th><th data-sort="s">variant</th>'
        '<th class="n" data-sort="n">price</th><th data-sort="n">attempts</th>'
        '<th class="n" data-sort="n">passed</th><th class="n" data-sort="n">pass@1</th>'
        '<th class="n" data-sort="n">earned</th><th data-sort="s">error</th></tr>'
    )
    return (
        '<div class="tools"><input id="filter" type="search" placeholder="filter tasks…" '
        'aria-label="filter tasks"><span id="shown" class="sub"></span></div>'
        f'<table id="tasks"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'
    )


def _cards(report: dict[str, Any]) -> str:
    share = report["earned_usd"] / report["available_usd"] if report["available_usd"] else None
    k = report["tries"]
    cards = [
        ("main", "earned_usd", "earned", money(report["earned_usd"])),
        ("", "available_usd", "available", money(report["available_usd"])),
        ("", "share", "of the dollars", percent(share)),
        ("", "pass_at_1", "pass@1", percent(report["pass_at_1"])),
    ]
    if k > 1:
        cards.append(("", f"pass_at_{k}", f"pass@{k}", percent(report.get(f"pass_at_{k}"))))
    cards += [
        ("", "cost_usd", "API cost", api_money(report["cost_usd"])),
        ("", "earned_per_api_usd", "earned per API $", ratio(report["earned_per_api_usd"])),
        ("", "errors", "errored attempts", str(report["errors"])),
    ]
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card {cls}"><div class="v" data-key="{key}">{e(value)}</div>'
            f'<div class="k">{e(label)}</div></div>'
            for cls, key, label, value in cards
        )
        + "</div>"
    )


def _context(report: dict[str, Any]) -> str:
    facts = [f"model <b>{e(model_name(report))}</b>"]
    if report.get("status"):
        facts.append(f"status {e(report['status'])}")
    if report.get("tries", 1) > 1:
        facts.append(f"{report['tries']} tries per task")
    when = " → ".join(e(x) for x in (report.get("started_at"), report.get("finished_at")) if x)
    if when:
        facts.append(when)
    manifest = report.get("manifest") or {}
    if isinstance(manifest, dict) and manifest:
        source = manifest.get("split") or manifest.get("path") or manifest.get("kind")
        sha = str(manifest.get("sha256") or "")[:12]
        facts.append(f"tasks from {e(source)} <code>{e(sha)}</code>")
    return f'<p class="sub">{" · ".join(facts)}</p>'


def render_run_html(report: dict[str, Any], files_dir: str) -> str:
    """The main page of a run's report; `files_dir` is where its transcript pages are, relative
    to the page."""
    found = notes(report)
    parts = [
        f"<h1>{e(report['run_id'])}</h1>",
        _context(report),
        _cards(report),
        f'<p class="headline">{e(headline(report))}</p>',
        "<h2>Summary</h2>",
        _summary_table(report),
        "<h2>Charts</h2>",
        '<div class="charts">',
        f'<div class="chart"><h3>Earned vs available, by variant</h3>{bars_by_variant(report)}'
        "</div>",
        f'<div class="chart"><h3>Earnings by price</h3>{bars_by_price(report)}</div>',
        '<div class="chart wide"><h3>Cumulative earnings over tasks sorted by price</h3>'
        f"{cumulative_chart(report)}</div>",
        "</div>",
    ]
    if bucket_rows(report):
        parts += ["<h2>By price</h2>", _bucket_table(report)]
    if found:
        items = "".join(f"<li>{e(n)}</li>" for n in found)
        parts += [f'<h2>Notes</h2><ul class="notes">{items}</ul>']
    if report["errored"]:
        parts += [
            "<h2>Errored attempts (not counted)</h2>",
            _errored_table(report, files_dir),
        ]
    parts += [
        "<h2>Tasks</h2>",
        _task_table(report, files_dir),
        f"<footer>Every figure is recomputed from attempts.jsonl. swelancer {e(__version__)}, "
        f"report schema {report['schema_version']}, written {e(utc_now())}.</footer>",
    ]
    title = f"{report['run_id']} — {model_name(report)} · swelancer report"
    return page(title, "\n".join(parts), script=SCRIPT)


# -- transcript pages ---------------------------------------------------------------------


def _part_html(part: Part) -> str:
    label = f'<div class="label">{e(part.label)}</div>' if part.label else ""
    cls = {"code": "code", "output": "output"}.get(part.style, "text")
    text = part.text
    cut = ""
    if len(text) > FULL_TEXT_LIMIT:
        cut = f"\n… {len(text) - FULL_TEXT_LIMIT:,} more characters are in the run directory"
        text = text[:FULL_TEXT_LIMIT]
    folded, hidden = fold(text, part.fold)
    if not hidden:
        return f'{label}<pre class="{cls}">{_marked(folded + cut)}</pre>'
    lines = len(text.splitlines())
    return (
        f'{label}<div class="foldbox"><pre class="{cls} folded">{_marked(folded)}</pre>'
        f"<details><summary>show all {lines:,} lines</summary>"
        f'<pre class="{cls}">{e(text + cut)}</pre></details></div>'
    )


FOLD_MARK = re.compile(r"… [\d,]+ (lines|characters) folded …")


def _marked(text: str) -> str:
    """Escaped text with the fold marks set apart."""
    return FOLD_MARK.sub(lambda m: f'<span class="fold">{m.group(0)}</span>', e(text))


def css_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text) or "none"


def blocks_html(blocks: list[Block]) -> str:
    out = []
    for block in blocks:
        meta = f'<div class="meta">{e(" · ".join(block.meta))}</div>' if block.meta else ""
        parts = "".join(_part_html(p) for p in block.parts)
        out.append(
            f'<section class="block kind-{css_name(block.kind)} tone-{css_name(block.tone)}">'
            f"<h2>{e(block.title)}</h2>{meta}{parts}</section>"
        )
    return "\n".join(out)


def transcript_page(blocks: list[Block], back: str, siblings: list[tuple[int, str]]) -> str:
    nav = [f'<a href="{e(back)}">← report</a>']
    nav += [f'<a href="{e(href)}">attempt {n}</a>' for n, href in siblings]
    title = blocks[0].title if blocks else "attempt"
    body = f'<nav class="top">{"".join(nav)}</nav>\n{blocks_html(blocks)}'
    return page(f"{title} · swelancer", body)


def write_run_html(report: dict[str, Any], run_dir: Path, output: Path) -> list[Path]:
    """Write the report to `output` and a page per attempt in `<stem>_files/`; returns every
    file written, the report first."""
    files_name = f"{output.stem}_files"
    files_dir = output.parent / files_name
    written = [output]
    records = RunDir(run_dir).records()
    for t in report["per_task"]:
        numbers = [a["attempt"] for a in t["attempts"]]
        for n in numbers:
            view = load_attempt(run_dir, t["task_id"], n, records=records)
            back = f"../../{quote(output.name)}#task-{quote(safe_name(t['task_id']))}"
            siblings = [(m, f"{m}.html") for m in numbers if m != n]
            path = files_dir / safe_name(t["task_id"]) / f"{n}.html"
            write_text_atomic(path, transcript_page(attempt_blocks(view), back, siblings))
            written.append(path)
    write_text_atomic(output, render_run_html(report, files_name))
    return written


# -- several runs -------------------------------------------------------------------------


def _run_bars(runs: list[dict[str, Any]]) -> str:
    width, left, right, row_h, top = 900, 260, 190, 30, 6
    height = top + row_h * len(runs) + 4
    top_value = max((r["available_usd"] for r in runs), default=0) or 1
    span = width - left - right
    out = [
        f'<svg class="chart-runs" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="dollars earned by run">'
    ]
    for i, r in enumerate(runs):
        y = top + i * row_h
        avail_w = span * r["available_usd"] / top_value
        earned_w = span * r["earned_usd"] / top_value
        name = str(r["run_id"])
        name = name if len(name) <= 38 else name[:37] + "…"
        out += [
            f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{e(name)}</text>',
            f'<rect class="bar available" data-value="{r["available_usd"]}" x="{left}" '
            f'y="{y + 4}" width="{_f(max(avail_w, 0.5))}" height="18" rx="3"/>',
            f'<rect class="bar earned" data-value="{r["earned_usd"]}" x="{left}" y="{y + 4}" '
            f'width="{_f(earned_w)}" height="18" rx="3"><title>{e(r["run_id"])}: '
            f"{e(money(r['earned_usd']))} of {e(money(r['available_usd']))}</title></rect>",
            f'<text x="{_f(left + avail_w + 6)}" y="{y + 17}">'
            f"{e(money(r['earned_usd']))} of {e(money(r['available_usd']))}</text>",
        ]
    out.append("</svg>")
    return "".join(out) + _legend()


def _runs_table(runs: list[dict[str, Any]], fields: list[tuple[str, str]]) -> str:
    head = "".join(
        f'<th class="{"n" if k not in ("run_id", "model", "status") else ""}">{e(label)}</th>'
        for k, label in fields
    )
    body = []
    for r in runs:
        cells = "".join(
            _td(k, figure_cell(k, r), cls="" if k in ("run_id", "model", "status") else "n")
            for k, _ in fields
        )
        body.append(f'<tr data-run="{e(r["run_id"])}">{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_comparison_html(comparison: dict[str, Any]) -> str:
    from swelancer.report.compare import RUN_FIELDS, SAME, status_text

    runs = comparison["runs"]
    fields = [("run_id", "run"), *RUN_FIELDS]
    head = "".join(f"<th>{e(r['run_id'])}</th>" for r in runs)

    def task_table(cls: str, entries: list[dict[str, Any]]) -> str:
        body = []
        for d in entries:
            cells = "".join(
                f'<td class="status-{e((s or {}).get("status", "none"))}">{e(status_text(s))}</td>'
                for s in d["runs"]
            )
            body.append(
                f'<tr data-task="{e(d["task_id"])}"><td>{e(d["task_id"])}</td>'
                f'<td class="n">{e(money(d["price_usd"]))}</td>{cells}</tr>'
            )
        return (
            f'<table class="{cls}"><thead><tr><th>task</th><th class="n">price</th>{head}</tr>'
            f"</thead><tbody>{''.join(body)}</tbody></table>"
        )

    diffs = comparison["differences"]
    parts = [
        f"<h1>{len(runs)} runs compared</h1>",
        _runs_table(runs, fields),
        f'<div class="chart" style="margin-top:16px"><h3>Earned vs available</h3>'
        f"{_run_bars(runs)}</div>",
        f"<h2>Tasks where they differ ({len(diffs)} of {comparison['tasks_in_common']})</h2>",
        task_table("differences", diffs) if diffs else f"<p>{e(SAME)}</p>",
    ]
    if comparison["only_in_some"]:
        parts += [
            f"<h2>Tasks in only some runs ({len(comparison['only_in_some'])})</h2>",
            task_table("only-in-some", comparison["only_in_some"]),
        ]
    if comparison["notes"]:
        items = "".join(f"<li>{e(n)}</li>" for n in comparison["notes"])
        parts.append(f'<h2>Notes</h2><ul class="notes">{items}</ul>')
    parts.append("<footer>Every figure is recomputed from each run's attempts.jsonl.</footer>")
    return page("swelancer comparison", "\n".join(parts))


def render_leaderboard_html(board: dict[str, Any]) -> str:
    from swelancer.report.compare import RUN_FIELDS

    runs = board["runs"]
    fields = [("rank", "#"), ("run_id", "run"), *RUN_FIELDS]
    parts = [
        f"<h1>Leaderboard of {e(board['results_dir'])}</h1>",
        f'<p class="sub">{len(runs)} runs, by dollars earned.</p>',
        _runs_table(runs, fields),
        f'<div class="chart" style="margin-top:16px"><h3>Earned vs available</h3>'
        f"{_run_bars(runs)}</div>",
    ]
    if board["notes"]:
        items = "".join(f"<li>{e(n)}</li>" for n in board["notes"])
        parts.append(f'<h2>Notes</h2><ul class="notes">{items}</ul>')
    parts.append("<footer>Every figure is recomputed from each run's attempts.jsonl.</footer>")
    return page("swelancer leaderboard", "\n".join(parts))
