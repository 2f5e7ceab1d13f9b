"""RayExecutor's bookkeeping against a stand-in for Ray (no cluster, no Docker): each job settled
once, the concurrency cap, node losses retried and counted, fatal errors ending the run, stop,
and the model keys sent beside the job, never inside it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from swelancer.config import AgentSection, RunConfig, RunSection
from swelancer.errors import ConfigError, SwelancerError
from swelancer.ops.cluster import ClusterInfo, NodeInfo
from swelancer.records import AttemptRecord, utc_now
from swelancer.run.attempt import Interrupted
from swelancer.run.job import AttemptJob, Workbench
from swelancer.run.ray_executor import RayExecutor, classify
from swelancer.run.ray_files import pack
from swelancer.run.ray_worker import AttemptReturn
from swelancer.run.results import RunDir
from swelancer.run.spec import AttemptSettings
from swelancer.tasks.manifest import load_manifest
from swelancer.tasks.sources import demo_manifest_path

HOLD = object()


class NodeDiedError(Exception):
    """Named as Ray's: the executor knows Ray's errors by class name."""


class TaskCancelledError(Exception):
    pass


class RayTaskError(Exception):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class FakeRay:
    """`remote`, `wait`, `get` and `cancel`, with each call's outcome from `behave(order, k)`."""

    def __init__(self, behave) -> None:
        self.behave = behave
        self.calls: list[tuple] = []
        self.options: dict = {}
        self.outcomes: dict[object, tuple[str, object]] = {}
        self.cancelled: list[tuple[object, bool]] = []
        self.peak = 0
        self.alive = True
        self.launched = threading.Condition()

    def remote(self, fn):
        return _Remote(self)

    def launch(self, args: tuple) -> object:
        ref = object()
        with self.launched:
            self.calls.append(args)
            try:
                value = self.behave(args[0], len(self.calls))
                self.outcomes[ref] = ("hold", None) if value is HOLD else ("ok", value)
            except Exception as exc:
                self.outcomes[ref] = ("err", exc)
            self.peak = max(self.peak, len(self.outcomes))
            self.launched.notify_all()
        return ref

    def wait(self, refs, num_returns=1, timeout=None):
        ready = [r for r in refs if self.outcomes.get(r, ("ok",))[0] != "hold"][:num_returns]
        if not ready:
            time.sleep(0.01)
        return ready, [r for r in refs if r not in ready]

    def get(self, ref, timeout=None):
        kind, value = self.outcomes.pop(ref)
        if kind == "err":
            raise value
        return value

    def cancel(self, ref, force=False):
        self.cancelled.append((ref, force))
        self.outcomes[ref] = ("err", TaskCancelledError("cancelled"))

    def nodes(self):
        return [{"Alive": True, "Resources": {"docker_slots": 1.0}}] if self.alive else []

    def get_runtime_context(self):
        raise RuntimeError("no board in this stand-in")

    def wait_for_calls(self, count: int) -> None:
        with self.launched:
            assert self.launched.wait_for(lambda: len(self.calls) >= count, timeout=30)


class _Remote:
    def __init__(self, fake: FakeRay) -> None:
        self.fake = fake

    def options(self, **options):
        self.fake.options = options
        return self

    def remote(self, *args):
        return self.fake.launch(args)


class Provider:
    def __init__(self) -> None:
        self.removed: list[str] = []

    def remove_run(self, run_id: str) -> list[str]:
        self.removed.append(run_id)
        return []


@pytest.fixture(scope="module")
def tasks():
    return {t.task_id: t for t in load_manifest(demo_manifest_path())}


def job(task, max_retries: int = 2) -> AttemptJob:
    settings = AttemptSettings(run_id="r1", model="mock/oracle", image="img")
    return AttemptJob(task=task, attempt=1, settings=settings, max_retries=max_retries)


def returned(order, tmp: Path, node: str = "10.0.0.1/abcdef01") -> AttemptReturn:
    task = order.job.task
    folder = tmp / f"w-{task.task_id}-{time.monotonic_ns()}"
    folder.mkdir()
    (folder / "transcript.jsonl").write_text(f"{task.task_id}\n")
    record = AttemptRecord(
        run_id="r1", task_id=task.task_id, variant=task.variant, attempt=1, status="passed",
        price_usd=task.price_usd, earned_usd=task.price_usd, model="mock/oracle",
        started_at=utc_now(), finished_at=utc_now(), cost_usd=0.25,
    )  # fmt: skip
    return AttemptReturn(record=record, tries=[pack(folder, "try-1")], node=node)


def executor(tmp_path, fake, concurrency=2, budget_limit=None):
    config = RunConfig(
        agent=AgentSection(model="mock/oracle"),
        run=RunSection(run_id="r1", results_dir=tmp_path, concurrency=concurrency),
    )
    notes: list[str] = []
    bench = Workbench(agent=None, provider=Provider(), note=notes.append)  # type: ignore[arg-type]
    bench.budget.limit_usd = budget_limit
    cluster = ClusterInfo(
        address="fake:1",
        ray_version="0",
        nodes=[NodeInfo(node_id="abcdef01" * 7, ip="10.0.0.1", docker_slots=1)],
    )
    run_dir = RunDir(tmp_path / "r1")
    return RayExecutor(bench, run_dir, config, cluster, ray=fake), run_dir, notes


