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
    from swelancer.report.models import Figures, RunReport

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


def cell(key: str, value: Any) -> str:
    """A value as shown, by the kind of figure its key names."""
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
    """(key, label) of the summary's rows: pass@k with several tries, tampered when any."""
    out = list(FIGURE_ROWS)
    if report.tries > 1:
        out.insert(6, ("pass_at_k", f"pass@{report.tries}"))
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
    found = share(report)
    text = f"Earned {money(report.earned_usd)} of {money(report.available_usd)}"
    if found is not None:
        text += f" ({percent(found)} of the dollars)"
    text += f", pass@1 {figure_cell('pass_at_1', report)}"
    if report.tries > 1:
        text += f", pass@{report.tries} {figure_cell('pass_at_k', report)}"
    return text + "."


def notes(report: RunReport) -> list[str]:
    """What a reader must know to read the figures right (errors, tampering, an unfinished run)."""
    out = list(report.problems)
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


def run_fields(runs: list[RunSummary]) -> list[tuple[str, str]]:
    """(key, label) of what a comparison or leaderboard shows of each run; tampered when any."""
    out = list(RUN_FIELDS)
    if any(r.tampered for r in runs):
        out.insert(6, ("tampered", TAMPERED))
    return out


def comparison_rows(comparison: Comparison) -> list[tuple[str, str]]:
    """(key, label) of a comparison's rows; the tasks all graded when the runs' tasks differ."""
    fields = run_fields(comparison.runs)
    out = fields[:6]
    if comparison.runs and comparison.runs[0].common_earned_usd is not None:
        out += [
            ("common_earned_usd", "earned, tasks all graded"),
            ("common_available_usd", "available, tasks all graded"),
        ]
    out += [
        ("ic_swe_earned_usd", "earned, IC SWE"),
        ("swe_manager_earned_usd", "earned, SWE Manager"),
    ]
    return [*out, *fields[6:], ("earned_per_api_usd", "earned per API dollar")]


def leaderboard_columns(runs: list[RunSummary]) -> list[tuple[str, str]]:
    return [("rank", "#"), ("run_id", "run"), *run_fields(runs)]


def status_text(state: TaskState | None) -> str:
    """How one run did on one task, in a few words."""
    if state is None:
        return "not run"
    if state.status == "error":
        return "error"
    text = f"{state.status} {percent(state.pass_at_1)}"
    return text + (f" ({TAMPERED})" if state.tampered else "")
