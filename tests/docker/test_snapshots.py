"""Post-setup snapshots on the real engine: the same verdicts with and without them, a budget
never exceeded, one snapshot per task however many attempts start together, stale or marked
snapshots never reused, `images snapshot` resumable, and nothing left after a killed run.

Every test works on private copies of the demo and contract images (an image of one label
over the shared one, so no disk is spent): the snapshots it makes are named after that image's
id, so that neither other runs on this engine nor these tests see each other's.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from contract.build import MANIFEST as CONTRACT_MANIFEST

from swelancer.benchmark.setup import wait_until_ready
from swelancer.config import (
    AgentSection,
    GradingSection,
    RunConfig,
    RunSection,
    SandboxSection,
    Selection,
)
from swelancer.ops.images import DEMO_IMAGE
from swelancer.ops.snapshots import build_snapshots
from swelancer.run.runner import Runner
from swelancer.run.spec import AttemptSettings, sandbox_spec
from swelancer.sandbox.docker import DockerSandbox
from swelancer.sandbox.docker.images import ensure_images
from swelancer.sandbox.docker.provider import DockerProvider
from swelancer.sandbox.docker.snapshot_index import list_snapshots, snapshot_labels
from swelancer.sandbox.docker.snapshots import MARKER, SnapshotStore, snapshot_name
from swelancer.tasks.catalog import TaskQuery, load_tasks
from swelancer.tasks.models import IcTask

pytestmark = pytest.mark.docker

AGENTS = ("mock/oracle", "mock/noop")
"""A change that fixes the task and none. (mock/first does on IC tasks what mock/noop does, and
manager tasks take no snapshot.)"""
DEMO_TASKS = ("101", "102_1")
CONTRACT_TASKS = ("91342",)
COMPARED = ("status", "earned_usd", "test_exit_codes", "graded_folder")
DEMO_MANIFEST = Path(__file__).resolve().parents[2] / "tasks" / "demo" / "manifest.csv"


def swelancer(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "swelancer", *args],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def start(*args: str) -> subprocess.Popen:
    """`swelancer ARGS` in the background, its stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "swelancer", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def tasks_args(tasks: tuple[str, ...]) -> list[str]:
    return [arg for task in tasks for arg in ("--task", task)]


