"""What each privileged host path saves per attempt on a task with a heavy setup (needs a local
Docker engine, run as root).

The Docker backend reads one thing on this host, as root, instead of asking the engine:
layers, a container's change list and an image's files from their overlay2 layers
(`layer_changes`, `layer_files`: `changes`, `image_copy_out`, the snapshot's marker check).

Three more paths were measured with this script and removed, each below 5 s an attempt (the
figures are in docs/ARCHITECTURE.md): reads (a running container's files from its merged
directory), writes (the harness's own copies and deletions there) and processes (the
container's processes from its cgroup and /proc).

This script runs the same attempts (`mock/oracle`, each from the task's post-setup snapshot,
and with `--cold` also without snapshots, so the layers hold the setup's 100,000 files) with
every path on, with each path off alone (the engine's way instead) and with all off, on the
heavy-setup image of `benchmarks/heavy_setup/`, and prints the median seconds of an attempt
(all phases, and the setup and grading phases apart) and what each path saves.

With `--direct` it instead counts the calls one attempt makes of each operation (cold, and
from the snapshot), then times each operation both ways on one set-up heavy container (the
harness's own fallback for the engine's way: an archive, a created container for the image's
files), median of `--rounds`, and prints calls x (engine's way - host's way) per attempt. Read
it beside the whole attempts: most reads are polls (a marker awaited), which a slower read
delays by less than its count says, and the layers' listing also carries each entry's mark,
which spares the patch step a comparison of contents the listing's own time does not show.

    .venv/bin/python benchmarks/host_paths.py [--task 101] [--tries 5] [--cold [--cold-tries 1]]
    .venv/bin/python benchmarks/host_paths.py --off layers [--tries 5]
    .venv/bin/python benchmarks/host_paths.py --direct [--rounds 5]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from snapshots import build_heavy_image, remove_heavy

from swelancer.benchmark import setup
from swelancer.benchmark.shell import TESTS_DIR
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
from swelancer.run.spec import AttemptSettings, labels, sandbox_spec
from swelancer.sandbox.docker import docker_client, processes
from swelancer.sandbox.docker import snapshots as snapshot_store
from swelancer.sandbox.docker.provider import DockerProvider
from swelancer.sandbox.docker.sandbox import DockerSandbox
from swelancer.tasks.catalog import TaskQuery, load_tasks

PATHS = ("layers",)


@contextlib.contextmanager
def without(paths: set[str]) -> Iterator[None]:
    """The named host paths turned off: each then takes the engine's way, as on a remote
    engine (the code's own fallbacks, nothing else changed)."""
    patches: list[tuple[object, str, object]] = []
    if "layers" in paths:
        patches += [(processes, "layers_of", lambda attrs, native_diff: None),
                    (snapshot_store, "image_layers", lambda attrs: None)]  # fmt: skip
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


OPERATIONS = {  # the sandbox's methods behind each path, as run/ and benchmark/ call them
    "layers": ("changes", "image_copy_out"),
}


@contextlib.contextmanager
def counting() -> Iterator[collections.Counter[str]]:
    """How many times an attempt calls each operation of `OPERATIONS`."""
    calls: collections.Counter[str] = collections.Counter()
    saved = {}
    for names in OPERATIONS.values():
        for name in names:
            original = saved[name] = getattr(DockerSandbox, name)

            def counted(self, *args, _name=name, _original=original, **kwargs):
                calls[_name] += 1
                return _original(self, *args, **kwargs)

            setattr(DockerSandbox, name, counted)
    try:
        yield calls
    finally:
        for name, original in saved.items():
            setattr(DockerSandbox, name, original)


def _timed(step: Callable[[], object]) -> float:
    began = time.monotonic()
    step()
    return time.monotonic() - began


class Direct:
    """Each operation both ways on one set-up container; seconds per call, host and engine."""

    def __init__(self, provider, box, image: str, marks: dict[str, str], scratch: Path) -> None:
        self.provider, self.box, self.image, self.marks = provider, box, image, marks
        self.scratch = scratch
        self._n = 0

    def _fresh(self) -> Path:
        self._n += 1
        return self.scratch / f"out-{self._n}"

    def changes(self) -> float:
        return _timed(self.box.changes)

    def image_copy_out(self, host: bool) -> float:
        def engines_way() -> None:
            ref = self.provider.reference(self.image, self.marks)
            try:
                ref.copy_out(f"{TESTS_DIR}/run_tests.yml", self._fresh())
            finally:
                ref.remove()

        if host:
            return _timed(lambda: self.box.image_copy_out(
                f"{TESTS_DIR}/run_tests.yml", self._fresh()))  # fmt: skip
        return _timed(engines_way)

    def both(self, name: str, path: str, rounds: int) -> tuple[float, float]:
        step = getattr(self, name)
        takes_host = name == "image_copy_out"
        host, engine = [], []
        for _ in range(rounds):
            host.append(step(True) if takes_host else step())
            with without({path}):
                engine.append(step(False) if takes_host else step())
        return statistics.median(host), statistics.median(engine)


def direct(client, tag: str, task_id: str, nonce: str, rounds: int, run_ids: list[str]) -> None:
    print("counting each operation's calls in one attempt, cold and from the snapshot ...")
    per_attempt: dict[str, collections.Counter[str]] = {}
    for mode, snapshots in (("cold", False), ("snapshot", True)):
        run_ids.append(f"bench-hp-{nonce}-{len(run_ids)}")
        with counting() as calls:
            run(tag, task_id, 1, snapshots, run_ids[-1])
        per_attempt[mode] = calls
    (task,) = load_tasks(TaskQuery(split="demo", task_ids=[task_id])).tasks
    run_ids.append(f"bench-hp-{nonce}-direct")
    provider = DockerProvider(client)
    settings = AttemptSettings(run_id=run_ids[-1], model="bench", image=tag)
    box = provider.start(sandbox_spec(task, 1, settings, "bench"))
    try:
        print("setting up one heavy container cold (its layers hold the setup's files) ...")
        setup.wait_until_ready(box, task, 1800)
        with tempfile.TemporaryDirectory() as tmp:
            marks = labels(settings, task, 1, "reference")
            bench = Direct(provider, box, tag, marks, Path(tmp))
            print(f"\n{'':<18}{'host s':>8}{'engine s':>9}   calls per attempt (cold/snapshot)"
                  f"   saves per attempt (cold/snapshot)")  # fmt: skip
            totals: dict[str, list[float]] = {}
            for path, names in OPERATIONS.items():
                for name in names:
                    host, engine = bench.both(name, path, rounds)
                    cold, snap = per_attempt["cold"][name], per_attempt["snapshot"][name]
                    saves = [cold * (engine - host), snap * (engine - host)]
                    total = totals.setdefault(path, [0.0, 0.0])
                    total[0] += saves[0]
                    total[1] += saves[1]
                    print(f"  {name:<16}{host:8.3f}{engine:9.3f}   {cold:5d} / {snap:<5d}"
                          f"{'':20}{saves[0]:+7.1f} / {saves[1]:+.1f} s")  # fmt: skip
            print()
            for path, (cold, snap) in totals.items():
                keep = "keep" if max(cold, snap) >= 5 else "below 5 s"
                print(f"  {path:<10} saves {cold:+6.1f} s cold, {snap:+6.1f} s from the snapshot"
                      f" per attempt: {keep}")  # fmt: skip
    finally:
        box.remove()


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
    parser.add_argument("--cold-only", action="store_true", help="Only without snapshots.")
    parser.add_argument("--direct", action="store_true", help="Each operation timed alone.")
    parser.add_argument("--off", action="append", help="Paths to turn off together (repeatable).")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    client = docker_client()
    nonce = secrets.token_hex(3)
    tag = f"swelancer-heavy-setup:bench-{nonce}"
    print(f"building {tag} ...", flush=True)
    image_id = build_heavy_image(client, tag)
    if args.off:  # e.g. --off reads --off writes,processes: those, beside every path on
        offs = [set(group.split(",")) for group in args.off]
        unknown = set().union(*offs) - set(PATHS)
        if unknown:
            parser.error(f"unknown path(s) {', '.join(sorted(unknown))}; choose from {PATHS}")
        configs = [("every path on", set())]
        configs += [(" and ".join(sorted(off)) + " off", off) for off in offs]
    else:
        configs = [("every path on", set())] + [(f"{p} off", {p}) for p in PATHS]
        configs.append(("every path off", set(PATHS)))
    run_ids: list[str] = []
    try:
        if args.direct:
            direct(client, tag, args.task, nonce, args.rounds, run_ids)
            return
        began = time.monotonic()
        run_ids.append(f"bench-hp-{nonce}-snap")
        run(tag, args.task, 1, True, run_ids[-1])  # the task's snapshot, kept for what follows
        print(f"cold setup and snapshot: {time.monotonic() - began:.0f} s", flush=True)
        modes = [] if args.cold_only else [("from the snapshot", True, args.tries)]
        if args.cold or args.cold_only:
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
            print(f"  {'':<26}{'attempt':>19}{'setup':>9}{'grading':>9}{'saves':>9}  passed")
            base = figures(found[configs[0][0]])[0]
            for label, _ in configs:
                records = found[label]
                total, setup, grading, passed = figures(records)
                spread = [sum(r.seconds.model_dump().values()) for r in records]
                saves = "" if label == configs[0][0] else f"{total - base:+9.1f}"
                print(f"  {label:<26}{total:7.1f} ({min(spread):4.1f}-{max(spread):4.1f})"
                      f"{setup:9.1f}{grading:9.1f}{saves:>9}  {passed}/{len(records)}",
                      flush=True)  # fmt: skip
        print("\n'saves': an attempt's seconds with that path off minus with every path on.")
    finally:
        remove_heavy(client, run_ids, image_id, tag)


if __name__ == "__main__":
    main()
