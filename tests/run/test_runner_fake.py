"""The runner (`run.runner.Runner`) on fake sandboxes: a run of the demo tasks end to end,
retries of infrastructure faults, faults of the harness, resume, the run's cost limit, Ctrl-C,
and that a run's sandboxes are gone when it ends."""

from __future__ import annotations

import functools
import json

import pytest

from swelancer.config import (
    AgentSection,
    GradingSection,
    LimitsSection,
    RunConfig,
    RunSection,
    Selection,
)
from swelancer.errors import ConfigError, FaultKind, InfraError, SwelancerError
from swelancer.models import scripted
from swelancer.models.base import Usage
from swelancer.ops.images import DEMO_IMAGE
from swelancer.run import runner as runner_module
from swelancer.run.job import Workbench
from swelancer.run.results import read_records
from swelancer.run.runner import Runner
from swelancer.tasks.manifest import load_manifest
from swelancer.tasks.sources import demo_manifest_path
from tests.fakes.engine import build_output
from tests.fakes.sandbox import FakeProvider, FakeSnapshotStore
from tests.fakes.sandbox_images import image_for_tasks

PRICES = {"101": 250.0, "102_1": 500.0, "103": 1000.0, "110-manager-0": 8000.0}


class Progress:
    """A progress sink that keeps what it is told (and can stand in for a Ctrl-C)."""

    def __init__(self, interrupt_after: int | None = None) -> None:
        self.interrupt_after = interrupt_after
        self.records: list[tuple[str, int, int]] = []
        self.notes: list[str] = []
        self.phases: list[tuple[str, int, str]] = []
        self.closed = False

    def start(self, *, run_id: str, planned: int, done_before: int, to_run: int) -> None:
        self.started = (planned, done_before, to_run)

    def phase(self, task_id: str, attempt: int, phase: str) -> None:
        self.phases.append((task_id, attempt, phase))

    def finished(self, record, index: int) -> None:
        self.records.append((record.task_id, record.attempt, index))
        if self.interrupt_after is not None and len(self.records) >= self.interrupt_after:
            raise KeyboardInterrupt

    def note(self, line: str) -> None:
        self.notes.append(line)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def provider():
    provider = FakeProvider(image_for_tasks(load_manifest(demo_manifest_path()), DEMO_IMAGE))
    yield provider
    assert provider.unknown == [], "the harness sent commands the fake does not know"
    assert provider.live() == [], "a run's sandboxes are removed when it ends"


@pytest.fixture
def backoffs(monkeypatch) -> list[float]:
    """The pauses between retries, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(
        runner_module, "Workbench", functools.partial(Workbench, backoff=slept.append)
    )
    return slept


def config(tmp_path, model="mock/oracle", tasks=("101", "110-manager-0"), *, grade_in="fresh",
           limits=None, **run) -> RunConfig:  # fmt: skip
    run = {"run_id": "fake-run", "results_dir": tmp_path, "concurrency": 2, **run}
    return RunConfig(
        agent=AgentSection(model=model),
        selection=Selection(split="demo", task_ids=list(tasks)),
        run=RunSection(**run),
        grading=GradingSection(grade_in=grade_in),
        limits=LimitsSection(**(limits or {})),
    )


def run(cfg: RunConfig, provider, progress: Progress | None = None):
    progress = progress or Progress()
    said: list[str] = []
    summary = Runner(cfg, say=said.append, make_progress=lambda path: progress,
                     provider=provider).run()  # fmt: skip
    return summary, progress, said


def records(tmp_path, run_id="fake-run"):
    return read_records(tmp_path / run_id / "attempts.jsonl")


def run_json(tmp_path, run_id="fake-run") -> dict:
    return json.loads((tmp_path / run_id / "run.json").read_text())


# -- whole runs -------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["mock/oracle", "mock/noop"])
def test_a_run_of_demo_tasks(provider, tmp_path, backoffs, model):
    tasks = ("101", "102_1", "110-manager-0")
    summary, progress, said = run(config(tmp_path, model, tasks), provider)
    solved = model == "mock/oracle"
    total = sum(PRICES[t] for t in tasks)
    assert (summary.planned, summary.recorded, summary.errors) == (3, 3, 0)
    assert (summary.passed, summary.failed) == ((3, 0) if solved else (0, 3))
    assert summary.earned_usd == (total if solved else 0.0) and summary.attempted_usd == total
    found = records(tmp_path)
    assert sorted(r.task_id for r in found) == sorted(tasks)
    assert {r.status for r in found} == {"passed" if solved else "failed"}
    assert {r.graded_in for r in found if r.variant == "ic_swe"} == {"fresh"}
    meta = run_json(tmp_path)
    assert meta["status"] == "complete" and meta["model"] == model
    assert meta["versions"]["engine"] == provider.facts()
    assert meta["images"] == {DEMO_IMAGE: provider.images[DEMO_IMAGE].id}
    assert sorted(i for _, _, i in progress.records) == [1, 2, 3] and progress.closed
    assert progress.started == (3, 0, 3)
    assert {p for _, _, p in progress.phases} >= {"setup", "agent", "grading"}
    assert any("3 tasks × 1 tries" in line for line in said)
    assert backoffs == []
    for r in found:
        assert (tmp_path / "fake-run" / "attempts" / r.task_id / "1" / "transcript.jsonl").exists()


def test_every_sandbox_names_its_run_directory_for_cleanup(provider, tmp_path):
    """`swelancer cleanup` asks the lock of the directory a container's label names."""
    run(config(tmp_path), provider)
    named = {box.labels.get("swelancer.run_dir") for box in provider.sandboxes}
    assert named == {str((tmp_path / "fake-run").resolve())}


