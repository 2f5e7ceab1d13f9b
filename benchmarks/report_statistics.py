"""Milliseconds the report's intervals and a paired comparison take on a synthetic run
(default: 500 tasks × 5 tries, 2,000 resamples), beside the same figures without intervals."""

from __future__ import annotations

import random
import sys
import time

from swelancer.records import AttemptRecord
from swelancer.report.intervals import statistics
from swelancer.report.metrics import figures, task_rows
from swelancer.report.models import RunReport
from swelancer.report.paired import pair


def records(tasks: int, tries: int, seed: int) -> list[AttemptRecord]:
    rng = random.Random(seed)
    prices = random.Random(0)
    out = []
    for t in range(tasks):
        price = prices.choice([250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 32000.0])
        chance = rng.random()
        for n in range(1, tries + 1):
            status = "error" if rng.random() < 0.02 else rng.choice(["passed", "failed"])
            passed = status == "passed" and rng.random() < chance * 2
            out.append(
                AttemptRecord(
                    run_id=f"r{seed}",
                    task_id=str(t),
                    attempt=n,
                    price_usd=price,
                    variant="ic_swe" if t % 2 else "swe_manager",
                    status="passed" if passed else status,
                    score=float(passed),
                    earned_usd=price * passed,
                    model="synthetic",
                    started_at="t",
                    finished_at="t",
                )
            )
    return out


def best_of(rounds: int, work) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> None:
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    tries = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    resamples = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    stats = statistics(resamples=resamples)
    a, b = records(tasks, tries, 1), records(tasks, tries, 2)
    plain = best_of(3, lambda: figures(a, tries))
    with_ci = best_of(3, lambda: figures(a, tries, stats))
    base, run = (
        RunReport(run_id=f"r{i}", tries=tries, per_task=task_rows(rs)) for i, rs in ((1, a), (2, b))
    )
    paired = best_of(3, lambda: pair(base, run, stats))
    print(f"{tasks} tasks × {tries} tries, {resamples:,} resamples (best of 3)")
    print(f"figures without intervals: {plain:.0f} ms; with intervals: {with_ci:.0f} ms")
    print(f"a paired comparison of two such runs: {paired:.0f} ms")


if __name__ == "__main__":
    main()
