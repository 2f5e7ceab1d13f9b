"""What each privileged host path saves per attempt on a task with a heavy setup (needs a local
Docker engine, run as root).

The Docker backend reads some things on this host, as root, instead of asking the engine:

- reads: a running container's files from its merged directory (`host_files`: `read_file`,
  `copy_out`);
- writes: the harness's own copies and deletions there (`host_writes`: `copy_in` of a new
  path, `remove_here`);
- layers: a container's change list and an image's files from their overlay2 layers
  (`layer_changes`: `changes`, `image_copy_out`, the snapshot's marker check);
- processes: the container's processes from its cgroup and /proc (`engine_processes`,
  `pids_inside`).

This script runs the same attempts (`mock/oracle`, each from the task's post-setup snapshot,
and with `--cold` also without snapshots, so the layers hold the setup's 100,000 files) with
every path on, with each path off alone (the engine's way instead) and with all off, on the
heavy-setup image of `benchmarks/heavy_setup/`, and prints the median seconds of an attempt
(all phases, and the setup and grading phases apart) and what each path saves.

    .venv/bin/python benchmarks/host_paths.py [--task 101] [--tries 5] [--cold [--cold-tries 1]]
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from snapshots import build_heavy_image

from swelancer.config import (
    AgentSection,
    GradingSection,
    RunConfig,
    RunSection,
    SandboxSection,
    Selection,
)
from swelancer.records import AttemptRecord
from swelancer.run.runner import Runner
from swelancer.sandbox.docker import docker_client, host_writes, processes, remove_containers
from swelancer.sandbox.docker import snapshots as snapshot_store
from swelancer.sandbox.docker.files import FilesMixin
from swelancer.sandbox.docker.host_files import HostRoot, NotHosted
from swelancer.sandbox.docker.processes import ProcessesMixin
from swelancer.sandbox.docker.snapshot_index import list_snapshots

PATHS = ("reads", "writes", "layers", "processes")


def _not_hosted(*args: object, **kwargs: object) -> None:
    raise NotHosted("turned off by the benchmark")


def _nothing_here(*args: object, **kwargs: object) -> Iterator[object]:
    raise NotHosted("turned off by the benchmark")
    yield  # a generator, as HostRoot.members is


@contextlib.contextmanager
def without(paths: set[str]) -> Iterator[None]:
    """The named host paths turned off: each then takes the engine's way, as on a remote
    engine (the code's own fallbacks, nothing else changed)."""
    patches: list[tuple[object, str, object]] = []
    if "reads" in paths:
        patches += [(FilesMixin, "_read_hosted", lambda self, path, limit: None),
                    (HostRoot, "members", _nothing_here)]  # fmt: skip
    if "writes" in paths:
        patches += [(host_writes, "write", _not_hosted), (host_writes, "remove", _not_hosted)]
    if "layers" in paths:
        patches += [(processes, "layers_of", lambda attrs, native_diff: None),
                    (snapshot_store, "image_layers", lambda attrs: None)]  # fmt: skip
    if "processes" in paths:
        patches += [(ProcessesMixin, "_cgroup_processes", lambda self: None),
                    (ProcessesMixin, "pids_inside", lambda self, pids: None)]  # fmt: skip
    saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
    try:
        for owner, name, value in patches:
            setattr(owner, name, value)
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def run(image: str, task_id: str, tries: int, snapshots: bool, run_id: str) -> list[AttemptRecord]:
    with tempfile.TemporaryDirectory() as tmp:
        config = RunConfig(
            agent=AgentSection(model="mock/oracle"),
            selection=Selection(split="demo", task_ids=[task_id]),
            run=RunSection(results_dir=Path(tmp), run_id=run_id, tries=tries, concurrency=1),
            sandbox=SandboxSection(image=image, snapshots=snapshots, keep_snapshots=True),
            grading=GradingSection(test_runs=1),
        )
        Runner(config, say=lambda line: None).run()
        lines = (Path(tmp) / run_id / "attempts.jsonl").read_text().splitlines()
    return [AttemptRecord.model_validate_json(line) for line in lines]


def figures(records: list[AttemptRecord]) -> tuple[float, float, float, int]:
    total = statistics.median(r.seconds.setup + r.seconds.agent + r.seconds.grading
                              for r in records)  # fmt: skip
    setup = statistics.median(r.seconds.setup for r in records)
    grading = statistics.median(r.seconds.grading for r in records)
    return total, setup, grading, sum(r.status == "passed" for r in records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="101")
    parser.add_argument("--tries", "-k", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="Also without snapshots.")
    parser.add_argument("--cold-tries", type=int, default=1)
    args = parser.parse_args()
    client = docker_client()
    nonce = secrets.token_hex(3)
    tag = f"swelancer-heavy-setup:bench-{nonce}"
    print(f"building {tag} ...", flush=True)
    image_id = build_heavy_image(client, tag)
    configs = [("every path on", set())] + [(f"{p} off", {p}) for p in PATHS]
    configs.append(("every path off", set(PATHS)))
    run_ids: list[str] = []
    try:
        began = time.monotonic()
        run_ids.append(f"bench-hp-{nonce}-snap")
        run(tag, args.task, 1, True, run_ids[-1])  # the task's snapshot, kept for what follows
        print(f"cold setup and snapshot: {time.monotonic() - began:.0f} s", flush=True)
        modes = [("from the snapshot", True, args.tries)]
        if args.cold:
            modes.append(("cold (no snapshot)", False, args.cold_tries))
        for mode, snapshots, tries in modes:
            found: dict[str, list[AttemptRecord]] = {label: [] for label, _ in configs}
            for round_ in range(tries):  # rounds interleaved: a load that drifts hits all alike
                turn = round_ % len(configs)
                for label, off in configs[turn:] + configs[:turn]:
                    run_ids.append(f"bench-hp-{nonce}-{len(run_ids)}")
                    with without(off):
                        found[label] += run(tag, args.task, 1, snapshots, run_ids[-1])
            print(f"\n{mode}, {tries} attempt(s) each: seconds per attempt, median (min-max)")
            print(f"  {'':<16}{'attempt':>19}{'setup':>9}{'grading':>9}{'saves':>9}  passed")
            base = figures(found[configs[0][0]])[0]
            for label, _ in configs:
                records = found[label]
                total, setup, grading, passed = figures(records)
                spread = [sum(r.seconds.model_dump().values()) for r in records]
                saves = "" if label == configs[0][0] else f"{total - base:+9.1f}"
                print(f"  {label:<16}{total:7.1f} ({min(spread):4.1f}-{max(spread):4.1f})"
                      f"{setup:9.1f}{grading:9.1f}{saves:>9}  {passed}/{len(records)}",
                      flush=True)  # fmt: skip
        print("\n'saves': an attempt's seconds with that path off minus with every path on.")
    finally:
        for run_id in run_ids:
            remove_containers(client, run_id=run_id)
        for snapshot in list_snapshots(client):
            if snapshot.base_id == image_id:
                client.images.remove(snapshot.image_id, force=True)
        client.images.remove(tag, force=True)


if __name__ == "__main__":
    main()