def test_a_run_with_no_task_or_no_image_writes_nothing(provider, tmp_path):
    with pytest.raises(ConfigError, match="no task matches"):
        Runner(config(tmp_path, tasks=()).model_copy(update={"selection": Selection(
            split="demo", limit=0)}), say=print, provider=provider).run()  # fmt: skip
    with pytest.raises(InfraError) as caught:
        run(config(tmp_path), FakeProvider())
    assert caught.value.kind == FaultKind.IMAGE_MISSING
    assert list(tmp_path.iterdir()) == []


def test_the_image_build_is_a_few_lines_and_its_log_is_in_the_run_directory(provider, tmp_path):
    lines = build_output(steps=12, lines=570)
    provider.demo_build = (lines, None)
    summary, _, said = run(config(tmp_path), provider)
    log = tmp_path / "fake-run" / "image-build.log"
    begun = [n for n, line in enumerate(said) if line.startswith("run fake-run:")]
    about_it = said[: begun[0]]  # the images are ready before the run begins
    assert len(about_it) <= 3 and all(str(log) in line for line in about_it), about_it
    assert log.read_text().splitlines()[1:] == lines and summary.recorded == 2


def test_a_failed_image_build_says_where_its_log_is_and_how_it_ended(provider, tmp_path):
    lines = build_output(steps=12, lines=570, fail_at=7)
    provider.demo_build = (lines, "The command '/bin/sh -c make 7' returned a non-zero code: 2")
    with pytest.raises(InfraError) as caught:
        run(config(tmp_path), provider)
    log = tmp_path / "fake-run" / "image-build.log"
    assert caught.value.kind == FaultKind.IMAGE_BUILD and str(log) in str(caught.value)
    assert "non-zero code: 2" in str(caught.value) and lines[-1] in caught.value.tail
    assert [p.name for p in log.parent.iterdir()] == ["image-build.log"]  # no run began


# -- faults -------------------------------------------------------------------------------------


def test_an_infrastructure_fault_is_retried(provider, tmp_path, backoffs):
    provider.inject("playbook", "raise", kind=FaultKind.DOCKER, task="101")
    _, progress, _ = run(config(tmp_path, tasks=("101",)), provider)
    (record,) = records(tmp_path)
    assert record.status == "passed" and record.infra_retries == 1
    assert backoffs == [2.0]
    assert any("101 #1: infrastructure fault (docker)" in n and "retry 1 of 2" in n
               for n in progress.notes)  # fmt: skip
    aside = tmp_path / "fake-run" / "attempts" / "101" / "1.unfinished-1"
    assert "docker: injected fault" in (aside / "error.txt").read_text()


