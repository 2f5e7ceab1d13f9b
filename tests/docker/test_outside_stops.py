"""A container removed, killed or paused from outside (the docker CLI, as another user of the
engine would) at each phase of an attempt is an infrastructure fault, retried: the gold agent
still earns every dollar."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest
from cli_runs import containers, records, unique

from swelancer.config import AgentSection, RunConfig, RunSection, Selection
from swelancer.run.runner import Runner

pytestmark = pytest.mark.docker

HOW = {
    "rm": ["docker", "rm", "-f"],
    "kill": ["docker", "kill"],
    "stop": ["docker", "stop", "-t", "1"],
    "pause": ["docker", "pause"],
}
PLAN = {
    "101": ("agent", "rm"), "102_1": ("agent", "kill"), "103": ("agent", "pause"),
    "104": ("judge", "rm"), "105": ("judge", "kill"), "106": ("judge", "stop"),
    "107_1": ("control", "rm"), "108": ("control", "kill"), "109": ("control", "stop"),
}  # fmt: skip
"""Per task: the container hit from outside on its first try (the agent's during its turn,
the judge's during the test run, the control's) and how. A pause is sent only where nothing
runs in the container yet (the turn's start): on Docker 20.10 with cgroup v1, a pause racing
with a command starting in the container was seen to freeze it with no `pause` event and the
engine answering nothing about it until it was thawed by hand (docs/RELIABILITY.md)."""


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True).stdout.strip()


class OutsideHits:
    """A progress sink that hits, once per task, the container `PLAN` names."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.hit: dict[str, str] = {}
        self.problems: list[str] = []
        self._begun: set[str] = set()
        self._threads: list[threading.Thread] = []

    def phase(self, task_id: str, attempt: int, phase: str) -> None:
        if task_id not in PLAN or task_id in self._begun:
            return
        where, how = PLAN[task_id]
        if where == "agent" and phase == "agent":  # before the turn's first command
            self._begun.add(task_id)
            self._hit(task_id, where, how)
        elif where != "agent" and phase == "grading":
            self._begun.add(task_id)
            thread = threading.Thread(target=self._while_graded, args=(task_id, where, how))
            thread.start()
            self._threads.append(thread)

    def _while_graded(self, task_id: str, where: str, how: str) -> None:
        if where == "control":
            # the app (the agent's own container) stops by itself while its test runs: no
            # verdict, so the untouched task is graded as the control, which is then hit
            self._find(task_id, "judge")
            app = self._find(task_id, "agent")
            if app:
                _docker("exec", app, "sh", "-c", "kill -TERM 1")
        self._hit(task_id, where, how)

    def _find(self, task_id: str, role: str) -> str:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            found = _docker("ps", "-q", "--filter", f"label=swelancer.run_id={self.run_id}",
                            "--filter", f"label=swelancer.task_id={task_id}",
                            "--filter", f"label=swelancer.role={role}",
                            "--filter", "status=running")  # fmt: skip
            if found:
                return found.split()[0]
            time.sleep(0.05)
        self.problems.append(f"{task_id}: no running {role} container")
        return ""

    def _hit(self, task_id: str, role: str, how: str) -> None:
        target = self._find(task_id, role)
        if not target:
            return
        subprocess.run([*HOW[how], target], capture_output=True)
        self.hit[task_id] = role
        deadline = time.monotonic() + 60
        while _docker("inspect", "-f", "{{.State.Status}}", target) in ("running", "paused"):
            if time.monotonic() > deadline:
                self.problems.append(f"{task_id}: {role} {target} still there after `{how}`")
                return
            time.sleep(0.05)

    def start(self, **_: object) -> None:
        pass

    def finished(self, record, index: int) -> None:
        pass

    def note(self, line: str) -> None:
        pass

    def close(self) -> None:
        for thread in self._threads:
            thread.join(60)


def test_containers_stopped_from_outside_at_each_phase_are_retried_not_failed(demo_image, tmp_path):
    run_id = unique("outside")
    sink = OutsideHits(run_id)
    config = RunConfig(
        agent=AgentSection(model="mock/oracle"),
        selection=Selection(split="demo", task_ids=list(PLAN)),
        run=RunSection(run_id=run_id, results_dir=tmp_path, concurrency=3),
    )
    summary = Runner(config, say=lambda line: None, make_progress=lambda log: sink).run()
    assert sink.problems == []
    assert sink.hit == {task: where for task, (where, _) in PLAN.items()}
    found = records(tmp_path / run_id)
    assert sorted(r["task_id"] for r in found) == sorted(PLAN)  # each recorded once
    for record in found:
        assert record["status"] == "passed", record
        assert record["earned_usd"] == record["price_usd"] > 0
        assert record["infra_retries"] == 1, record
    assert summary.errors == 0
    assert containers(run_id) == []
