"""What every renderer shows of a report: which rows and columns, under which labels, in which
words. The table, Markdown and HTML renderers draw the same cells and notes from the same models;
only their markup differs. Numbers are written by `swelancer.format`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swelancer.format import api_money, money, number, percent, ratio
from swelancer.tasks.models import VARIANTS

if TYPE_CHECKING:
    from swelancer.report.compare import Comparison, RunSummary, TaskState
    from swelancer.report.models import Figures, Interval, RunReport, Statistics

VARIANT_NAMES = {"ic_swe": "IC SWE", "swe_manager": "SWE Manager"}
TAMPERED = "tampered"
"""The flag shown on an attempt (or a task, or a run) whose grading showed tampering."""
TAMPERED_TITLE = "Tampered attempts (scored as failures)"
ERRORED_TITLE = "Errored attempts"
SAME = "The runs did the same on every task they have in common."


def variant_name(variant: str) -> str:
    return VARIANT_NAMES.get(variant, variant)


def model_name(report: RunReport) -> str:
    return report.model or "unknown model"


# -- cells --------------------------------------------------------------------------------


def ci_label(level: float) -> str:
    """`95% CI`: what an interval's row or column is called."""
    return f"{percent(level, digits=0)} CI"


def interval_text(key: str, interval: Interval | None) -> str:
    """An interval as shown, `$1,200–$5,400` or `30.1%–52.0%` (`key` names the figure); a dash
    when there is none (too few tasks)."""
    if interval is None:
        return "—"
    return f"{cell(key, interval.low)}–{cell(key, interval.high)}"


def with_interval(key: str, value: Any, interval: Interval | None, level: float) -> str:
    """A figure with its interval: `$2,300 (95% CI $1,200–$5,400)`; the figure alone when it
    has none."""
    if interval is None:
        return cell(key, value)
    return f"{cell(key, value)} ({ci_label(level)} {interval_text(key, interval)})"


def cell(key: str, value: Any) -> str:
    """A value as shown, by the kind of figure its key names."""
    if key.endswith("_ci"):
        return interval_text(key.removesuffix("_ci"), value)
    if key == "cost_usd":
        return api_money(value)
    if key == "earned_per_api_usd":
        return ratio(value)
    if key.endswith("_usd"):
        return money(value)
    if key.startswith("pass_at"):
        return percent(value)
    if key.endswith("_tokens") and isinstance(value, int):
        return number(value)
    return "unknown" if value is None else str(value)


def figure_cell(key: str, figures: Figures | RunSummary) -> str:
    """A figure of a group as shown; pass@k of a group with no graded task is a dash, not 0%."""
    if key.startswith("pass_at") and not figures.tasks:
        return "—"
    return cell(key, getattr(figures, key))


# -- one run ------------------------------------------------------------------------------

FIGURE_ROWS: tuple[tuple[str, str], ...] = (
    ("tasks", "tasks graded"),
    ("attempts", "attempts"),
    ("passed", "passed"),
    ("failed", "failed"),
    ("errors", "errors (not counted)"),
    ("pass_at_1", "pass@1"),
    ("earned_usd", "earned"),
    ("available_usd", "available"),
    ("input_tokens", "input tokens"),
    ("output_tokens", "output tokens"),
    ("cost_usd", "API cost"),
    ("earned_per_api_usd", "earned per API dollar"),
)
BUCKET_COLUMNS: tuple[tuple[str, str], ...] = (
    ("tasks", "tasks"),
    ("pass_at_1", "pass@1"),
    ("earned_usd", "earned"),
    ("available_usd", "available"),
    ("errors", "errors"),
)


def rows(report: RunReport) -> list[tuple[str, str]]:
    """(key, label) of the summary's rows: each headline figure followed by its interval,
    pass@k with several tries, tampered when any."""
    ci = ci_label(report.statistics.level)
    out = list(FIGURE_ROWS)
    out.insert(7, ("earned_usd_ci", f"earned {ci}"))
    if report.tries > 1:
        out[6:6] = [
            ("pass_at_k", f"pass@{report.tries}"),
            ("pass_at_k_ci", f"pass@{report.tries} {ci}"),
        ]
    out.insert(6, ("pass_at_1_ci", f"pass@1 {ci}"))
    if report.tampered:
        out.insert(4, ("tampered", "tampered (in failed)"))
    return out


def columns(report: RunReport) -> list[tuple[str, str, Figures]]:
    """(key, title, figures) of the summary's columns: each variant, then the total."""
    return [
        *((v, variant_name(v), report.by_variant[v]) for v in VARIANTS if v in report.by_variant),
        ("total", "total", report),
    ]


def bucket_rows(report: RunReport) -> list[tuple[str, Figures]]:
    """The price buckets that hold at least one attempt, cheapest first."""
    return [(label, f) for label, f in report.by_price_bucket.items() if f.attempts]


def share(figures: Figures) -> float | None:
    """The part of the dollars available that was earned."""
    return figures.earned_usd / figures.available_usd if figures.available_usd else None


def headline(report: RunReport) -> str:
    """`Earned $X (95% CI $L–$U) of $A (…% of the dollars), pass@1 P% (95% CI L%–U%).`"""
    found = share(report)
    level = report.statistics.level
    earned = with_interval("earned_usd", report.earned_usd, report.earned_usd_ci, level)
    text = f"Earned {earned} of {money(report.available_usd)}"
    if found is not None:
        text += f" ({percent(found)} of the dollars)"
    if not report.tasks:
        return text + ", pass@1 —."
    text += f", pass@1 {with_interval('pass_at_1', report.pass_at_1, report.pass_at_1_ci, level)}"
    if report.tries > 1:
        pass_k = with_interval("pass_at_k", report.pass_at_k, report.pass_at_k_ci, level)
        text += f", pass@{report.tries} {pass_k}"
    return text + "."


