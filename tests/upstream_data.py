"""Paths of the real upstream task data beside the repository (`../shared/upstream`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from swelancer.tasks.models import IcTask, ManagerTask

REPO = Path(__file__).resolve().parents[1]
UPSTREAM = REPO.parent / "shared" / "upstream"
CURRENT = UPSTREAM / "inspect_evals_0.26.0" / "all_swelancer_tasks.csv"
LITE = UPSTREAM / "SWELancer-Benchmark_fff675d" / "swelancer_tasks_lite.csv"
OLDER_FULL = UPSTREAM / "SWELancer-Benchmark_ac32eb9" / "swelancer_tasks.csv"
ISSUES = UPSTREAM / "preparedness_51052ce_issues"


def need(path: Path) -> Path:
    """The path, or a test failure saying the shared data is missing (never a silent skip)."""
    if not path.exists():
        pytest.fail(f"real upstream data missing: {path} (expected ../shared/upstream beside repo)")
    return path


@cache
def upstream_tasks(path: Path) -> tuple[IcTask | ManagerTask, ...]:
    """The tasks of a real upstream manifest, loaded once per test process (a quarter of a
    second each time for the current one). Tests only read them; a test of loading itself, or
    of a file it writes, calls `load_manifest`."""
    from swelancer.tasks.manifest import load_manifest

    return tuple(load_manifest(need(path)))
