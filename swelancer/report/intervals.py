"""The intervals of a run's headline figures: pass@1, pass@k and dollars earned, with tasks as
clusters and the tries of a task as samples within them.

pass@1 takes a clustered Wilson interval stratified by variant and price range
(`stats.stratified_wilson`), pass@k a clustered one (`stats.clustered_wilson`); dollars a
bootstrap of tasks' residuals within each variant, each task keeping its price
(`stats.residual_draws`). A group's draws are the sum of its strata's, so the run's dollars and
each variant's come from the same resamples. Each random stream is seeded from the report's
seed and the group's name: the same attempts.jsonl and seed give the same intervals, in any
order of computation. Why these methods: docs/STATISTICS.md.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from math import sqrt

from swelancer.report.models import Interval, Statistics
from swelancer.report.stats import (
    clustered_wilson,
    percentile_interval,
    residual_draws,
    stratified_wilson,
    z_value,
)
from swelancer.tasks.models import PRICE_BUCKETS, price_bucket

PASS_RATE_METHOD = (
    "clustered Wilson interval (effective tries from the tasks' spread within each variant "
    "and price range)"
)
"""Wilson's interval at the effective number of independent tries (Kish), from the spread of
the tasks' pass rates within each variant and price range."""
DOLLARS_METHOD = "residual task bootstrap within each variant, prices fixed (percentile)"
"""Each task keeps its price and takes a residual (a task's mean over its tries less its price
range's mean) drawn with replacement from its variant's tasks."""
MIN_STRATUM = 5
"""Price ranges of a variant with fewer tasks than this are merged with the next cheaper one
(a stratum of one task would not vary)."""


def statistics(level: float = 0.95, resamples: int = 2000, seed: int = 0) -> Statistics:
    """The settings of a report's intervals, with the methods named."""
    return Statistics(
        level=level,
        resamples=resamples,
        seed=seed,
        pass_rate_method=PASS_RATE_METHOD,
        dollars_method=DOLLARS_METHOD,
    )


@dataclass(frozen=True)
class TaskSample:
    """One task's graded tries: its variant, its price, the score of each try, and its
    unbiased pass@k (None when k is 1)."""

    variant: str
    price: float
    scores: tuple[float, ...]
    pass_k: float | None = None

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores)


def _interval(bounds: tuple[float, float], digits: int) -> Interval:
    return Interval(low=round(bounds[0], digits), high=round(bounds[1], digits))


def pass_interval(tasks: Sequence[TaskSample], stats: Statistics) -> Interval | None:
    """The interval of pass@1 (the mean over tasks of each task's mean score); None with fewer
    than `stats.min_tasks` tasks."""
    if len(tasks) < stats.min_tasks:
        return None
    samples = sum(len(t.scores) for t in tasks)
    means = [[m for _, m in stratum] for stratum in strata(tasks)]
    return _interval(stratified_wilson(means, samples, stats.level), 4)


def pass_k_interval(tasks: Sequence[TaskSample], stats: Statistics) -> Interval | None:
    """The interval of pass@k: the same clustered Wilson over the tasks' pass@k estimates."""
    hits = [t.pass_k for t in tasks if t.pass_k is not None]
    if len(hits) < stats.min_tasks or len(hits) < len(tasks):
        return None
    samples = sum(len(t.scores) for t in tasks)
    return _interval(clustered_wilson(hits, samples, stats.level), 4)


def strata(tasks: Sequence[TaskSample]) -> list[list[tuple[float, float]]]:
    """The tasks as (price, mean) in strata of one variant and price range; a range with fewer
    than MIN_STRATUM tasks joins the next dearer one (the dearest joins the one before)."""
    labels = [label for label, _, _ in PRICE_BUCKETS]
    by_variant: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for t in tasks:  # one pass: a report's run of thousands of tasks, or a simulation's many
        by_variant.setdefault(t.variant, {}).setdefault(price_bucket(t.price), []).append(
            (t.price, t.mean)
        )
    out: list[list[tuple[float, float]]] = []
    for variant in sorted(by_variant):
        by_bucket = [by_variant[variant].get(label, []) for label in labels]
        groups: list[list[tuple[float, float]]] = []
        pending: list[tuple[float, float]] = []
        for bucket in by_bucket:
            pending += bucket
            if len(pending) >= MIN_STRATUM:
                groups.append(pending)
                pending = []
        if pending:
            if groups:
                groups[-1] += pending
            else:
                groups.append(pending)
        out += groups
    return out


def _pseudo(groups: list[list[tuple[float, float]]], level: float) -> float:
    """The pseudo-residual of a variant: the spread of one try at Agresti and Coull's shrunk
    pass rate (z^2/2 successes and failures added), sqrt(p~(1-p~))."""
    means = [m for group in groups for _, m in group]
    z2 = z_value(level) ** 2
    shrunk = (sum(means) + z2 / 2) / (len(means) + z2)
    return sqrt(shrunk * (1 - shrunk))


def dollar_draws(tasks: Sequence[TaskSample], stats: Statistics, name: str) -> list[float]:
    """`stats.resamples` bootstrap draws of the dollars a group earned, one per resample.

    Each variant is drawn from its own stream (so that a variant's draws are the same alone and
    within the run; the run's are their sum). Within a variant every task keeps its price and
    takes a residual drawn from all the variant's tasks: a task's mean score less the mean of
    its price range (`strata`). The residuals pool the whole variant, so that a $32,000 task's
    outcome varies as the variant's do; centring them on their price range keeps the ranges'
    different pass rates (dear tasks are harder) out of the spread; two pseudo-residuals
    (`_pseudo`) keep a variant passed or failed whole from a zero-width interval. Drawing
    outcomes within
    each price range instead, a dear range of a dozen tasks covered the truth in only 83-92 %
    of simulated runs. Why: docs/STATISTICS.md."""
    earned = sum(t.price * t.mean for t in tasks)
    total = [earned] * stats.resamples
    for variant in sorted({t.variant for t in tasks}):
        groups = strata([t for t in tasks if t.variant == variant])
        prices = [price for group in groups for price, _ in group]
        residuals = []
        for group in groups:  # each task's mean less its stratum's, the centre taken once
            centre = sum(m for _, m in group) / len(group)
            residuals += [m - centre for _, m in group]
        rng = random.Random(f"{stats.seed}:{name}:{variant}")
        draws = residual_draws(
            prices, residuals, len(groups), stats.resamples, rng, _pseudo(groups, stats.level)
        )
        total = [a + b for a, b in zip(total, draws, strict=True)]
    return total


def earned_interval(
    draws: Sequence[float], tasks: Sequence[TaskSample], stats: Statistics
) -> Interval | None:
    """The interval of dollars earned from a group's draws, within $0 and the group's dollars
    available; None with too few tasks."""
    if len(tasks) < stats.min_tasks or not draws:
        return None
    low, high = percentile_interval(draws, stats.level)
    return _interval((max(low, 0.0), min(high, sum(t.price for t in tasks))), 0)
