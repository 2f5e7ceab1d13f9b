"""Per-task snapshots made ahead of a run (`swelancer images snapshot`), and the snapshots
`cleanup` and `images prune` remove.

A snapshot made here is the one a run would make (same store, same labels, the marker removed
the same way), kept for later runs: `swelancer run` finds it and starts every container of the
task from it. The build is resumable (a task with a valid snapshot is skipped) and stays within
the budget: it stops, evicting nothing, before the first snapshot that would not fit.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Literal

from pydantic import BaseModel, Field

from swelancer.benchmark.setup import wait_until_ready
from swelancer.errors import InfraError
from swelancer.format import size
from swelancer.ops.images import blocked_by, containers_by_image
from swelancer.sandbox.base import SandboxProvider, SandboxSpec
from swelancer.sandbox.engine import RUN_LABEL, ImageEngine, SnapshotBuilder
from swelancer.sandbox.snapshot_model import Snapshot
from swelancer.tasks.models import Task

Say = Callable[[str], None]
SpecFor = Callable[[Task, str], SandboxSpec]


class BuildReport(BaseModel):
    """What `build_snapshots` did, by task id."""

    made: list[str] = Field(default_factory=list)
    present: list[str] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict)
    """Tasks whose setup failed (never snapshotted), with why."""
    stopped: str | None = None
    """Why the build stopped early: the next snapshot would not fit in the budget."""


class _Outcome(BaseModel):
    task_id: str
    kind: Literal["made", "present", "failed", "refused", "skipped"]
    line: str


def build_snapshots(
    tasks: list[Task],
    images: dict[str, str],
    *,
    store: SnapshotBuilder,
    provider: SandboxProvider,
    spec_for: SpecFor,
    setup_timeout_s: float,
    say: Say,
    concurrency: int = 1,
) -> BuildReport:
    """Make the snapshot of each task (from `images[task_id]`) that lacks one, `concurrency`
    at a time, saying a line per task; stop starting new ones once one does not fit. The
    containers `spec_for` makes must carry the store's run id (so that an interrupt ends them)."""
    report = BuildReport()
    stop = threading.Event()
    total = len(tasks)

    def record(outcome: _Outcome) -> None:
        if outcome.kind == "skipped":
            return
        if outcome.kind == "refused":
            report.stopped = report.stopped or outcome.line
            return
        if outcome.kind == "failed":
            report.failed[outcome.task_id] = outcome.line
        else:
            getattr(report, outcome.kind).append(outcome.task_id)
        done = len(report.made) + len(report.present) + len(report.failed)
        say(f"[{done}/{total}] {outcome.line}")

    def one(task: Task) -> _Outcome:
        return _snapshot_one(task, images[task.task_id], store, provider, spec_for,
                             setup_timeout_s, stop)  # fmt: skip

    if concurrency <= 1:
        for task in tasks:
            record(one(task))
            if stop.is_set():
                break
        return report
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        waiting = list(tasks)
        running: set[Future] = set()
        try:
            while waiting or running:
                while waiting and len(running) < concurrency and not stop.is_set():
                    running.add(pool.submit(one, waiting.pop(0)))
                if not running:
                    break
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    record(future.result())
        except BaseException:  # Ctrl-C: end the setups under way rather than wait for them
            stop.set()
            provider.remove_run(store.run_id)
            raise
    return report


def _snapshot_one(
    task: Task,
    image: str,
    store: SnapshotBuilder,
    provider: SandboxProvider,
    spec_for: SpecFor,
    timeout_s: float,
    stop: threading.Event,
) -> _Outcome:
    task_id = task.task_id
    if stop.is_set():
        return _Outcome(task_id=task_id, kind="skipped", line="")
    name = store.find(image, task_id)
    if name is not None:
        found = store.lookup(image, task_id)
        shown = f"{name}, {size(found.bytes)}" if found else name
        return _Outcome(task_id=task_id, kind="present",
                        line=f"{task_id}: snapshot present ({shown}), skipped")  # fmt: skip
    started = time.monotonic()
    box = provider.start(spec_for(task, image))
    try:
        try:
            wait_until_ready(box, task, timeout_s)
        except InfraError as exc:
            return _Outcome(task_id=task_id, kind="failed", line=f"{task_id}: setup failed: {exc}")
        setup_s = time.monotonic() - started
        made = store.commit(box, image, task_id, evict=False)
    finally:
        with contextlib.suppress(InfraError):
            box.remove()
    if made.name is None:
        stop.set()
        return _Outcome(task_id=task_id, kind="refused", line=made.refused or "not made")
    line = (
        f"{task_id}: set up in {setup_s:.1f} s, committed in {made.seconds:.1f} s, "
        f"{size(made.bytes)} → {made.name}"
    )
    return _Outcome(task_id=task_id, kind="made", line=line)


# ---------------------------------------------------------------------------------------------
# What cleanup and prune remove


class SnapshotItem(BaseModel):
    """A snapshot `prune` (or `cleanup`) would remove, or keeps and why."""

    snapshot: Snapshot
    blocked: str | None = None
    """Why it is kept after all (a container uses it, or its run still has containers)."""
    removed: bool = False
    error: str | None = None


def _runs_with_containers(engine: ImageEngine) -> set[str]:
    return {
        c.labels.get(f"{RUN_LABEL}.run_id", "")
        for c in engine.containers()
        if c.labels.get(RUN_LABEL) == "1"
    }


def _blocked(snapshot: Snapshot, users: dict, live_runs: set[str]) -> str | None:
    why = blocked_by(users.get(snapshot.image_id, []))
    if why is None and snapshot.run_id in live_runs:
        why = f"its run {snapshot.run_id} still has containers (it may still be going)"
    return why


def snapshot_plan(
    engine: ImageEngine,
    which: Literal["all", "left", "none"] = "all",
    *,
    run_id: str | None = None,
    spare_live_runs: bool = True,
) -> list[SnapshotItem]:
    """The snapshots to remove: `left` those not kept (left behind by a run that was killed,
    or of `run_id`), `all` the kept ones too, `none` nothing. Those a container uses are marked
    `blocked`, and (`spare_live_runs`) those whose run still has containers."""
    if which == "none":
        return []
    users = containers_by_image(engine)
    live = _runs_with_containers(engine) if spare_live_runs else set()
    items = []
    for snapshot in engine.snapshots():
        if which == "left" and snapshot.kept:
            continue
        if run_id is not None and snapshot.run_id != run_id:
            continue
        items.append(SnapshotItem(snapshot=snapshot, blocked=_blocked(snapshot, users, live)))
    return items


def apply_snapshot_plan(engine: ImageEngine, items: list[SnapshotItem]) -> list[SnapshotItem]:
    """Remove the snapshots of a plan that are not blocked, looking at containers again just
    before each removal; never forced."""
    for item in items:
        if item.blocked:
            continue
        users = containers_by_image(engine)
        item.blocked = blocked_by(users.get(item.snapshot.image_id, []))
        if item.blocked:
            continue
        item.error = engine.remove_image(item.snapshot.image_id)
        item.removed = item.error is None
    return items


def remove_left_snapshots(engine: ImageEngine, run_id: str | None) -> list[SnapshotItem]:
    """`cleanup`'s part: the snapshots not kept of `run_id` (of every run when None) that no
    container uses, removed (call after the run's containers are gone)."""
    items = snapshot_plan(engine, "left", run_id=run_id, spare_live_runs=False)
    return apply_snapshot_plan(engine, items)