def method_note(stats: Statistics) -> str:
    """How the intervals were made, in a line a reader can remake them from."""
    return (
        f"Intervals are {percent(stats.level, digits=0)} confidence intervals with the tasks as "
        f"clusters and their tries as samples: pass rates by a {stats.pass_rate_method}; "
        f"dollars by a {stats.dollars_method} ({stats.resamples:,} resamples, seed "
        f"{stats.seed}). See docs/STATISTICS.md."
    )


def interval_notes(report: RunReport) -> list[str]:
    """The method; where an interval is missing, why; with errors, the figures had they been
    failures."""
    out = [method_note(report.statistics)]
    if report.tasks and report.pass_at_1_ci is None:
        out.append(
            f"{report.tasks} task(s) graded: too few for an interval to mean anything (it takes "
            f"{report.statistics.min_tasks}); the figures are shown without one."
        )
    wrong = report.errors_as_failures
    if wrong is not None:
        level = report.statistics.level
        earned = with_interval("earned_usd", wrong.earned_usd, wrong.earned_usd_ci, level)
        pass1 = with_interval("pass_at_1", wrong.pass_at_1, wrong.pass_at_1_ci, level)
        out.append(
            f"With errored attempts scored as failures ({wrong.tasks} tasks): earned {earned} "
            f"of {money(wrong.available_usd)}, pass@1 {pass1}."
        )
    return out


def notes(report: RunReport) -> list[str]:
    """What a reader must know to read the figures right (how the intervals were made, errors,
    tampering, an unfinished run)."""
    out = [*report.problems, *interval_notes(report)]
    if report.errors:
        out.append(
            f"{report.errors} attempt(s) ended in infrastructure errors and are left out of "
            f"every figure ({money(report.errored_usd)} of tasks with no graded attempt); "
            f"they are listed under '{ERRORED_TITLE}'."
        )
    if report.tampered:
        out.append(
            f"{report.tampered} attempt(s) tampered with their grading: they are scored as "
            f"failures and listed under '{TAMPERED_TITLE}'."
        )
    odd = sum(1 for t in report.per_task for a in t.attempts if a.decision_odd_form)
    if odd:
        out.append(
            f'{odd} manager answer(s) were not a plain {{"selected_proposal_id": <integer>}}: '
            "each is scored as upstream scores it (int() of the file's first value), and its "
            "reason says how it was read."
        )
    if report.skipped_broken:
        out.append(
            "left out as known broken upstream (--skip-broken): " + ", ".join(report.skipped_broken)
        )
    if report.status == "running":
        out.append(
            "the run is still running (or was killed before it could say so): the figures "
            "cover the attempts recorded so far."
        )
    elif report.status not in (None, "complete"):
        out.append(f"the run is {report.status}: resume it to record the missing attempts.")
    if report.cost_usd is None and report.attempts:
        out.append("the API cost is unknown (a model without a known price).")
    return out


def attempt_tip(attempt: int, status: str, detail: str | None, tampering: str | None) -> str:
    """How one attempt went, in a line (a link's title)."""
    text = f"attempt {attempt}: {status}"
    if tampering:
        text += f" ({TAMPERED})"
    return text + (f" — {detail}" if detail else "")


# -- several runs -------------------------------------------------------------------------

RUN_FIELDS: tuple[tuple[str, str], ...] = (
    ("model", "model"),
    ("status", "status"),
    ("tasks", "tasks graded"),
    ("pass_at_1", "pass@1"),
    ("earned_usd", "earned"),
    ("available_usd", "available"),
    ("errors", "errors"),
    ("cost_usd", "API cost"),
)
TEXT_FIELDS = ("run_id", "model", "status")
"""Fields shown left-aligned, as text."""


def run_fields(runs: list[RunSummary], level: float = 0.95) -> list[tuple[str, str]]:
    """(key, label) of what a comparison or leaderboard shows of each run, each headline figure
    followed by its interval; tampered when any."""
    ci = ci_label(level)
    out = list(RUN_FIELDS)
    out[5:5] = [("earned_usd_ci", f"earned {ci}")]
    out[4:4] = [("pass_at_1_ci", f"pass@1 {ci}")]
    if any(r.tampered for r in runs):
        out.insert(out.index(("errors", "errors")), ("tampered", TAMPERED))
    return out


def comparison_rows(comparison: Comparison) -> list[tuple[str, str]]:
    """(key, label) of a comparison's rows; the tasks all graded when the runs' tasks differ."""
    fields = run_fields(comparison.runs, comparison.statistics.level)
    cut = fields.index(("available_usd", "available")) + 1
    out = fields[:cut]
    if comparison.runs and comparison.runs[0].common_earned_usd is not None:
        out += [
            ("common_earned_usd", "earned, tasks all graded"),
            ("common_available_usd", "available, tasks all graded"),
        ]
    out += [
        ("ic_swe_earned_usd", "earned, IC SWE"),
        ("swe_manager_earned_usd", "earned, SWE Manager"),
    ]
    return [*out, *fields[cut:], ("earned_per_api_usd", "earned per API dollar")]


def leaderboard_columns(runs: list[RunSummary], level: float = 0.95) -> list[tuple[str, str]]:
    return [("rank", "#"), ("run_id", "run"), *run_fields(runs, level)]


def status_text(state: TaskState | None) -> str:
    """How one run did on one task, in a few words."""
    if state is None:
        return "not run"
    if state.status == "error":
        return "error"
    text = f"{state.status} {percent(state.pass_at_1)}"
    return text + (f" ({TAMPERED})" if state.tampered else "")
