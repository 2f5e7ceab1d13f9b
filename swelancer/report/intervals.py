"""The intervals of a run's headline figures: pass@1, pass@k and dollars earned, with tasks as
clusters and the tries of a task as samples within them.

pass@1 and pass@k take a clustered Wilson interval (`stats.clustered_wilson`); dollars a
bootstrap of tasks within strata of one variant and price range, each task keeping its price
(`stats.earned_draws`). A group's draws are the sum of its strata's, so the run's dollars and
each variant's come from the same resamples. Each random stream is seeded from the report's
seed and the group's name: the same attempts.jsonl and seed give the same intervals, in any
order of computation. Why these methods: docs/STATISTICS.md.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from swelancer.report.models import Interval, Statistics
from swelancer.report.stats import (
    clustered_wilson,
    earned_draws,
    percentile_interval,
    stratified_wilson,
)
from swelancer.tasks.models import PRICE_BUCKETS, price_bucket

PASS_RATE_METHOD = "clustered Wilson interval (effective tries from the tasks' spread)"
"""Wilson's interval at the effective number of independent tries (Kish), from the spread of
the tasks' pass rates within each variant and price range."""
DOLLARS_METHOD = "stratified task bootstrap (percentile)"
"""Tasks resampled with replacement within each variant and price range, each keeping its
price and taking a drawn task's outcome over all its tries."""
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
    out: list[list[tuple[float, float]]] = []
    for variant in sorted({t.variant for t in tasks}):
        mine = [t for t in tasks if t.variant == variant]
        by_bucket = [
            [(t.price, t.mean) for t in mine if price_bucket(t.price) == label]
            for label, _, _ in PRICE_BUCKETS
        ]
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


def dollar_draws(tasks: Sequence[TaskSample], stats: Statistics, name: str) -> list[float]:
    """`stats.resamples` bootstrap draws of the dollars a group earned, one per resample: the
    sum over its strata (each variant's strata drawn from its own stream, so that a variant's
    draws are the same alone and within the run)."""
    total = [0.0] * stats.resamples
    for variant in sorted({t.variant for t in tasks}):
        mine = [t for t in tasks if t.variant == variant]
        rng = random.Random(f"{stats.seed}:{name}:{variant}")
        for stratum in earned_draws(strata(mine), stats.resamples, rng):
            total = [a + b for a, b in zip(total, stratum, strict=True)]
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


def variant_draws(
    tasks: Sequence[TaskSample], stats: Statistics, name: str
) -> dict[str, list[float]]:
    """Each variant's dollar draws (the run's are their sum, resample by resample)."""
    return {
        v: dollar_draws([t for t in tasks if t.variant == v], stats, name)
        for v in sorted({t.variant for t in tasks})
    }


def summed(draws: Sequence[Sequence[float]], resamples: int) -> list[float]:
    """Draws added up resample by resample."""
    total = [0.0] * resamples
    for d in draws:
        total = [a + b for a, b in zip(total, d, strict=True)]
    return total
