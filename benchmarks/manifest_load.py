"""Seconds and peak memory to load a task manifest."""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
from pathlib import Path

from swelancer.tasks.manifest import load_manifest
from swelancer.tasks.sources import demo_manifest_path

UPSTREAM = Path(__file__).resolve().parents[2] / "shared/upstream/inspect_evals_0.26.0"


def main() -> None:
    default = UPSTREAM / "all_swelancer_tasks.csv"
    path = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else (default if default.exists() else demo_manifest_path())
    )
    times = []
    for _ in range(5):
        start = time.perf_counter()
        tasks = load_manifest(path)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    load_manifest(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = path.stat().st_size / 1e6
    print(f"{path} ({size:.1f} MB, {len(tasks)} tasks)")
    print(f"load: median {statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms")
    print(f"peak memory while loading: {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
