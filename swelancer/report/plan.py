"""How many tries per task a claim needs (`swelancer report RUN --plan`), from a run's spread.

A task's pass rate varies between tasks (how hard each is: sigma_b^2) and between tries of one
task (sigma_w^2). Over N tasks with k tries each, pass@1 has variance (sigma_b^2 +
sigma_w^2/k)/N: more tries shrink only the second part, so some widths cannot be reached with
the benchmark's tasks at any k. The two parts are estimated from the run (sigma_w^2 from the
tasks it tried at least twice); a run of one try per task cannot tell them apart, and the plan
then assumes all the spread is within tasks (the fewest tries: a lower bound). Two models are
compared as if their tasks' difficulties were unrelated (the cautious case; pairing on tasks
usually needs fewer). The arithmetic: docs/STATISTICS.md.
"""

from __future__ import annotations

from math import ceil, sqrt
from typing import Literal

from pydantic import Field

from swelancer.format import money, percent
from swelancer.report.models import ReportModel, RunReport
from swelancer.report.stats import z_power, z_value

TRIES_SHOWN = (1, 2, 3, 5, 10, 20)


class PlanRow(ReportModel):
    """The interval widths (high minus low) expected with `tries` per task."""

    tries: int
    pass_at_1_width: float
    earned_usd_width: float


class Plan(ReportModel):
    kind: Literal["plan"] = "plan"
    run_id: str
    tasks: int
    level: float
    power: float
    between_variance: float
    """sigma_b^2: the spread of the tasks' true pass rates."""
    within_variance: float
    """sigma_w^2: the spread of one task's tries."""
    within_measured: bool
    """False when no task was tried twice (sigma_w^2 then assumed to be all the spread)."""
    rows: list[PlanRow] = Field(default_factory=list)
    width: float | None = None
    tries_for_width: int | None = None
    """None when no number of tries reaches `width` with these tasks."""
    difference: float | None = None
    tries_for_difference: int | None = None
    floor_width: float = 0.0
    """The narrowest pass@1 interval these tasks allow, with infinitely many tries."""
    floor_difference: float = 0.0
    """The smallest pass@1 difference these tasks can detect, with infinitely many tries."""
    notes: list[str] = Field(default_factory=list)


def variances(tasks: list[list[float]]) -> tuple[float, float, bool]:
    """(sigma_b^2, sigma_w^2, measured) from each task's scores."""
    n = len(tasks)
    means = [sum(s) / len(s) for s in tasks]
    p = sum(means) / n
    total = sum((m - p) ** 2 for m in means) / (n - 1) if n > 1 else p * (1 - p)
    repeated = [s for s in tasks if len(s) > 1]
    if not repeated:
        return 0.0, total, False
    within = sum(sum((x - sum(s) / len(s)) ** 2 for x in s) / (len(s) - 1) for s in repeated) / len(
        repeated
    )
    between = max(total - within * sum(1 / len(s) for s in tasks) / n, 0.0)
    return between, within, True


def tries_needed(between: float, within: float, budget: float) -> int | None:
    """The fewest tries k with between + within/k <= budget; None when none does."""
    if between + within <= budget:
        return 1
    if budget <= between:
        return None
    return max(1, ceil(within / (budget - between)))


def plan(report: RunReport, width: float | None, difference: float | None,
         power: float = 0.8) -> Plan:  # fmt: skip
    """The plan for `report`'s tasks at its statistics' level."""
    tasks = [[a.score for a in t.attempts if a.status != "error"] for t in report.per_task]
    tasks = [s for s in tasks if s]
    prices = [t.price_usd for t in report.per_task if t.pass_at_1 is not None]
    level = report.statistics.level
    if len(tasks) < 2:
        return Plan(
            run_id=report.run_id, tasks=len(tasks), level=level, power=power,
            between_variance=0.0, within_variance=0.0, within_measured=False,
            notes=["a plan needs at least 2 graded tasks to see how they spread."],
        )  # fmt: skip
    between, within, measured = variances(tasks)
    n, z = len(tasks), z_value(level)
    squares = sum(p * p for p in prices)
    rows = [
        PlanRow(
            tries=k,
            pass_at_1_width=round(2 * z * sqrt((between + within / k) / n), 4),
            earned_usd_width=round(2 * z * sqrt(squares * (between + within / k))),
        )
        for k in TRIES_SHOWN
    ]
    found = Plan(
        run_id=report.run_id, tasks=n, level=level, power=power,
        between_variance=round(between, 6), within_variance=round(within, 6),
        within_measured=measured, rows=rows, width=width, difference=difference,
        floor_width=round(2 * z * sqrt(between / n), 4),
        floor_difference=round((z + z_power(power)) * sqrt(2 * between / n), 4),
    )  # fmt: skip
    if width is not None:
        found.tries_for_width = tries_needed(between, within, n * (width / (2 * z)) ** 2)
    if difference is not None:
        budget = n * difference**2 / (2 * (z + z_power(power)) ** 2)
        found.tries_for_difference = tries_needed(between, within, budget)
    found.notes = _notes(found)
    return found


def _notes(found: Plan) -> list[str]:
    ci = percent(found.level, digits=0)
    out = []
    if found.width is not None:
        out.append(
            f"a {ci} interval on pass@1 {percent(found.width)} wide needs "
            + _tries(
                found.tries_for_width,
                found,
                f"pass@1 interval is {percent(found.floor_width)} wide",
            )
        )
    if found.difference is not None:
        out.append(
            f"to detect a pass@1 difference of {percent(found.difference)} between two models "
            f"with {percent(found.power, digits=0)} power at {ci}: "
            + _tries(
                found.tries_for_difference,
                found,
                f"detectable difference is {percent(found.floor_difference)}",
            )
        )
    if not found.within_measured:
        out.append(
            "each task was tried once, so the spread between tasks and between tries cannot be "
            "told apart: the plan assumes it is all between tries, which gives the fewest "
            "tries (a lower bound). A run with -k 2 or more measures both."
        )
    return out


def _tries(k: int | None, found: Plan, floor: str) -> str:
    if k is None:
        return (
            f"more than these {found.tasks} tasks allow at any number of tries (the smallest "
            f"reachable {floor})."
        )
    bound = "at least " if not found.within_measured else ""
    return f"{bound}{k} tries per task (-k {k}) on these {found.tasks} tasks."


def plan_lines(found: Plan) -> list[str]:
    """The plan as lines of text (a table of widths by tries, then what was asked)."""
    ci = percent(found.level, digits=0)
    lines = [
        f"Plan from {found.run_id}: {found.tasks} graded tasks; spread between tasks "
        f"{found.between_variance:.4f}, between tries {found.within_variance:.4f}.",
        "",
        f"| tries per task | pass@1 {ci} CI width | earned {ci} CI width |",
        "|---:|---:|---:|",
        *(
            f"| {r.tries} | {percent(r.pass_at_1_width)} | {money(r.earned_usd_width)} |"
            for r in found.rows
        ),
        "",
    ]
    return lines + [f"- {note}" for note in found.notes]
