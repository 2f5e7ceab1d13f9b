"""What a post-setup snapshot saves on a task with a heavy setup (needs a Docker engine).

Builds a test-only image from benchmarks/heavy_setup/ (the demo image whose setup also runs an
offline `npm install` writing about 300 MB in 100,000 files) and prints:

- cold setup: seconds from `docker run` to the ready marker, setup run in the container;
- commit: seconds to commit that container as the task's snapshot, and the snapshot's size;
- start from the snapshot: seconds from `docker run` to the ready marker (median of 3);
- `-k 5 --grade-in fresh` with `mock/oracle`: the seconds all containers of the run spent
  getting ready (and committing), with and without snapshots, next to one cold setup (the one
  above, and the run's own cold container's: same moment, same load).

Targets (issue 12): a start from a snapshot at least 20x faster than a cold setup; the run
with snapshots spends at most 1.3x one cold setup on setup in all.

    .venv/bin/python benchmarks/snapshots.py [--task 101] [--tries 5] [-j 2] [--skip-runs]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from swelancer.benchmark import setup
from swelancer.config import (
    AgentSection,
    GradingSection,
    RunConfig,
    RunSection,
    SandboxSection,
    Selection,
)
from swelancer.format import size
from swelancer.ops.images import DEMO_IMAGE
from swelancer.run.runner import Runner
from swelancer.run.spec import AttemptSettings, sandbox_spec
from swelancer.sandbox.docker import docker_client, remove_containers
from swelancer.sandbox.docker.images import ensure_images
from swelancer.sandbox.docker.provider import DockerProvider
from swelancer.sandbox.docker.snapshot_index import list_snapshots
from swelancer.sandbox.docker.snapshots import SnapshotStore
from swelancer.tasks.catalog import TaskQuery, load_tasks

HERE = Path(__file__).parent / "heavy_setup"


def build_heavy_image(client, tag: str) -> str:
    """The heavy-setup image, with a label of its own so that its id (and so its snapshots'
    names) is this benchmark's alone."""
    ensure_images(client, [DEMO_IMAGE])
    image, _ = client.images.build(
        path=str(HERE), tag=tag, rm=True, buildargs={"BASE": DEMO_IMAGE},
        labels={"swelancer.benchmark.run": tag},
    )  # fmt: skip
    return str(image.id)


class ReadyClock:
    """Seconds from each container's start to its ready marker, by where it started from,
    and the seconds commits took (wraps the provider, the wait and the store)."""

    def __init__(self, base_image: str) -> None:
        self.base_image = base_image
        self.ready: list[tuple[str, float]] = []
        self.commits: list[float] = []
        self._started: dict[str, float] = {}
        self._wait = setup.wait_until_ready

    def __enter__(self) -> ReadyClock:
        clock = self

        def wait(sandbox, task, timeout_s):
            clock._wait(sandbox, task, timeout_s)
            began, image = clock._started.pop(sandbox.name, (None, None))
            if began is not None:
                source = "cold" if image == clock.base_image else "snapshot"
                clock.ready.append((source, time.monotonic() - began))

        setup.wait_until_ready = wait
        original_commit = SnapshotStore.commit

        def commit(store, *args, **kwargs):
            began = time.monotonic()
            made = original_commit(store, *args, **kwargs)
            if made.name:
                clock.commits.append(time.monotonic() - began)
            return made

        SnapshotStore.commit = commit  # type: ignore[method-assign]
        self._commit = original_commit
        return self

    def __exit__(self, *exc: object) -> None:
        setup.wait_until_ready = self._wait
        SnapshotStore.commit = self._commit  # type: ignore[method-assign]

    def provider(self) -> DockerProvider:
        clock = self

        class Timed(DockerProvider):
            def start(self, spec):
                began = time.monotonic()
                box = super().start(spec)
                clock._started[box.name] = (began, spec.image)
                return box

        return Timed()

    def total(self, source: str | None = None) -> float:
        return sum(s for where, s in self.ready if source in (None, where))


def one_task(client, image: str, task, run_id: str) -> dict[str, float]:
    """Cold setup, commit and starts from the snapshot of one task, through the harness's
    own store and wait."""
    provider = DockerProvider(client)
    store = SnapshotStore(client, run_id=run_id, budget_bytes=50 * 10**9)
    settings = AttemptSettings(run_id=run_id, model="bench", image=image)
    spec = sandbox_spec(task, 1, settings, "bench")
    began = time.monotonic()
    box = provider.start(spec)
    try:
        setup.wait_until_ready(box, task, 1800)
        cold = time.monotonic() - began
        made = store.commit(box, image, task.task_id)
    finally:
        box.remove()
    assert made.name, made.refused
    starts = []
    for _ in range(3):
        began = time.monotonic()
        name = store.find(image, task.task_id)
        assert name == made.name
        box = provider.start(spec.model_copy(update={"image": name}))
        try:
            setup.wait_until_ready(box, task, 300)
            starts.append(time.monotonic() - began)
        finally:
            box.remove()
    store.finish()
    return {"cold": cold, "commit": made.seconds, "bytes": made.bytes,
            "start": statistics.median(starts), "starts": starts}  # fmt: skip


