"""The HTML report: one self-contained page per report (style, SVG charts and a little script
inline) and, for a run, one page per attempt with its transcript, in `<stem>_files/<task>/
<attempt>.html` beside it.

Nothing is fetched from the network. Every text that comes from a run (model output, commands,
logs, task ids) is escaped; a Content-Security-Policy admits only the package's own script
(`page`). The charts are drawn in `charts`, the transcript pages in `transcript_html`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from swelancer import __version__
from swelancer.format import api_money, duration, money, percent, ratio
from swelancer.records import utc_now
from swelancer.report.attempt_dir import load_attempt
from swelancer.report.blocks import attempt_blocks
from swelancer.report.charts import bars_by_price, bars_by_variant, cumulative_chart, run_bars
from swelancer.report.compare import Comparison, Leaderboard, RunSummary, TaskOutcomes
from swelancer.report.layout import (
    BUCKET_COLUMNS,
    ERRORED_TITLE,
    SAME,
    TAMPERED,
    TAMPERED_TITLE,
    TEXT_FIELDS,
    attempt_tip,
    bucket_rows,
    ci_label,
    columns,
    figure_cell,
    headline,
    interval_text,
    leaderboard_columns,
    model_name,
    notes,
    rows,
    run_fields,
    share,
    status_text,
    variant_name,
)
from swelancer.report.models import AttemptRow, RunReport, TaskRow
from swelancer.report.page import asset, e, notes_html, page, safe_name, td, transcript_href
from swelancer.report.paired_html import paired_html
from swelancer.report.transcript_html import transcript_page
from swelancer.run.results import RunDir, write_text_atomic

FILES_SUFFIX = "_files"
ERROR_TEXT_LIMIT = 240
"""Characters of a task's reasons shown in its row (the cell's title holds them all)."""


def _table(cls: str, head: str, body: list[str]) -> str:
    return (
        f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


# -- the run report -----------------------------------------------------------------------


def _summary_table(report: RunReport) -> str:
    cols = columns(report)
    head = "<th></th>" + "".join(f'<th class="n">{e(title)}</th>' for _, title, _ in cols)
    body = []
    for key, label in rows(report):
        cells = "".join(td(f"{ck}.{key}", figure_cell(key, f)) for ck, _, f in cols)
        body.append(f"<tr><th>{e(label)}</th>{cells}</tr>")
    return _table("summary", head, body)


def _bucket_table(report: RunReport) -> str:
    head = "<th>price</th>" + "".join(f'<th class="n">{e(lab)}</th>' for _, lab in BUCKET_COLUMNS)
    body = []
    for label, f in bucket_rows(report):
        cells = "".join(td(f"{label}.{k}", figure_cell(k, f)) for k, _ in BUCKET_COLUMNS)
        body.append(f'<tr data-bucket="{e(label)}"><th>{e(label)}</th>{cells}</tr>')
    return _table("buckets", head, body)


def _attempts_table(
    cls: str, heads: list[str], found: list[tuple[Any, ...]], files_dir: str
) -> str:
    """Attempts listed apart (errored, tampered): task, attempt (linked), then `heads`; the
    last column is a reason."""
    body = []
    for task_id, attempt, *texts in found:
        href = transcript_href(files_dir, task_id, attempt)
        cells = [f"<td>{e(t)}</td>" for t in texts[:-1]]
        cells.append(f'<td class="err">{e(texts[-1])}</td>')
        body.append(
            f"<tr><td>{e(task_id)}</td>"
            f'<td class="n"><a href="{e(href)}">{attempt}</a></td>{"".join(cells)}</tr>'
        )
    head = '<th>task</th><th class="n">attempt</th>' + "".join(f"<th>{e(h)}</th>" for h in heads)
    return _table(cls, head, body)


def _attempt_links(t: TaskRow, files_dir: str) -> str:
    links = []
    for a in t.attempts:
        href = transcript_href(files_dir, t.task_id, a.attempt)
        tip = attempt_tip(a.attempt, a.status, a.error or a.reason, a.tampering)
        flag = " tampered" if a.tampering else ""
        links.append(
            f'<a class="att {e(a.status)}{flag}" href="{e(href)}" title="{e(tip)}">{a.attempt}</a>'
        )
    if t.tampered:
        links.append(f' <span class="flag">{TAMPERED}</span>')
    return "".join(links)


def _each(t: TaskRow, show: Callable[[AttemptRow], str], total: float | None) -> tuple[str, str]:
    """A figure of a task's attempts: their values (one per attempt, `·` between), and what
    to sort by (their total; empty when unknown)."""
    shown = " · ".join(show(a) for a in t.attempts)
    return shown, "" if total is None else f"{total:g}"


def _cost_total(t: TaskRow) -> float | None:
    costs = [a.cost_usd for a in t.attempts]
    return None if any(c is None for c in costs) else round(sum(c or 0.0 for c in costs), 6)


def _why(t: TaskRow) -> str:
    """Why each attempt that did not pass did not, numbered when the task has several."""
    whys = [(a.attempt, a.why) for a in t.attempts if a.why]
    if len(t.attempts) == 1:
        return whys[0][1] if whys else ""
    return "; ".join(f"#{n} {why}" for n, why in whys)


def _task_row(t: TaskRow, files_dir: str) -> str:
    why = _why(t)
    shown = why if len(why) <= ERROR_TEXT_LIMIT else why[:ERROR_TEXT_LIMIT] + "…"
    pass1 = t.pass_at_1
    flagged = f' data-tampered="{t.tampered}"' if t.tampered else ""
    cost, cost_v = _each(t, lambda a: api_money(a.cost_usd), _cost_total(t))
    turns, turns_v = _each(t, lambda a: str(a.turns), sum(a.turns for a in t.attempts))
    secs = [a.seconds for a in t.attempts]
    total = None if any(x is None for x in secs) else sum(x or 0.0 for x in secs)
    time, time_v = _each(t, lambda a: "—" if a.seconds is None else duration(a.seconds), total)
    return (
        f'<tr id="task-{e(safe_name(t.task_id))}" data-task="{e(t.task_id)}" '
        f'data-status="{e(t.status)}"{flagged}>'
        f'<td data-key="task_id" data-v="{e(t.task_id)}">{e(t.task_id)}</td>'
        f'<td data-key="variant" data-v="{e(t.variant)}">{e(variant_name(t.variant))}</td>'
        + td("price_usd", money(t.price_usd), sort=t.price_usd)
        + f'<td data-key="attempts" data-v="{len(t.attempts)}">{_attempt_links(t, files_dir)}'
        "</td>"
        + td("passed", f"{t.passed}/{t.graded}", sort=t.passed)
        + f'<td class="n status-{e(t.status)}" data-key="pass_at_1" '
        f'data-v="{"" if pass1 is None else pass1}">'
        f"{e('error' if pass1 is None else percent(pass1))}</td>"
        + td("earned_usd", money(t.earned_usd), sort=t.earned_usd)
        + td("cost_usd", cost, sort=cost_v)
        + td("turns", turns, sort=turns_v)
        + td("seconds", time, sort=time_v)
        + f'<td class="err" data-key="why" data-v="{e(why)}" title="{e(why)}">'
        f"{e(shown)}</td></tr>"
    )


def _task_table(report: RunReport, files_dir: str) -> str:
    head = (
        '<th data-sort="s">task</th><th data-sort="s">variant</th>'
        '<th class="n" data-sort="n">price</th><th data-sort="n">attempts</th>'
        '<th class="n" data-sort="n">passed</th><th class="n" data-sort="n">pass@1</th>'
        '<th class="n" data-sort="n">earned</th><th class="n" data-sort="n">API cost</th>'
        '<th class="n" data-sort="n">turns</th><th class="n" data-sort="n">time</th>'
        '<th data-sort="s">why not passed</th>'
    )
    body = "".join(_task_row(t, files_dir) for t in report.per_task)
    return (
        '<div class="tools"><input id="filter" type="search" placeholder="filter tasks…" '
        'aria-label="filter tasks"><span id="shown" class="sub"></span></div>'
        f'<table id="tasks"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def _cards(report: RunReport) -> str:
    k = report.tries

    def ci(key: str) -> str:
        found = getattr(report, f"{key}_ci")
        label = ci_label(report.statistics.level)
        return "" if found is None else f" · {label} {interval_text(key, found)}"

    cards = [
        ("main", "earned_usd", f"earned{ci('earned_usd')}", money(report.earned_usd)),
        ("", "available_usd", "available", money(report.available_usd)),
        ("", "share", "of the dollars", percent(share(report))),
        ("", "pass_at_1", f"pass@1{ci('pass_at_1')}", percent(report.pass_at_1)),
    ]
    if k > 1:
        cards.append(("", "pass_at_k", f"pass@{k}{ci('pass_at_k')}", percent(report.pass_at_k)))
    cards += [
        ("", "cost_usd", "API cost", api_money(report.cost_usd)),
        ("", "earned_per_api_usd", "earned per API $", ratio(report.earned_per_api_usd)),
        ("", "errors", "errored attempts", str(report.errors)),
    ]
    if report.tampered:
        cards.append(("", "tampered", "tampered attempts", str(report.tampered)))
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card {cls}"><div class="v" data-key="{key}">{e(value)}</div>'
            f'<div class="k">{e(label)}</div></div>'
            for cls, key, label, value in cards
        )
        + "</div>"
    )


def _context(report: RunReport) -> str:
    facts = [f"model <b>{e(model_name(report))}</b>"]
    if report.status:
        facts.append(f"status {e(report.status)}")
    if report.tries > 1:
        facts.append(f"{report.tries} tries per task")
    when = " → ".join(e(x) for x in (report.started_at, report.finished_at) if x)
    if when:
        facts.append(when)
    manifest = report.manifest
    if manifest is not None:
        sha = (manifest.sha256 or "")[:12]
        facts.append(f"tasks from {e(manifest.source())} <code>{e(sha)}</code>")
    return f'<p class="sub">{" · ".join(facts)}</p>'


def _monitor(report: RunReport, files_dir: str) -> list[str]:
    """The monitor's totals, flagged attempts (linked to their transcripts) and the figures
    with flagged passes excluded."""
    from swelancer.report import flags

    line = flags.totals(report)
    if line is None:
        return []
    out = [f"<h2>{e(flags.FLAGGED_TITLE)}</h2>", f"<p>{e(line)}</p>"]
    rows = [(t, int(a), *rest) for t, a, *rest in flags.flagged_rows(report)]
    if rows:
        out.append(_attempts_table("flagged", list(flags.FLAGGED_HEADS[2:]), rows, files_dir))
    excluded = flags.excluded_rows(report)
    if excluded:
        head = "".join(f"<th>{e(h)}</th>" for h in flags.EXCLUDED_HEADS)
        body = ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in excluded]
        out.append(_table("excluded", head, body))
    return out


def render_run(report: RunReport, files_dir: str = f"report{FILES_SUFFIX}") -> str:
    """The main page of a run's report; `files_dir` is where its transcript pages are, relative
    to the page."""
    parts = [
        f"<h1>{e(report.run_id)}</h1>",
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
    found = notes_html(notes(report))
    if found:
        parts.append(found)
    if report.errored:
        errored = [(x.task_id, x.attempt, x.kind, x.message) for x in report.errored]
        parts += [
            f"<h2>{ERRORED_TITLE} (not counted)</h2>",
            _attempts_table("errored", ["kind", "reason"], errored, files_dir),
        ]
    if report.tampered_attempts:
        listed = [(x.task_id, x.attempt, x.tampering) for x in report.tampered_attempts]
        parts += [
            f"<h2>{TAMPERED_TITLE}</h2>",
            _attempts_table("tampered", ["what showed it"], listed, files_dir),
        ]
    parts += _monitor(report, files_dir)
    parts += [
        "<h2>Tasks</h2>",
        _task_table(report, files_dir),
        f"<footer>Every figure is recomputed from attempts.jsonl. swelancer {e(__version__)}, "
        f"report schema {report.schema_version}, written {e(utc_now())}.</footer>",
    ]
    title = f"{report.run_id} — {model_name(report)} · swelancer report"
    return page(title, "\n".join(parts), script=asset("report.js"))


def write_run_html(report: RunReport, run_dir: Path, output: Path) -> list[Path]:
    """Write the report to `output` and a page per attempt in `<stem>_files/`; returns every
    file written, the report first."""
    files_name = f"{output.stem}{FILES_SUFFIX}"
    files_dir = output.parent / files_name
    written = [output]
    records = RunDir(run_dir).records()
    for t in report.per_task:
        numbers = [a.attempt for a in t.attempts]
        for n in numbers:
            view = load_attempt(run_dir, t.task_id, n, records=records)
            back = f"../../{quote(output.name)}#task-{quote(safe_name(t.task_id))}"
            siblings = [(m, f"{m}.html") for m in numbers if m != n]
            path = files_dir / safe_name(t.task_id) / f"{n}.html"
            write_text_atomic(path, transcript_page(attempt_blocks(view), back, siblings))
            written.append(path)
    write_text_atomic(output, render_run(report, files_name))
    return written


# -- several runs -------------------------------------------------------------------------


def _runs_table(runs: list[RunSummary], fields: list[tuple[str, str]]) -> str:
    def cls(key: str) -> str:
        return "" if key in TEXT_FIELDS else "n"

    head = "".join(f'<th class="{cls(k)}">{e(label)}</th>' for k, label in fields)
    body = []
    for r in runs:
        cells = "".join(td(k, figure_cell(k, r), cls=cls(k)) for k, _ in fields)
        body.append(f'<tr data-run="{e(r.run_id)}">{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _outcomes_table(cls: str, runs: list[RunSummary], entries: list[TaskOutcomes]) -> str:
    head = '<th>task</th><th class="n">price</th>' + "".join(
        f"<th>{e(r.run_id)}</th>" for r in runs
    )
    body = []
    for d in entries:
        cells = "".join(
            f'<td class="status-{e(s.status if s else "none")}">{e(status_text(s))}</td>'
            for s in d.runs
        )
        body.append(
            f'<tr data-task="{e(d.task_id)}"><td>{e(d.task_id)}</td>'
            f'<td class="n">{e(money(d.price_usd))}</td>{cells}</tr>'
        )
    return _table(cls, head, body)


def _runs_chart(runs: list[RunSummary]) -> str:
    return (
        '<div class="chart" style="margin-top:16px"><h3>Earned vs available</h3>'
        f"{run_bars(runs)}</div>"
    )


FOOTER = "<footer>Every figure is recomputed from each run's attempts.jsonl.</footer>"


def render_comparison(comparison: Comparison) -> str:
    """Runs side by side, the tasks where they differ and the tasks only some runs have."""
    runs = comparison.runs
    diffs = comparison.differences
    parts = [
        f"<h1>{len(runs)} runs compared</h1>",
        _runs_table(runs, [("run_id", "run"), *run_fields(runs, comparison.statistics.level)]),
        _runs_chart(runs),
        f"<h2>Tasks where they differ ({len(diffs)} of {comparison.tasks_in_common})</h2>",
        _outcomes_table("differences", runs, diffs) if diffs else f"<p>{e(SAME)}</p>",
    ]
    if comparison.only_in_some:
        parts += [
            f"<h2>Tasks in only some runs ({len(comparison.only_in_some)})</h2>",
            _outcomes_table("only-in-some", runs, comparison.only_in_some),
        ]
    parts += paired_html(comparison.paired, comparison.statistics.level, drivers=True)
    parts += [notes_html(comparison.notes), FOOTER]
    return page("swelancer comparison", "\n".join(p for p in parts if p))


def render_leaderboard(board: Leaderboard) -> str:
    """The runs of a results directory, by dollars earned."""
    runs = board.runs
    parts = [
        f"<h1>Leaderboard of {e(board.results_dir)}</h1>",
        f'<p class="sub">{len(runs)} runs, by dollars earned.</p>',
        _runs_table(runs, leaderboard_columns(runs, board.statistics.level)),
        _runs_chart(runs),
        *paired_html(board.paired, board.statistics.level, drivers=False),
        notes_html(board.notes),
        FOOTER,
    ]
    return page("swelancer leaderboard", "\n".join(p for p in parts if p))
