"""Seconds to compute and render the report of a synthetic run (default: 463 tasks × 3)."""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

from swelancer.records import AttemptRecord
from swelancer.report.markdown import render_run
from swelancer.report.metrics import compute
from swelancer.run.results import RunDir


def synthetic_run(path: Path, tasks: int, tries: int) -> RunDir:
    rng = random.Random(7)
    rd = RunDir(path)
    rd.create()
    rd.write_run({"run_id": path.name, "model": "synthetic", "config": {"tries": tries}})
    for t in range(tasks):
        price = rng.choice([250.0, 500.0, 1000.0, 2000.0, 4000.0])
        variant = "ic_swe" if t % 2 else "swe_manager"
        for n in range(1, tries + 1):
            status = rng.choice(["passed", "failed", "failed", "error"])
            passed = status == "passed"
            record = AttemptRecord(
                run_id=path.name,
                task_id=f"{t}",
                variant=variant,
                attempt=n,
                status=status,
                score=float(passed),
                price_usd=price,
                earned_usd=price * passed,
                model="synthetic",
                cost_usd=0.01,
                started_at="t",
                finished_at="t",
            )
            rd.append(record)
    return rd


def main() -> None:
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 463
    tries = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        rd = synthetic_run(Path(tmp) / "synthetic", tasks, tries)
        written = time.perf_counter() - start
        start = time.perf_counter()
        figures = compute(rd.path)
        computed = time.perf_counter() - start
        start = time.perf_counter()
        render_run(figures)
        rendered = time.perf_counter() - start
    print(f"{tasks} tasks × {tries} tries = {tasks * tries} records")
    print(f"append (fsync each): {written:.2f} s, {written / (tasks * tries) * 1000:.2f} ms each")
    print(f"compute: {computed * 1000:.0f} ms; markdown: {rendered * 1000:.0f} ms")


if __name__ == "__main__":
    main()