def run_k(image: str, task_id: str, tries: int, jobs: int, snapshots: bool, tag: str):
    with tempfile.TemporaryDirectory() as tmp, ReadyClock(image) as clock:
        config = RunConfig(
            agent=AgentSection(model="mock/oracle"),
            selection=Selection(split="demo", task_ids=[task_id]),
            run=RunSection(results_dir=Path(tmp), run_id=tag, tries=tries, concurrency=jobs),
            sandbox=SandboxSection(image=image, snapshots=snapshots),
            grading=GradingSection(grade_in="fresh", test_runs=1),
        )
        began = time.monotonic()
        summary = Runner(config, say=lambda line: None, provider=clock.provider()).run()
        wall = time.monotonic() - began
        records = (Path(tmp) / tag / "attempts.jsonl").read_text().splitlines()
    return clock, summary, wall, len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="101")
    parser.add_argument("--tries", "-k", type=int, default=5)
    parser.add_argument("--jobs", "-j", type=int, default=2)
    parser.add_argument("--skip-runs", action="store_true", help="Only the one-task figures.")
    args = parser.parse_args()
    client = docker_client()
    nonce = secrets.token_hex(3)
    tag = f"swelancer-heavy-setup:bench-{nonce}"
    print(f"building {tag} from {HERE} ...", flush=True)
    image_id = build_heavy_image(client, tag)
    (task,) = load_tasks(TaskQuery(split="demo", task_ids=[args.task])).tasks
    try:
        one = one_task(client, tag, task, f"bench-snap-{nonce}")
        print(f"cold setup                      {one['cold']:7.1f} s")
        print(f"commit                          {one['commit']:7.1f} s")
        print(f"snapshot size                   {size(one['bytes']):>9}")
        print(f"start from the snapshot         {one['start']:7.2f} s (median of "
              f"{', '.join(f'{s:.2f}' for s in one['starts'])})")  # fmt: skip
        speedup = one["cold"] / one["start"]
        print(f"  -> {speedup:.0f}x faster than cold (target >= 20x: "
              f"{'met' if speedup >= 20 else 'NOT met'})")  # fmt: skip
        if args.skip_runs:
            return
        for snapshots in (True, False):  # the run with snapshots first: no removals before it
            os.sync()  # what earlier phases wrote is on disk, not written back meanwhile
            label = "with snapshots" if snapshots else "without snapshots"
            clock, summary, wall, n = run_k(tag, args.task, args.tries, args.jobs, snapshots,
                                            f"bench-k-{nonce}-{int(snapshots)}")  # fmt: skip
            colds = [s for where, s in clock.ready if where == "cold"]
            total = clock.total() + sum(clock.commits)
            print(
                f"-k {args.tries} --grade-in fresh {label}: {len(clock.ready)} containers "
                f"({len(colds)} cold), setup {clock.total():.1f} s + commits "
                f"{sum(clock.commits):.1f} s = {total:.1f} s = {total / one['cold']:.2f}x the "
                f"cold setup above, {total / statistics.median(colds):.2f}x this run's own cold "
                f"setup ({statistics.median(colds):.1f} s); run {wall:.0f} s, "
                f"{summary.passed}/{n} passed"
            )
            if snapshots:
                ratio = total / colds[0]
                print(f"  -> target <= 1.3x one cold setup: {'met' if ratio <= 1.3 else 'NOT met'}")
    finally:
        runs = (f"bench-snap-{nonce}", f"bench-k-{nonce}-0", f"bench-k-{nonce}-1")
        remove_heavy(client, runs, image_id, tag)


def remove_heavy(client, run_ids, image_id: str, tag: str) -> None:
    """What a benchmark on the heavy-setup image made: its runs' containers, the image's
    snapshots and the image."""
    for run_id in run_ids:
        remove_containers(client, run_id=run_id)
    for snapshot in list_snapshots(client):
        if snapshot.base_id == image_id:
            client.images.remove(snapshot.image_id, force=True)
    client.images.remove(tag, force=True)


if __name__ == "__main__":
    main()