def test_a_fault_that_keeps_happening_is_an_error_kept_out_of_the_scores(provider, tmp_path,
                                                                         backoffs):  # fmt: skip
    provider.inject("playbook", "raise", kind=FaultKind.DOCKER, task="101", times=None)
    summary, _, _ = run(config(tmp_path, tasks=("101", "110-manager-0")), provider)
    by_task = {r.task_id: r for r in records(tmp_path)}
    error = by_task["101"]
    assert error.status == "error" and error.error.kind == "docker"
    assert error.infra_retries == 2 and error.earned_usd == 0
    assert backoffs == [2.0, 4.0]
    assert (summary.errors, summary.passed, summary.failed) == (1, 1, 0)
    assert summary.attempted_usd == 8000.0, "errors are outside the denominators"


def test_a_fault_that_is_not_retryable_is_recorded_at_once(provider, tmp_path, backoffs):
    provider.inject("playbook", "raise", kind=FaultKind.TASK_MISSING, retryable=False, times=None)
    run(config(tmp_path, tasks=("101",)), provider)
    (record,) = records(tmp_path)
    assert record.error.kind == "task_missing" and record.infra_retries == 0
    assert backoffs == [] and len(provider.made("agent")) == 1


def test_a_bug_of_the_harness_is_an_error_with_its_traceback(provider, tmp_path, backoffs):
    provider.inject("fresh_history", "bug", task="101", times=None)
    run(config(tmp_path, tasks=("101",), max_retries=1), provider)
    (record,) = records(tmp_path)
    assert record.status == "error" and record.error.kind == "harness"
    assert "the harness failed on this attempt (FakeBug: injected fault" in record.error.message
    text = (tmp_path / "fake-run" / "attempts" / "101" / "1" / "error.txt").read_text()
    assert "Traceback" in text and "FakeBug" in text and "harness: the harness failed" in text
    assert record.infra_retries == 1 and backoffs == [2.0]


def test_the_container_dying_in_the_agents_turn_is_a_failure_not_an_error(provider, tmp_path,
                                                                          backoffs):  # fmt: skip
    provider.inject("gold_patch", "die", task="101")
    run(config(tmp_path, tasks=("101",)), provider)
    (record,) = records(tmp_path)
    assert record.status == "failed" and record.infra_retries == 0 and backoffs == []


def test_a_disk_fault_stops_the_run_and_says_how_to_resume(provider, tmp_path, backoffs):
    def full(box):
        raise OSError(28, "No space left on device")

    provider.inject("fresh_history", "call", then=full, task="101")
    with pytest.raises(SwelancerError, match="No space left on device"):
        run(config(tmp_path, tasks=("101",)), provider)
    assert run_json(tmp_path)["status"] == "stopped" and records(tmp_path) == []


def test_a_missing_file_is_this_attempts_fault_and_the_run_goes_on(provider, tmp_path, backoffs):
    """A path gone, a name too long: what a container's files can raise is recorded on the
    attempt (the run and every resume finish), unlike this machine's own disk faults."""

    def gone(box):
        raise FileNotFoundError(2, "No such file or directory", "/app/expensify/user_tool/x")

    provider.inject("fresh_history", "call", then=gone, task="101", times=None)
    run(config(tmp_path, tasks=("101", "102_1"), max_retries=1), provider)
    by_task = {r.task_id: r for r in records(tmp_path)}
    assert by_task["101"].status == "error" and by_task["101"].error.kind == "harness"
    assert "FileNotFoundError" in by_task["101"].error.message
    assert by_task["102_1"].status == "passed" and run_json(tmp_path)["status"] != "stopped"
    again, _, _ = run(config(tmp_path, tasks=("101", "102_1"), max_retries=1), provider)
    assert again.recorded == 0 and len(records(tmp_path)) == 2


# -- resume, tries, stop ---------------------------------------------------------------------


