"""How often the report's 95 % intervals hold the truth, on simulated runs of SWE-Lancer's real
price list (the current manifest in ../shared/upstream/) with known chances of success.

Each simulated run draws every task's chance from a Beta (concentration 2) around its expected
one, then its tries; the truth is the mean of the expected chances (pass@1) and the sum of
price × expected chance (dollars). Prints coverage per setting; a right method is near 95 %.

    python benchmarks/interval_coverage.py [RUNS] [RESAMPLES]   # default 400 runs, 500
"""

from __future__ import annotations

import csv
import random
import sys
import time
from pathlib import Path

from swelancer.report.intervals import (
    TaskSample,
    dollar_draws,
    earned_interval,
    pass_interval,
    statistics,
)
from swelancer.tasks.models import PRICE_BUCKETS, price_bucket

MANIFEST = (
    Path(__file__).resolve().parents[1].parent
    / "shared/upstream/inspect_evals_0.26.0/all_swelancer_tasks.csv"
)
LABELS = [label for label, _, _ in PRICE_BUCKETS]


def dearer_harder(variant: str, price: float) -> float:
    return (0.55 if variant == "ic_swe" else 0.7) - 0.07 * LABELS.index(price_bucket(price))


def alike(variant: str, price: float) -> float:
    return 0.35


def prices(variant: str | None) -> list[tuple[str, float]]:
    csv.field_size_limit(1 << 30)
    with MANIFEST.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [(r["variant"], float(r["price"])) for r in rows if variant in (None, r["variant"])]


def coverage(tasks, tries: int, mean, runs: int, resamples: int) -> tuple[float, float]:
    rng = random.Random(2411)
    truth_pass = sum(mean(v, p) for v, p in tasks) / len(tasks)
    truth_usd = sum(p * mean(v, p) for v, p in tasks)
    hit_pass = hit_usd = 0
    for run in range(runs):
        stats = statistics(resamples=resamples, seed=run)
        sample = []
        for variant, price in tasks:
            mu = mean(variant, price)
            chance = rng.betavariate(2 * mu, 2 * (1 - mu))
            scores = tuple(float(rng.random() < chance) for _ in range(tries))
            sample.append(TaskSample(variant, price, scores))
        rate = pass_interval(sample, stats)
        usd = earned_interval(dollar_draws(sample, stats, "run"), sample, stats)
        assert rate is not None and usd is not None
        hit_pass += rate.low <= truth_pass <= rate.high
        hit_usd += usd.low <= truth_usd <= usd.high
    return hit_pass / runs, hit_usd / runs


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    resamples = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    print(f"{runs} simulated runs per setting, {resamples} resamples; 95 % intervals")
    print("tasks         tries  chances         pass@1 covered  dollars covered  seconds")
    for name, variant in (("IC SWE", "ic_swe"), ("SWE Manager", "swe_manager"), ("all", None)):
        tasks = prices(variant)
        for tries in (1, 3):
            for label, mean in (("dearer harder", dearer_harder), ("all alike", alike)):
                start = time.perf_counter()
                rate, usd = coverage(tasks, tries, mean, runs, resamples)
                took = time.perf_counter() - start
                print(f"{name:<13} {tries:>5}  {label:<14} {rate:>15.1%} {usd:>16.1%} {took:>8.1f}")


if __name__ == "__main__":
    main()
