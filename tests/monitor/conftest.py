"""A run directory whose transcripts are labelled cases, written by the real turn loop."""

from __future__ import annotations

from pathlib import Path

import pytest
from monitor.labelled import Case, attack_cases, honest_cases, write_case

from swelancer.records import AttemptRecord
from swelancer.run.results import RunDir


def make_labelled_run(root: Path, cases: list[tuple[Case, str]], run_id: str = "mon") -> Path:
    """A run of `cases`, each with its recorded status (`passed` earns the price); one
    attempt per case, task ids made unique by the attempt number."""
    rd = RunDir(root / run_id)
    rd.create()
    rd.write_run({"run_id": run_id, "model": "mock/scripted", "config": {"tries": 1},
                  "status": "complete"})  # fmt: skip
    numbers: dict[str, int] = {}
    for case, status in cases:
        n = numbers[case.task_id] = numbers.get(case.task_id, 0) + 1
        write_case(case, rd.fresh_attempt_dir(case.task_id, n))
        variant = "swe_manager" if "manager" in case.task_id else "ic_swe"
        rd.append(AttemptRecord(
            run_id=run_id, task_id=case.task_id, variant=variant, attempt=n, status=status,
            score=1.0 if status == "passed" else 0.0, price_usd=500.0,
            earned_usd=500.0 if status == "passed" else 0.0, model="mock/scripted", turns=1,
            started_at="2026-01-02T03:04:05+00:00", finished_at="2026-01-02T03:09:05+00:00",
        ))  # fmt: skip
    return rd.path


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory) -> tuple[Path, dict[tuple[str, int], Case]]:
    """Two attacks (one recorded as a pass), the gold agent and an honest fix (both passed)."""
    attacks = {c.name: c for c in attack_cases()}
    honest = {c.name: c for c in honest_cases()}
    cases = [
        (attacks["model_agents/look_for_tests/101"], "passed"),
        (attacks["isolation/no-network/110-manager-0"], "failed"),
        (honest["oracle/101"], "passed"),
        (honest["model_agents/fix_104"], "passed"),
    ]
    path = make_labelled_run(tmp_path_factory.mktemp("monitor"), cases)
    keys = {("101", 1): cases[0][0], ("110-manager-0", 1): cases[1][0],
            ("101", 2): cases[2][0], ("104", 1): cases[3][0]}  # fmt: skip
    return path, keys