def test_resume_runs_only_what_is_missing(provider, tmp_path, backoffs):
    run(config(tmp_path, tasks=("101",), tries=2), provider)
    assert sorted((r.task_id, r.attempt) for r in records(tmp_path)) == [("101", 1), ("101", 2)]
    started = len(provider.made("agent"))
    again, progress, _ = run(config(tmp_path, tasks=("101",), tries=2), provider)
    assert (again.recorded, again.done_before, again.planned) == (0, 2, 2)
    assert len(provider.made("agent")) == started and progress.started == (2, 2, 0)
    more, _, _ = run(config(tmp_path, tasks=("101",), tries=3), provider)
    assert more.recorded == 1
    keys = [(r.task_id, r.attempt) for r in records(tmp_path)]
    assert sorted(keys) == [("101", 1), ("101", 2), ("101", 3)] and keys[-1] == ("101", 3)
    with pytest.raises(ConfigError, match="was made with model 'mock/oracle'"):
        run(config(tmp_path, "mock/noop", tasks=("101",)), provider)


def test_ctrl_c_abandons_unfinished_attempts_and_the_run_resumes(provider, tmp_path, backoffs):
    provider.inject("playbook", "block", task="102_1")  # runs until its sandbox is removed
    cfg = config(tmp_path, tasks=("101", "102_1"), grade_in="same")
    said: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        Runner(cfg, say=said.append, make_progress=lambda path: Progress(interrupt_after=1),
               provider=provider).run()  # fmt: skip
    assert provider.live() == []
    assert [r.task_id for r in records(tmp_path)] == ["101"]
    for line in (tmp_path / "fake-run" / "attempts.jsonl").read_text().splitlines():
        json.loads(line)  # every line whole
    meta = run_json(tmp_path)
    assert (meta["status"], meta["stopped_by"]) == ("interrupted", "KeyboardInterrupt")
    assert any(line.startswith("interrupted: unfinished attempts") for line in said)
    summary, _, _ = run(config(tmp_path, tasks=("101", "102_1"), grade_in="same"), provider)
    assert (summary.done_before, summary.recorded, summary.passed) == (1, 1, 1)
    assert sorted((r.task_id, r.attempt) for r in records(tmp_path)) == [("101", 1), ("102_1", 1)]
    assert (tmp_path / "fake-run" / "attempts" / "102_1" / "1.unfinished-1").is_dir()
    assert run_json(tmp_path)["status"] == "complete"


# -- the run's cost limit --------------------------------------------------------------------


class CostlyModel(scripted.ScriptedChatModel):
    """The scripted model, at 3 cents a reply."""

    def complete(self, messages, tools=None):
        reply = super().complete(messages, tools)
        usage = Usage(input_tokens=1000, output_tokens=50)
        return reply.model_copy(update={"cost_usd": 0.03, "usage": usage})


def test_the_run_cost_limit_stops_starting_attempts(provider, tmp_path, backoffs, monkeypatch):
    monkeypatch.setattr(scripted, "ScriptedChatModel", CostlyModel)
    script = tmp_path / "script.json"
    script.write_text(json.dumps(["DONE"]))
    model = f"mock/scripted:{script}"
    limits = {"max_run_cost_usd": 0.05}
    cfg = config(tmp_path, model, ("101", "102_1", "103"), limits=limits, concurrency=1)
    _, _, said = run(cfg, provider)
    found = records(tmp_path)
    assert [r.task_id for r in found] == ["101", "102_1"], "the third attempt never started"
    assert [r.cost_usd for r in found] == [0.03, 0.03]
    assert [r.tokens.input for r in found] == [1000, 1000]
    meta = run_json(tmp_path)
    assert (meta["status"], meta["stopped_by"]) == ("incomplete", "max_run_cost_usd")
    assert any("API cost limit ($0.05) was reached" in line for line in said)
    cfg = config(tmp_path, model, ("101", "102_1", "103"), limits=limits, concurrency=1)
    again, _, _ = run(cfg, provider)
    assert again.recorded == 0, "what earlier sessions spent counts against the limit"