def test_every_job_is_settled_once_within_the_cap_with_its_files(tmp_path, tasks, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-123")
    fake = FakeRay(lambda order, k: returned(order, tmp_path))
    ex, run_dir, _ = executor(tmp_path, fake, concurrency=2)
    chosen = ["101", "102_1", "103", "104", "110-manager-0"]
    futures = [ex.submit(job(tasks[t])) for t in chosen]
    records = [f.result(timeout=60) for f in futures]
    ex.close()

    assert [r.task_id for r in records] == chosen
    assert len(fake.calls) == 5 and fake.peak <= 2
    for t in chosen:
        assert (run_dir.attempt_dir(t, 1) / "transcript.jsonl").read_text() == f"{t}\n"
    assert fake.options == {"resources": {"docker_slots": 1}, "num_cpus": 0, "max_retries": 0}
    for order, keys, _board in fake.calls:
        assert keys == {"OPENAI_API_KEY": "sk-secret-123"}
        assert "sk-secret" not in order.model_dump_json()
    assert ex.bench.budget.spent_usd == pytest.approx(5 * 0.25)  # the driver keeps the run's bill
    assert ex.bench.provider.removed == ["r1"]  # what lost tries left is swept at the end


def test_a_lost_node_is_retried_elsewhere_and_counted(tmp_path, tasks):
    def behave(order, k):
        if k == 1:
            raise NodeDiedError("Task failed because the node it was running on is dead")
        return returned(order, tmp_path)

    fake = FakeRay(behave)
    ex, run_dir, notes = executor(tmp_path, fake)
    record = ex.submit(job(tasks["101"], max_retries=2)).result(timeout=60)
    ex.close()

    assert record.status == "passed" and record.infra_retries == 1
    assert [order.job.max_retries for order, _, _ in fake.calls] == [2, 1]
    lost = run_dir.task_dir("101") / "1.unfinished-1" / "error.txt"
    assert "node_lost" in lost.read_text()
    assert (run_dir.attempt_dir("101", 1) / "transcript.jsonl").exists()
    assert any("retry 1 of 2" in line for line in notes)


def test_a_node_lost_every_time_is_recorded_as_an_error(tmp_path, tasks):
    def behave(order, k):
        raise NodeDiedError("gone")

    fake = FakeRay(behave)
    ex, _, _ = executor(tmp_path, fake)
    record = ex.submit(job(tasks["101"], max_retries=1)).result(timeout=60)
    ex.close()

    assert len(fake.calls) == 2
    assert record.status == "error" and record.error.kind == "node_lost"
    assert record.infra_retries == 1


def test_losing_the_last_node_stops_the_run_instead_of_recording_errors(tmp_path, tasks):
    def behave(order, k):
        fake.alive = False
        raise NodeDiedError("gone")

    fake = FakeRay(behave)
    ex, _, _ = executor(tmp_path, fake)
    future = ex.submit(job(tasks["101"], max_retries=2))
    with pytest.raises(SwelancerError, match="no node of the Ray cluster"):
        future.result(timeout=60)
    ex.close()
    assert len(fake.calls) == 1  # not retried, and no error record made


def test_a_broken_cluster_fails_every_open_job_instead_of_hanging(tmp_path, tasks):
    fake = FakeRay(lambda order, k: HOLD)
    ex, _, _ = executor(tmp_path, fake, concurrency=1)

    def broken(*args, **kwargs):
        raise ConnectionError("GCS unreachable")

    futures = [ex.submit(job(tasks[t])) for t in ("101", "102_1")]
    fake.wait_for_calls(1)
    fake.wait = broken
    for future in futures:
        with pytest.raises(SwelancerError, match="GCS unreachable"):
            future.result(timeout=60)
    ex.close()


def test_a_fatal_error_on_a_worker_ends_the_run_as_locally(tmp_path, tasks):
    def behave(order, k):
        raise RayTaskError(ConfigError("Model 'gpt-4o' needs an API key"))

    ex, _, _ = executor(tmp_path, FakeRay(behave))
    future = ex.submit(job(tasks["101"]))
    with pytest.raises(ConfigError, match="needs an API key"):
        future.result(timeout=60)
    ex.close()


def test_stop_cancels_the_tasks_and_removes_the_run_everywhere(tmp_path, tasks):
    fake = FakeRay(lambda order, k: HOLD)
    ex, _, _ = executor(tmp_path, fake, concurrency=2)
    futures = [ex.submit(job(tasks[t])) for t in ("101", "102_1", "103")]
    fake.wait_for_calls(2)
    ex.stop()
    for future in futures:
        with pytest.raises(Interrupted):
            future.result(timeout=60)
    ex.close()

    assert len(fake.calls) == 2  # the third was never sent
    assert len(fake.cancelled) == 2 and all(force for _, force in fake.cancelled)
    assert "r1" in ex.bench.provider.removed


def test_nothing_is_sent_once_the_run_budget_is_spent(tmp_path, tasks):
    fake = FakeRay(lambda order, k: returned(order, tmp_path))
    ex, _, _ = executor(tmp_path, fake, budget_limit=1.0)
    ex.bench.budget.add(1.0)
    future = ex.submit(job(tasks["101"]))
    with pytest.raises(Interrupted):
        future.result(timeout=60)
    ex.close()
    assert fake.calls == []


def test_ray_errors_are_classified():
    class WorkerCrashedError(Exception):
        pass

    class RuntimeEnvSetupError(Exception):
        pass

    assert classify(WorkerCrashedError("died")).kind == "node_lost"
    assert classify(RuntimeEnvSetupError("pip")).kind == "harness"
    assert isinstance(classify(RayTaskError(Interrupted())), Interrupted)
    disk = OSError(28, "No space left on device")
    assert classify(RayTaskError(disk)).kind == "disk_full"
    assert classify(RayTaskError(KeyError("x"))).kind == "harness"
