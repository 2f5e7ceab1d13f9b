"""Whether one run beats another beyond noise: a paired comparison on the tasks both graded.

Each common task gives a difference in pass rate (the run's mean score minus the baseline's)
and in dollars (that times its price). The paired bootstrap resamples whole tasks, both runs'
outcomes together; the exact sign test (McNemar's exact test when each run tried each task
once) counts the tasks on which the runs disagree. A difference is called beyond noise only
when both agree: its interval leaves out 0 and the sign test's p is below 1 - level. Why:
docs/STATISTICS.md.
"""

from __future__ import annotations

import random
from math import sqrt

from pydantic import Field

from swelancer.format import money, percent
from swelancer.report.models import Interval, ReportModel, RunReport, Statistics
from swelancer.report.stats import bootstrap_p, paired_bootstrap, percentile_interval, sign_test

DRIVERS = 5
"""How many of the tasks that move the dollars most a comparison lists."""


class PairedFigure(ReportModel):
    """The run's figure minus the baseline's on the common tasks, with its paired interval."""

    difference: float
    interval: Interval | None = None
    bootstrap_p: float | None = None
    """Two-sided paired-bootstrap p-value of 'no difference'."""
    beyond_noise: bool = False


class DrivingTask(ReportModel):
    """A common task on which the runs did differently, by how much it moved the dollars."""

    task_id: str
    price_usd: float
    baseline_pass_at_1: float
    pass_at_1: float
    earned_difference_usd: float


class Paired(ReportModel):
    """One run against a baseline, on the tasks both graded."""

    baseline: str
    run: str
    tasks: int
    """Tasks both runs graded: the only ones compared."""
    left_out: int = 0
    """Tasks in either run that the other did not grade."""
    better: int = 0
    """Common tasks with a higher pass rate in the run than in the baseline."""
    worse: int = 0
    sign_test_p: float = 1.0
    """Exact two-sided sign test on the tasks where the runs' pass rates differ."""
    pass_at_1: PairedFigure
    earned_usd: PairedFigure
    baseline_earned_usd: float = 0.0
    run_earned_usd: float = 0.0
    available_usd: float = 0.0
    """The prices of the common tasks."""
    drivers: list[DrivingTask] = Field(default_factory=list)
    verdict: str = ""
    notes: list[str] = Field(default_factory=list)


def _figure(difference: float, draws: list[float], level: float, sign_p: float,
            digits: int, bound: float) -> PairedFigure:  # fmt: skip
    """The difference with its interval (within ±`bound`, what it can be at most) and tests."""
    if not draws:
        return PairedFigure(difference=round(difference, digits))
    low, high = percentile_interval(draws, level)
    low, high = max(low, -bound), min(high, bound)
    interval = Interval(low=round(low, digits), high=round(high, digits))
    low, high = interval.low, interval.high
    p = bootstrap_p(draws)
    beyond = (low > 0 or high < 0) and sign_p < 1 - level
    return PairedFigure(
        difference=round(difference, digits), interval=interval, bootstrap_p=round(p, 4),
        beyond_noise=beyond,
    )  # fmt: skip


def _stretched(sums: list[float], centre: float, n: int, scale: float) -> list[float]:
    """Bootstrap sums as draws of the figure (sum × scale), recentred on the observed figure
    and stretched by sqrt(n/(n-1)) (the plain bootstrap's variance is (n-1)/n too small)."""
    stretch = sqrt(n / (n - 1))
    return [centre + stretch * (s * scale - centre) for s in sums]