def test_resume_refuses_a_changed_manifest(provider, tmp_path, backoffs):
    run(config(tmp_path, tasks=("101",)), provider)
    meta = run_json(tmp_path)
    meta["manifest"]["sha256"] = "0" * 64
    (tmp_path / "fake-run" / "run.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="manifest with sha256 000000000000"):
        run(config(tmp_path, tasks=("101",)), provider)


def test_a_run_sets_each_task_up_once_and_removes_its_snapshots(tmp_path, backoffs):
    image = image_for_tasks(load_manifest(demo_manifest_path()), DEMO_IMAGE)
    provider = FakeProvider(image, snapshots=True)
    _, _, said = run(config(tmp_path, tasks=("101", "110-manager-0"), tries=2), provider)
    setups = sorted((r.task_id, r.attempt, r.setup_from["agent"]) for r in records(tmp_path))
    assert [s for s in setups if s[0] == "101"] in (
        [("101", 1, "cold"), ("101", 2, "snapshot")],
        [("101", 1, "snapshot"), ("101", 2, "cold")],
    )
    assert all(r.setup_from.get("grader") == "snapshot" for r in records(tmp_path)
               if r.variant == "ic_swe")  # fmt: skip
    assert [s[2] for s in setups if s[0] != "101"] == ["cold", "cold"], "no manager snapshot"
    assert len(provider.stores) == 1
    assert any(line.startswith("snapshots: made swelancer-snapshot/101") for line in said)
    assert list(provider.images) == [DEMO_IMAGE], "the run's snapshots are gone"
    assert provider.live() == []


def test_cleanup_that_fails_is_reported_not_raised(tmp_path, backoffs, monkeypatch):
    image = image_for_tasks(load_manifest(demo_manifest_path()), DEMO_IMAGE)
    provider = FakeProvider(image, snapshots=True)

    def refuse(*args, **kwargs):
        raise InfraError("the engine refused", kind=FaultKind.DOCKER)

    monkeypatch.setattr(FakeSnapshotStore, "finish", refuse)
    summary, _, said = run(config(tmp_path, tasks=("101",)), provider)
    assert summary.passed == 1
    assert any("could not remove the run's snapshots (the engine refused)" in s for s in said)
    monkeypatch.setattr(provider, "remove_run", refuse)
    cfg = config(tmp_path, tasks=("101", "102_1"), run_id="second", concurrency=1)
    with pytest.raises(KeyboardInterrupt):
        Runner(cfg, say=said.append, make_progress=lambda path: Progress(interrupt_after=1),
               provider=provider).run()  # fmt: skip
    assert any("could not remove every container (the engine refused)" in s for s in said)
    assert provider.live() == []


def test_a_sandbox_an_attempt_could_not_remove_is_removed_when_the_run_ends(
    provider, tmp_path, backoffs, monkeypatch
):
    from tests.fakes.sandbox import FakeSandbox

    remove = FakeSandbox.remove
    refused: list[str] = []

    def engine_gone_once(box):  # as when the engine restarts while the attempt ends
        if box.role == "agent" and not refused:
            refused.append(box.name)
            raise InfraError("Cannot connect to the Docker daemon", kind=FaultKind.DOCKER)
        remove(box)

    monkeypatch.setattr(FakeSandbox, "remove", engine_gone_once)
    summary, _, _ = run(config(tmp_path, tasks=("101",)), provider)
    assert summary.recorded == 1 and refused  # the fixture checks that nothing is left


class RemovalsProvider(FakeProvider):
    """Keeps the run id of every `remove_run` it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.removals: list[object] = []

    def remove_run(self, run_id: str) -> list[str]:
        self.removals.append(run_id)
        return super().remove_run(run_id)


def test_a_runner_without_a_run_id_removes_no_containers(tmp_path):
    """The containers of a run are found by its id: before `run()` fixes one, the runner's
    cleanup asks the provider for nothing (no id would mean every run's) and says so."""
    said: list[str] = []
    provider = RemovalsProvider()
    runner = Runner(config(tmp_path, run_id=None), say=said.append, provider=provider)
    with pytest.raises(SwelancerError, match="no id yet"):
        _ = runner.run_id
    runner._remove_containers()
    assert provider.removals == []
    assert any("could not remove every container" in line for line in said)


def test_a_stop_from_outside_is_one_retry_and_the_gold_agent_earns_everything(provider, tmp_path,
                                                                             backoffs):  # fmt: skip
    provider.inject("gold_patch", "outside", message="the engine was asked to remove it")
    summary, _, _ = run(config(tmp_path, "mock/oracle", ("101",)), provider)
    (record,) = records(tmp_path)
    assert record.status == "passed" and record.infra_retries == 1
    assert record.earned_usd == record.price_usd and summary.errors == 0
    assert provider.live() == []
