"""Attempts per minute on the demo split with mock/oracle, at several concurrencies."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from swelancer.config import AgentSection, GradingSection, RunConfig, RunSection, Selection
from swelancer.run.runner import Runner


def main() -> None:
    levels = [int(a) for a in sys.argv[1:]] or [1, 2, 4]
    for concurrency in levels:
        with tempfile.TemporaryDirectory() as tmp:
            config = RunConfig(
                agent=AgentSection(model="mock/oracle"),
                selection=Selection(split="demo"),
                run=RunSection(
                    results_dir=Path(tmp), run_id=f"bench-{concurrency}", concurrency=concurrency
                ),
                grading=GradingSection(test_runs=1),
            )
            start = time.perf_counter()
            summary = Runner(config, say=lambda line: None).run()
            seconds = time.perf_counter() - start
        rate = summary.recorded / seconds * 60
        print(
            f"concurrency {concurrency}: {summary.recorded} attempts in {seconds:.0f} s "
            f"({rate:.1f} per minute), {summary.errors} errors"
        )


if __name__ == "__main__":
    main()