def records(run_dir: Path) -> list[dict]:
    lines = (run_dir / "attempts.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def snapshots_of(client: Any, base: str) -> list:
    """The snapshots made from the image `base` (tagged or not)."""
    base_id = client.images.get(base).id
    return [s for s in list_snapshots(client) if s.base_id == base_id]


def containers_of(client: Any, run_id: str) -> list:
    return client.containers.list(all=True, filters={"label": f"swelancer.run_id={run_id}"})


def private_image(client: Any, base: str, name: str, run_id: str) -> Iterator[str]:
    """`base` under a name and id of its own (one label more); removed with its snapshots."""
    dockerfile = f"FROM {base}\nLABEL swelancer.test.snapshots={run_id}\n".encode()
    client.images.build(fileobj=io.BytesIO(dockerfile), tag=name, rm=True)
    yield name
    for container in client.containers.list(all=True, filters={"ancestor": name}):
        container.remove(force=True)
    drop_snapshots(client, name)
    client.images.remove(name, force=True)


def drop_snapshots(client: Any, base: str) -> None:
    """Remove the snapshots of `base` (a private image) and what uses them."""
    for snapshot in snapshots_of(client, base):
        for container in client.containers.list(all=True, filters={"ancestor": snapshot.image_id}):
            container.remove(force=True)
        client.images.remove(snapshot.image_id, force=True)


@pytest.fixture(scope="module")
def demo_base(docker_client: Any, docker_run_id: str) -> Iterator[str]:
    ensure_images(docker_client, [DEMO_IMAGE])
    name = f"swelancer-snaptest-{docker_run_id}:demo"
    yield from private_image(docker_client, DEMO_IMAGE, name, docker_run_id)


@pytest.fixture(autouse=True)
def no_snapshots_around(docker_client: Any, demo_base: str) -> Iterator[None]:
    """Each test starts, and leaves, with no snapshot of the private demo image."""
    drop_snapshots(docker_client, demo_base)
    yield
    drop_snapshots(docker_client, demo_base)


@pytest.fixture(scope="module")
def contract_prefix(docker_client: Any, docker_run_id: str, contract_images) -> Iterator[str]:
    """An image prefix whose monolith is a private copy of the contract monolith."""
    from contract.build import IMAGE_PREFIX, IMAGE_TAG

    prefix = f"swelancer-snaptest-{docker_run_id}/swelancer_x86"
    source = f"{IMAGE_PREFIX}_monolith:{IMAGE_TAG}"
    for _ in private_image(docker_client, source, f"{prefix}_monolith:{IMAGE_TAG}", docker_run_id):
        yield prefix


class ScopedClient:
    """The engine's client, with the snapshot listing limited to those of one base image, so
    that a budget test neither counts nor evicts the snapshots of runs it does not own."""

    def __init__(self, client: Any, base_id: str) -> None:
        self._client = client
        self.api = _ScopedApi(client.api, base_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class _ScopedApi:
    def __init__(self, api: Any, base_id: str) -> None:
        self._api, self._base_id = api, base_id

    def images(self, *args: Any, filters: dict | None = None, **kwargs: Any) -> list:
        filters = dict(filters or {})
        labels = filters.get("label") or []
        labels = [labels] if isinstance(labels, str) else list(labels)
        if "swelancer.snapshot=1" in labels:
            labels.append(f"swelancer.snapshot.base={self._base_id}")
        filters["label"] = labels
        return self._api.images(*args, filters=filters, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)


class Watch:
    """Sums the sizes of the snapshots a store sees, every few milliseconds, while it runs."""

    def __init__(self, client: Any) -> None:
        self.client, self.peak, self.seen = client, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = sum(s.bytes for s in list_snapshots(self.client))
            self.peak, self.seen = max(self.peak, total), self.seen + 1
            time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# (a) the same verdicts


def test_a_fix_and_no_change_get_the_same_verdicts_with_and_without_snapshots(
    demo_base: str, contract_prefix: str, tmp_path: Path, docker_run_id: str
) -> None:
    contract = ("--manifest", str(CONTRACT_MANIFEST), "--image-prefix", contract_prefix,
                "--image-tag", "contract", *tasks_args(CONTRACT_TASKS))  # fmt: skip
    demo = ("--split", "demo", "--image", demo_base, *tasks_args(DEMO_TASKS))
    sets = {"demo": demo, "contract": contract}

    def run_id(name: str, agent: str, mode: str) -> str:
        return f"{docker_run_id}-{name}-{agent.split('/')[1]}-{mode.strip('-')}"

    def run(name: str, agent: str, mode: str) -> subprocess.Popen:
        # a fresh grader applies the agent's patch, so it matters where there is one
        grade_in = "fresh" if name == "demo" and agent == "mock/oracle" else "same"
        return start("run", *sets[name], "--model", agent, mode, "--grade-in", grade_in,
                     "--test-runs", "1", "-j", "2", "--quiet", "--results-dir", str(tmp_path),
                     "--run-id", run_id(name, agent, mode))  # fmt: skip

    # The cold runs start at once; those with snapshots once `images snapshot` made them.
    builds = {name: start("images", "snapshot", *where) for name, where in sets.items()}
    runs = {(n, a, "--no-snapshots"): run(n, a, "--no-snapshots") for n in sets for a in AGENTS}
    for name, build in builds.items():
        _, err = build.communicate(timeout=600)
        assert build.returncode == 0, err[-3000:]
        runs.update({(name, a, "--snapshots"): run(name, a, "--snapshots") for a in AGENTS})
    found: dict[tuple[str, str, str], dict[str, dict]] = {}
    for key, proc in runs.items():
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, (key, err[-3000:])
        found[key] = {r["task_id"]: r for r in records(tmp_path / run_id(*key))}
    for (name, agent, mode), by_task in found.items():
        want = "cold" if mode == "--no-snapshots" else "snapshot"
        for record in by_task.values():
            assert set(record["setup_from"].values()) == {want}, (name, agent, mode, record)
        if mode == "--snapshots":
            continue
        twin = found[(name, agent, "--snapshots")]
        assert set(twin) == set(by_task) == set(DEMO_TASKS if name == "demo" else CONTRACT_TASKS)
        for task_id, record in by_task.items():
            for field in COMPARED:
                assert twin[task_id][field] == record[field], (name, agent, task_id, field)
    oracle = [r for (_, a, _), rs in found.items() if a == "mock/oracle" for r in rs.values()]
    others = [r for (_, a, _), rs in found.items() if a != "mock/oracle" for r in rs.values()]
    assert {r["status"] for r in oracle} == {"passed"}  # the comparison is not of nothing
    assert {r["status"] for r in others} == {"failed"}


# ---------------------------------------------------------------------------------------------
# (b) the budget


def test_the_budget_is_never_exceeded_by_a_run_nor_by_images_snapshot(
    demo_base: str, docker_client: Any, tmp_path: Path, docker_run_id: str
) -> None:
    base_id = docker_client.images.get(demo_base).id
    scoped = ScopedClient(docker_client, base_id)
    budget = 90_000  # two demo snapshots (32-41 kB each), never three
    lines: list[str] = []
    config = RunConfig(
        agent=AgentSection(model="mock/noop"),
        selection=Selection(split="demo", task_ids=["104", "105", "106"]),
        run=RunSection(results_dir=tmp_path, run_id=f"{docker_run_id}-budget", concurrency=2),
        sandbox=SandboxSection(image=demo_base, snapshot_budget=str(budget)),
        grading=GradingSection(test_runs=1),
    )
    with Watch(scoped) as run_watch:
        summary = Runner(config, say=lines.append, provider=DockerProvider(scoped)).run()
    assert summary.errors == 0 and summary.recorded == 3
    assert run_watch.seen > 10 and 0 < run_watch.peak <= budget, run_watch.peak
    assert any("evicted snapshot" in line for line in lines), lines  # the third made room

    store = SnapshotStore(scoped, run_id=f"{docker_run_id}-build", budget_bytes=budget, keep=True)
    ids = ["101", "103", "107_1"]
    tasks = [t for t in load_tasks(TaskQuery(split="demo", task_ids=ids)).tasks]
    settings = AttemptSettings(run_id=store.run_id, model="snapshot", image=demo_base)
    with Watch(scoped) as build_watch:
        report = build_snapshots(
            [t for t in tasks if isinstance(t, IcTask)], dict.fromkeys(ids, demo_base),
            store=store, provider=DockerProvider(scoped), setup_timeout_s=300, say=lines.append,
            spec_for=lambda task, image: sandbox_spec(task, 1, settings, "snapshot"), concurrency=2,
        )  # fmt: skip
    assert len(report.made) == 2 and report.stopped, report  # two fit, the third would not
    (unmade,) = set(ids) - set(report.made)
    assert unmade in report.stopped and "budget" in report.stopped
    assert 0 < build_watch.peak <= budget, build_watch.peak
    assert sum(s.bytes for s in snapshots_of(docker_client, demo_base)) <= budget
    assert containers_of(docker_client, store.run_id) == []


# ---------------------------------------------------------------------------------------------
# (c) one snapshot per task


def test_two_attempts_that_start_together_make_one_snapshot(
    demo_base: str, docker_client: Any, tmp_path: Path, docker_run_id: str
) -> None:
    run_id = f"{docker_run_id}-together"
    done = swelancer("run", "--split", "demo", "--task", "103", "--image", demo_base, "-k", "2",
                     "-j", "2", "--model", "mock/oracle", "--test-runs", "1", "--keep-snapshots",
                     "--quiet", "--results-dir", str(tmp_path), "--run-id", run_id)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    made = [s for s in snapshots_of(docker_client, demo_base) if s.run_id == run_id]
    assert len(made) == 1 and made[0].tagged and made[0].task_id == "103", made
    sources = sorted(r["setup_from"]["agent"] for r in records(tmp_path / run_id))
    assert sources == ["cold", "snapshot"]


# ---------------------------------------------------------------------------------------------
# (d) and (e): stale snapshots and ready markers


def plant(client: Any, base: str, task_id: str, run_id: str, *, marker: bool = False,
          **label_changes: str) -> str:  # fmt: skip
    """A snapshot of `task_id` made by hand (no setup ran in it), with the labels a store
    gives, some replaced; with `marker`, holding `/setup_done.txt` saying done."""
    base_id = client.images.get(base).id
    container = client.containers.create(base, labels={"swelancer.run_id": run_id})
    try:
        if marker:
            data = io.BytesIO()
            with tarfile.open(fileobj=data, mode="w") as tar:
                info = tarfile.TarInfo(MARKER.lstrip("/"))
                info.size = 5
                tar.addfile(info, io.BytesIO(b"done\n"))
            container.put_archive("/", data.getvalue())
        labels = {**snapshot_labels(base_id, base, task_id, run_id, kept=True), **label_changes}
        repository, tag = snapshot_name(task_id, base_id).rsplit(":", 1)
        changes = ["ENV RUNTIME_SETUP="] + [f'LABEL {k}="{v}"' for k, v in labels.items()]
        return container.commit(repository=repository, tag=tag, changes=changes).id
    finally:
        container.remove(force=True)


def test_a_snapshot_another_run_used_is_removed_by_the_last_run_that_used_it(
    demo_base: str, docker_client: Any, docker_run_id: str
) -> None:
    maker_id, user_id = f"{docker_run_id}-maker", f"{docker_run_id}-user"
    not_kept = {"swelancer.snapshot.kept": "0"}
    planted = plant(docker_client, demo_base, "105", maker_id, **not_kept)
    maker = SnapshotStore(docker_client, run_id=maker_id, budget_bytes=10**9)
    maker._made.append(planted)  # as if `maker` had committed it
    user = SnapshotStore(docker_client, run_id=user_id, budget_bytes=10**9)
    name = user.find(demo_base, "105")
    assert name is not None
    box = DockerSandbox.start(name, labels={"swelancer.run_id": user_id})
    try:
        assert maker.finish() == []  # refused: the other run's container uses it
        assert [s.image_id for s in snapshots_of(docker_client, demo_base)] == [planted]
    finally:
        box.remove()
    assert user.finish() == [planted]  # the last run that used it removes it
    assert snapshots_of(docker_client, demo_base) == []


def test_a_snapshot_of_another_base_image_or_setup_version_is_not_reused(
    demo_base: str, docker_client: Any, tmp_path: Path, docker_run_id: str
) -> None:
    stale = {  # task: the label that makes its planted snapshot stale
        "104": {"swelancer.snapshot.base": "sha256:" + "0" * 64},
        "106": {"swelancer.snapshot.version": "0"},
    }
    planted = {t: plant(docker_client, demo_base, t, f"{docker_run_id}-stale", **changed)
               for t, changed in stale.items()}  # fmt: skip
    store = SnapshotStore(docker_client, run_id=f"{docker_run_id}-stale", budget_bytes=10**9)
    for task_id in stale:
        assert store.find(demo_base, task_id) is None and store.lookup(demo_base, task_id) is None
    run_id = f"{docker_run_id}-stale"
    done = swelancer("run", "--split", "demo", *tasks_args(tuple(stale)), "--image", demo_base,
                     "-j", "2", "--model", "mock/oracle", "--test-runs", "1", "--keep-snapshots",
                     "--quiet", "--results-dir", str(tmp_path), "--run-id", run_id)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for record in records(tmp_path / run_id):
        assert record["setup_from"] == {"agent": "cold"} and record["status"] == "passed", record
    base_id = docker_client.images.get(demo_base).id
    fresh = snapshots_of(docker_client, demo_base)  # the stale ones, replaced, are gone
    assert sorted(s.task_id for s in fresh) == sorted(stale)
    assert not {s.image_id for s in fresh} & set(planted.values())
    assert all(s.run_id == run_id and s.valid_for(base_id, s.task_id) for s in fresh)


def test_a_container_from_a_snapshot_is_ready_only_from_its_own_entry_point(
    demo_base: str, docker_client: Any, tmp_path: Path, docker_run_id: str
) -> None:
    planted = plant(docker_client, demo_base, "101", f"{docker_run_id}-marker", marker=True)
    store = SnapshotStore(docker_client, run_id=f"{docker_run_id}-marker", budget_bytes=10**9)
    assert store.lookup(demo_base, "101") is not None  # its labels are right ...
    assert store.find(demo_base, "101") is None  # ... but it holds a marker: never used
    assert any(MARKER in note for note in store.notes), store.notes
    run_id = f"{docker_run_id}-marker-run"
    done = swelancer("run", "--split", "demo", "--task", "101", "--image", demo_base,
                     "--model", "mock/oracle", "--test-runs", "1", "--keep-snapshots", "--quiet",
                     "--results-dir", str(tmp_path), "--run-id", run_id)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (record,) = records(tmp_path / run_id)
    assert record["setup_from"] == {"agent": "cold"} and record["status"] == "passed", record
    (made,) = snapshots_of(docker_client, demo_base)
    assert made.image_id != planted and made.run_id == run_id
    marks = {"swelancer.run_id": docker_run_id}
    with DockerSandbox.reference(made.name, labels=marks) as ref, pytest.raises(FileNotFoundError):
        ref.read_file(MARKER)  # the store's own snapshot holds no marker
    task = IcTask(task_id="101", price_usd=0)
    spec = sandbox_spec(task, 1, AttemptSettings(run_id=docker_run_id, model="x", image=made.name))
    with DockerSandbox.start(made.name, env=spec.env, labels=spec.labels) as box:
        wait_until_ready(box, task, 120)
        assert "[run.sh] setup done" in box.logs()  # its entry point ran to the end ...
        assert MARKER in {path for path, _ in box.changes()}  # ... and wrote the marker itself


# ---------------------------------------------------------------------------------------------
# (f) images snapshot, interrupted and resumed; list and prune see the snapshots


def test_images_snapshot_resumes_after_an_interrupt_with_one_snapshot_per_task(
    demo_base: str, docker_client: Any
) -> None:
    tasks = ("101", "103", "104", "105")
    args = [sys.executable, "-m", "swelancer", "images", "snapshot", "--split", "demo",
            "--image", demo_base, *tasks_args(tasks)]  # fmt: skip
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(f"[1/{len(tasks)}]"):
            break
    time.sleep(0.5)  # the next task's setup is under way
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(seen) + rest
    assert "interrupted" in rest and "Traceback" not in rest
    base_id = docker_client.images.get(demo_base).id
    assert docker_client.containers.list(all=True, filters={"ancestor": base_id}) == []
    before = {s.task_id for s in snapshots_of(docker_client, demo_base)}
    assert before and before < set(tasks), before

    again = swelancer(*args[3:])
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stderr.count("skipped") == len(before), again.stderr
    made = snapshots_of(docker_client, demo_base)
    assert sorted(s.task_id for s in made) == sorted(tasks)  # one each, none twice
    assert all(s.tagged and s.kept and s.bytes > 0 for s in made)

    listed = swelancer("images", "list", "--split", "demo", "--json")
    assert listed.returncode == 0, listed.stderr
    names = {s["name"]: s for s in json.loads(listed.stdout)["snapshots"]}
    assert {s.name for s in made} <= set(names) and all(names[s.name]["kept"] for s in made)
    looked = swelancer("images", "prune", "--manifest", str(DEMO_MANIFEST), "--dry-run",
                       "--json")  # fmt: skip
    assert looked.returncode == 0, looked.stderr
    offered = {s["name"]: s for s in json.loads(looked.stdout)["snapshots"]}
    assert all(offered[s.name]["blocked"] is None and not offered[s.name]["removed"] for s in made)
    assert len(snapshots_of(docker_client, demo_base)) == len(tasks)  # a dry run removes nothing
    left = swelancer("images", "prune", "--manifest", str(DEMO_MANIFEST), "--snapshots",
                     "left", "--dry-run", "--json")  # fmt: skip
    assert not {s.name for s in made} & {s["name"] for s in json.loads(left.stdout)["snapshots"]}


# ---------------------------------------------------------------------------------------------
# (g) a killed run


def test_cleanup_after_a_killed_run_leaves_no_container_and_no_snapshot_not_kept(
    demo_base: str, docker_client: Any, tmp_path: Path, docker_run_id: str
) -> None:
    kept = plant(docker_client, demo_base, "109", f"{docker_run_id}-kept")  # another run's
    run_id = f"{docker_run_id}-killed"
    args = [sys.executable, "-m", "swelancer", "run", "--split", "demo", "--image", demo_base,
            "--task", "103", "--task", "105", "-k", "2", "-j", "2", "--model", "mock/oracle",
            "--quiet", "--results-dir", str(tmp_path), "--run-id", run_id]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if [s for s in snapshots_of(docker_client, demo_base) if s.run_id == run_id]:
            break
        time.sleep(0.1)
    assert proc.poll() is None, f"the run ended before it was killed: {proc.communicate()[1]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(1)  # a commit the engine was making when the harness died ends
    assert [s for s in snapshots_of(docker_client, demo_base) if s.run_id == run_id]
    assert containers_of(docker_client, run_id), "kill -9 leaves containers"
    cleaned = swelancer("cleanup", "--run-id", run_id, "--results-dir", str(tmp_path))
    assert cleaned.returncode == 0, cleaned.stderr
    assert containers_of(docker_client, run_id) == []
    assert [s for s in snapshots_of(docker_client, demo_base) if s.run_id == run_id] == []
    assert [s.image_id for s in snapshots_of(docker_client, demo_base)] == [kept]
