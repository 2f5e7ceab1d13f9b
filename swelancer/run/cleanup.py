"""What `swelancer cleanup` may take: the containers (and snapshots not kept) of runs that are
over, never those of a run still going on this engine.

A run is over when its run directory's lock is free (the kernel drops it when the run's process
ends, even by `kill -9`). The directory is the container's `swelancer.run_dir` label, else
`<results dir>/<run id>`. Containers of a run with no directory to ask (it was deleted, or they
come from `images snapshot`) are taken only once the newest is older than a grace period.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from swelancer.errors import SwelancerError
from swelancer.run.results import RunDir
from swelancer.run.spec import RUN_DIR_LABEL
from swelancer.sandbox.engine import RUN_LABEL, ContainerInfo, ImageEngine

RUN_ID_LABEL = f"{RUN_LABEL}.run_id"
DEFAULT_GRACE_S = 3600.0
"""How old the newest container of a run with no run directory must be before it is taken."""


class RunContainers(BaseModel):
    """The harness's containers of one run, and what cleanup did with them."""

    run_id: str
    containers: list[str] = Field(default_factory=list)
    run_dir: str | None = None
    newest_s: float | None = None
    """Age of its newest container, in seconds (None when the engine did not say)."""
    skipped: str | None = None
    """Why they were left alone."""
    removed: list[str] = Field(default_factory=list)


def age_s(created: str | None, now: datetime) -> float | None:
    """Seconds since an engine timestamp (`2026-01-02T03:04:05.123456789Z`); None if unreadable."""
    if not created:
        return None
    try:
        when = datetime.fromisoformat(created[:19]).replace(tzinfo=UTC)
    except ValueError:
        return None
    return max(0.0, (now - when).total_seconds())


def group_runs(
    containers: list[ContainerInfo], results_dir: Path, now: datetime
) -> list[RunContainers]:
    """The harness's containers (`swelancer=1`) by run, each with the directory to ask."""
    runs: dict[str, RunContainers] = {}
    for c in containers:
        if c.labels.get(RUN_LABEL) != "1":
            continue
        run_id = c.labels.get(RUN_ID_LABEL, "")
        run = runs.setdefault(run_id, RunContainers(run_id=run_id))
        run.containers.append(c.name)
        run.run_dir = run.run_dir or c.labels.get(RUN_DIR_LABEL) or None
        age = age_s(c.created, now)
        if age is not None:
            run.newest_s = age if run.newest_s is None else min(run.newest_s, age)
    for run in runs.values():
        guess = results_dir / run.run_id
        if run.run_dir is None and run.run_id and "/" not in run.run_id and guess.is_dir():
            run.run_dir = str(guess)
        if run.run_dir is not None and not Path(run.run_dir).is_dir():
            run.run_dir = None
    return sorted(runs.values(), key=lambda r: r.run_id)


@contextlib.contextmanager
def run_over(path: Path) -> Iterator[None]:
    """Hold the run directory's lock (so the run cannot start again meanwhile); raises
    `SwelancerError` naming the holder when the run is still going."""
    with RunDir(path).lock():
        yield


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def clean_runs(
    engine: ImageEngine,
    results_dir: Path,
    *,
    grace_s: float = DEFAULT_GRACE_S,
    force: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[RunContainers]:
    """Remove the containers of every run that is over (all of them with `force`); each run
    with what was removed or why it was skipped."""
    runs = group_runs(engine.containers(), results_dir, now())
    if force:
        gone = set(engine.remove_containers(None))
        for run in runs:
            run.removed = [name for name in run.containers if name in gone]
        return runs
    for run in runs:
        if not run.run_id:
            run.skipped = "they carry no run id, so no run can be asked"
            continue
        if run.run_dir is not None:
            try:
                with run_over(Path(run.run_dir)):
                    run.removed = engine.remove_containers(run.run_id)
            except SwelancerError:
                run.skipped = f"its run directory {run.run_dir} is locked: the run is going"
            continue
        if run.newest_s is None or run.newest_s < grace_s:
            started = (
                "at an unknown time" if run.newest_s is None else (f"{_minutes(run.newest_s)} ago")
            )
            run.skipped = (
                f"no run directory to ask (looked under {results_dir}) and its newest container "
                f"started {started}, within the grace period of {_minutes(grace_s)}"
            )
            continue
        run.removed = engine.remove_containers(run.run_id)
    return runs


def live_run_ids(runs: list[RunContainers], results_dir: Path, snapshot_runs: set[str]) -> set[str]:
    """The runs whose snapshots cleanup must spare: those it skipped, and those (with no
    container now) whose directory under `results_dir` is locked."""
    spared = {run.run_id for run in runs if run.skipped}
    for run_id in snapshot_runs - spared:
        path = results_dir / run_id
        if run_id and "/" not in run_id and path.is_dir():
            try:
                with run_over(path):
                    pass
            except SwelancerError:
                spared.add(run_id)
    return spared