def pair(base: RunReport, run: RunReport, stats: Statistics) -> Paired:
    """`run` against `base` on the tasks both graded (the intervals at `stats`' level, with its
    resamples and a stream seeded from its seed and the two runs' ids)."""
    a = {t.task_id: t for t in base.per_task if t.pass_at_1 is not None}
    b = {t.task_id: t for t in run.per_task if t.pass_at_1 is not None}
    common = sorted(set(a) & set(b))
    every = {t.task_id for t in base.per_task} | {t.task_id for t in run.per_task}
    diffs = [(b[t].pass_at_1 or 0.0) - (a[t].pass_at_1 or 0.0) for t in common]
    prices = [a[t].price_usd for t in common]
    dollars = [p * d for p, d in zip(prices, diffs, strict=True)]
    better = sum(d > 0 for d in diffs)
    worse = sum(d < 0 for d in diffs)
    sign_p = sign_test(better, worse)
    n = len(common)
    pass_diff = sum(diffs) / n if n else 0.0
    dollar_diff = sum(dollars)
    pass_draws: list[float] = []
    dollar_draws: list[float] = []
    if n >= stats.min_tasks:
        rng = random.Random(f"{stats.seed}:paired:{base.run_id}:{run.run_id}")
        sums = paired_bootstrap([diffs, dollars], stats.resamples, rng)
        pass_draws = _stretched(sums[0], pass_diff, n, 1 / n)
        dollar_draws = _stretched(sums[1], dollar_diff, n, 1.0)
    level = stats.level
    drivers = sorted(
        (i for i in range(n) if diffs[i]), key=lambda i: (-abs(dollars[i]), common[i])
    )[:DRIVERS]
    found = Paired(
        baseline=base.run_id,
        run=run.run_id,
        tasks=n,
        left_out=len(every) - n,
        better=better,
        worse=worse,
        sign_test_p=round(sign_p, 4),
        pass_at_1=_figure(pass_diff, pass_draws, level, sign_p, 4, 1.0),
        earned_usd=_figure(dollar_diff, dollar_draws, level, sign_p, 0, sum(prices)),
        baseline_earned_usd=round(sum(a[t].earned_usd for t in common), 2),
        run_earned_usd=round(sum(b[t].earned_usd for t in common), 2),
        available_usd=round(sum(prices), 2),
        drivers=[
            DrivingTask(
                task_id=common[i],
                price_usd=prices[i],
                baseline_pass_at_1=a[common[i]].pass_at_1 or 0.0,
                pass_at_1=b[common[i]].pass_at_1 or 0.0,
                earned_difference_usd=round(dollars[i], 2),
            )
            for i in drivers
        ],
        notes=_notes(base, run, n, len(every) - n, stats),
    )
    found.verdict = verdict(found, level)
    return found


def _notes(base: RunReport, run: RunReport, n: int, left_out: int, stats: Statistics) -> list[str]:
    out = []
    if left_out:
        out.append(
            f"{run.run_id} and {base.run_id} are compared on the {n} task(s) both graded; "
            f"{left_out} task(s) that only one of them graded are left out of the comparison."
        )
    if base.prompts != run.prompts:
        out.append(
            f"the models read different prompts ({base.prompts or 'unrecorded'} in "
            f"{base.run_id}, {run.prompts or 'unrecorded'} in {run.run_id}): the difference "
            "is that of model and prompt together."
        )
    if base.tries != run.tries:
        out.append(
            f"the runs tried each task a different number of times ({base.tries} and "
            f"{run.tries}); pass rates are per try, so they compare, but the run with fewer "
            "tries is the noisier."
        )
    if n < stats.min_tasks:
        out.append(f"{n} common task(s): too few for a paired interval to mean anything.")
    return out


def verdict(found: Paired, level: float) -> str:
    """In a sentence: whether the run beat the baseline beyond noise, and by how much."""
    if found.tasks == 0:
        return f"{found.run} and {found.baseline} graded no task in common: no comparison."
    dollars, rate = found.earned_usd, found.pass_at_1
    ci = percent(level, digits=0)
    gap = f"{money(abs(dollars.difference))} {'more' if dollars.difference >= 0 else 'less'}"
    span = ""
    if dollars.interval is not None:
        span = f" ({ci} CI {money(dollars.interval.low)} to {money(dollars.interval.high)})"
    rate_text = f"{rate.difference:+.1%} pass@1"
    if rate.interval is not None:
        rate_text += f" ({ci} CI {rate.interval.low:+.1%} to {rate.interval.high:+.1%})"
    if dollars.beyond_noise or rate.beyond_noise:
        which = dollars if dollars.beyond_noise else rate
        word = "beats" if which.difference > 0 else "trails"
        judged = f"{found.run} {word} {found.baseline} beyond noise"
    else:
        judged = f"{found.run} and {found.baseline} differ within noise"
    return (
        f"{judged}: on {found.tasks} common task(s) it earned {gap}{span}, {rate_text}; "
        f"it did better on {found.better} and worse on {found.worse} "
        f"(exact sign test p = {found.sign_test_p:.3g})."
    )
