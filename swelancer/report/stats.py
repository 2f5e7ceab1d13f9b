"""The arithmetic of uncertainty, in the standard library alone: intervals for a mean over
clusters (tasks) of samples (tries), bootstrap resampling of tasks, and exact tests.

Every function takes plain numbers and a `random.Random` where it draws, so that the same
inputs and seed give the same figures. What the numbers mean, and why these methods, is in
docs/STATISTICS.md.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from math import comb, floor, sqrt
from statistics import NormalDist

_NORMAL = NormalDist()


def z_value(level: float) -> float:
    """The two-sided normal quantile of a confidence level (1.96 for 0.95)."""
    return _NORMAL.inv_cdf(0.5 + level / 2)


def z_power(power: float) -> float:
    """The one-sided normal quantile of a power (0.84 for 0.8)."""
    return _NORMAL.inv_cdf(power)


# -- pass rates: a mean over tasks of per-task shares ------------------------------------------


def effective_n(means: Sequence[float], samples: int) -> float:
    """How many independent tries the tasks' means are worth (Kish's effective sample size).

    The variance of the mean of the task means, `var(m)/N` (the clustered variance), set equal
    to `p(1-p)/n`: with one try per task this is N exactly; tries that agree within a task add
    nothing, tries that vary add up to `samples` (every try independent). With p at 0 or 1 the
    spread says nothing, and the tasks count once each (N, the cautious end).
    """
    n = len(means)
    if n == 0:
        return 0.0
    p = sum(means) / n
    spread = sum((m - p) ** 2 for m in means) / n
    if p <= 0 or p >= 1:
        return float(n)
    if spread <= 0:
        return float(max(samples, n))
    return min(max(p * (1 - p) / (spread / n), float(n)), float(max(samples, n)))


def wilson(p: float, n: float, level: float) -> tuple[float, float]:
    """Wilson's score interval for a share `p` of `n` (possibly fractional) trials."""
    if n <= 0:
        return 0.0, 1.0
    z = z_value(level)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * sqrt(max(p * (1 - p) / n + z2 / (4 * n * n), 0.0))
    return max(0.0, centre - half), min(1.0, centre + half)


def clustered_wilson(means: Sequence[float], samples: int, level: float) -> tuple[float, float]:
    """The interval of a mean over tasks of per-task shares: Wilson's at the effective n."""
    p = sum(means) / len(means)
    return wilson(p, effective_n(means, samples), level)


def stratified_wilson(
    strata: Sequence[Sequence[float]], samples: int, level: float
) -> tuple[float, float]:
    """The interval of a mean over tasks of per-task shares, the tasks in strata fixed by the
    benchmark's design (variant and price range): Wilson's at the effective n of the
    stratified variance, sum over strata of (N_s/N)^2 s_s^2/N_s with s_s^2 the spread within
    stratum s (n-1 in its denominator). Bounded as `effective_n` is: at least the tasks, at
    most the tries; the tasks once each when p is 0 or 1 or no stratum has two tasks."""
    means = [m for stratum in strata for m in stratum]
    n = len(means)
    p = sum(means) / n
    if p <= 0 or p >= 1:
        return wilson(p, n, level)
    var = 0.0
    spread_known = False
    for stratum in strata:
        size = len(stratum)
        if size < 2:
            continue
        spread_known = True
        centre = sum(stratum) / size
        s2 = sum((m - centre) ** 2 for m in stratum) / (size - 1)
        var += (size / n) ** 2 * s2 / size
    if not spread_known:
        return wilson(p, n, level)
    eff = float(max(samples, n)) if var <= 0 else p * (1 - p) / var
    return wilson(p, min(max(eff, float(n)), float(max(samples, n))), level)


# -- dollars: the clustered bootstrap ----------------------------------------------------------


def quantile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile of sorted draws: the (B+1)q-th of B order statistics, interpolated (the
    choice of Davison and Hinkley for bootstrap intervals; with few draws it does not pull the
    tails inward as the (B-1)q-th would), clamped to the extremes."""
    if not ordered:
        raise ValueError("no values")
    at = min(max(q * (len(ordered) + 1) - 1, 0.0), len(ordered) - 1.0)
    low = floor(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def percentile_interval(draws: Sequence[float], level: float) -> tuple[float, float]:
    """The central `level` of bootstrap draws."""
    ordered = sorted(draws)
    tail = (1 - level) / 2
    return quantile(ordered, tail), quantile(ordered, 1 - tail)


def residual_draws(
    prices: Sequence[float],
    residuals: Sequence[float],
    groups: int,
    resamples: int,
    rng: random.Random,
    pseudo: float = 0.0,
) -> list[float]:
    """`resamples` draws of how far the dollars earned could be from what was expected: each
    task keeps its price and takes a residual (a task's mean score minus its group's mean)
    drawn with replacement from all of them, and from two pseudo-residuals +pseudo and -pseudo
    (as Agresti and Coull add two successes and two failures: a group passed or failed whole
    still varies; with hundreds of tasks they weigh nothing). The residuals' spread is
    stretched by sqrt(n/(n-groups)) (each group's mean took a degree of freedom); with fewer
    than one degree of freedom the draws do not vary."""
    size = len(prices)
    if size - groups < 1 or size < 2:
        return [0.0] * resamples
    stretch = sqrt(size / (size - groups))
    ordered = sorted(prices)
    runs: list[tuple[float, int, int]] = []  # (price, first, end) of equal prices
    for i, price in enumerate(ordered):
        if runs and runs[-1][0] == price:
            runs[-1] = (price, runs[-1][1], i + 1)
        else:
            runs.append((price, i, i + 1))
    pool = [*residuals, pseudo, -pseudo] if pseudo > 0 else list(residuals)
    out = []
    for _ in range(resamples):
        drawn = rng.choices(pool, k=size)
        out.append(stretch * sum(price * sum(drawn[a:b]) for price, a, b in runs))
    return out


def paired_bootstrap(
    columns: Sequence[Sequence[float]], resamples: int, rng: random.Random
) -> list[list[float]]:
    """Per column, `resamples` sums over the same draws of row indices: a paired bootstrap of
    several per-task figures at once (each resample takes whole tasks)."""
    rows = len(columns[0]) if columns else 0
    out: list[list[float]] = [[] for _ in columns]
    if rows == 0:
        return out
    indices = range(rows)
    for _ in range(resamples):
        picked = rng.choices(indices, k=rows)
        for column, sums in zip(columns, out, strict=True):
            sums.append(sum(column[i] for i in picked))
    return out


def bootstrap_p(draws: Sequence[float]) -> float:
    """Two-sided bootstrap p-value of 'no difference': twice the smaller share of draws on
    either side of zero (a draw at zero counts on both sides), never below 1/(B+1)."""
    if not draws:
        return 1.0
    below = sum(1 for d in draws if d <= 0)
    above = sum(1 for d in draws if d >= 0)
    return min(1.0, 2 * (min(below, above) + 1) / (len(draws) + 1))


# -- exact tests -------------------------------------------------------------------------------


def sign_test(better: int, worse: int) -> float:
    """Exact two-sided sign test: the chance under 'either run as likely to win a task where
    they differ' of a split at least this uneven (McNemar's exact test with one try per task)."""
    n = better + worse
    if n == 0:
        return 1.0
    low = min(better, worse)
    tail = sum(comb(n, i) for i in range(low + 1)) / (1 << n)
    return min(1.0, 2 * tail)
