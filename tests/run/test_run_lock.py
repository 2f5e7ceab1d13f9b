"""One process per run directory: a second `run` on the same id refuses at once, a `kill -9`
never leaves the directory stuck, and readers (`report`, `view`) work while a run holds it.

The runs here are real `Runner.run` calls, in this process and in child processes, with the
engine and the attempts replaced: `prepare` gives the demo tasks without Docker, and the pool
does what a live attempt does to the run directory (its folder, then its record).
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fakes.runs import run_cli
from fakes.sandbox import FakeProvider

from swelancer.agents.mock import NoopAgent
from swelancer.config import AgentSection, RunConfig, RunSection, Selection
from swelancer.errors import SwelancerError
from swelancer.records import AttemptRecord
from swelancer.run.progress import PlainProgress
from swelancer.run.results import RunDir
from swelancer.run.runner import Runner
from swelancer.tasks.catalog import load_tasks

TESTS = Path(__file__).resolve().parent
TASK = "101"


def fake_runner(results: Path, run_id: str, pool: Callable[[RunDir], None]) -> Runner:
    """A Runner for the demo task 101 on the fake provider (no engine) whose pool is `pool`."""
    query = Selection(split="demo", task_ids=[TASK])
    config = RunConfig(
        agent=AgentSection(model="mock/noop"),
        selection=query,
        run=RunSection(run_id=run_id, results_dir=results),
    )
    runner = Runner(
        config,
        say=lambda line: None,
        make_progress=lambda log: PlainProgress(io.StringIO(), log),
        provider=FakeProvider(),
    )
    task_set = load_tasks(query, show_progress=False)
    images = {t.task_id: "swelancer/demo:latest" for t in task_set.tasks}
    agent = NoopAgent()
    runner.prepare = lambda build_log: (task_set, agent, images, {})  # type: ignore[method-assign]
    runner._run_pool = lambda todo, agent, run_dir, *rest: pool(run_dir)  # type: ignore[method-assign]
    return runner


def record_attempt(run_dir: RunDir) -> None:
    """What one attempt does to the run directory: a fresh folder, then its record."""
    folder = run_dir.fresh_attempt_dir(TASK, 1)
    (folder / "transcript.jsonl").write_text("")
    run_dir.append(
        AttemptRecord(
            run_id=run_dir.run_id, task_id=TASK, variant="ic_swe", attempt=1, status="failed",
            price_usd=250.0, model="mock/noop", started_at="t", finished_at="t",
        )
    )  # fmt: skip


def child_run(results: str, run_id: str) -> None:
    """In a child process: a run whose attempt is live (its folder made) until it is killed."""

    def live_attempt(run_dir: RunDir) -> None:
        folder = run_dir.fresh_attempt_dir(TASK, 1)
        (folder / "live.txt").write_text(str(os.getpid()))
        print("running", flush=True)
        time.sleep(300)

    fake_runner(Path(results), run_id, live_attempt).run()


def start_child(results: Path, run_id: str) -> subprocess.Popen:
    code = f"import test_run_lock; test_run_lock.child_run({str(results)!r}, {run_id!r})"
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=TESTS,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = child.stdout.readline()
    if line.strip() != "running":
        child.kill()
        pytest.fail(f"the child run did not start: {line!r} {child.stderr.read()}")
    return child


@pytest.fixture
def child(tmp_path):
    procs: list[subprocess.Popen] = []

    def start(run_id: str = "shared") -> subprocess.Popen:
        procs.append(start_child(tmp_path / "results", run_id))
        return procs[-1]

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


def test_a_second_run_on_the_same_id_refuses_at_once_and_touches_nothing(tmp_path, child):
    first = child()
    run_dir = RunDir(tmp_path / "results" / "shared")
    live = run_dir.attempt_dir(TASK, 1)
    meta_before = run_dir.run_file.read_text()
    started = time.monotonic()
    with pytest.raises(SwelancerError) as info:
        fake_runner(tmp_path / "results", "shared", record_attempt).run()
    assert time.monotonic() - started < 10, "refused at once, not after waiting"
    message = str(info.value)
    assert f"in use by pid {first.pid} on {socket.gethostname()} since " in message
    assert "--run-id" in message
    assert (live / "live.txt").read_text() == str(first.pid), "the live attempt is untouched"
    assert sorted(p.name for p in live.parent.iterdir()) == ["1"], "nothing renamed"
    assert not run_dir.attempts_file.exists() or run_dir.records() == []
    assert run_dir.run_file.read_text() == meta_before
    assert first.poll() is None


def test_after_kill_9_of_the_holder_a_new_run_takes_the_directory(tmp_path, child):
    first = child()
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    summary = fake_runner(tmp_path / "results", "shared", record_attempt).run()
    assert summary.run_id == "shared"
    run_dir = RunDir(tmp_path / "results" / "shared")
    assert [(r.task_id, r.attempt) for r in run_dir.records()] == [(TASK, 1)]
    names = sorted(p.name for p in run_dir.attempt_dir(TASK, 1).parent.iterdir())
    assert names == ["1", "1.unfinished-1"], "the killed run's folder is set aside, as on resume"
    assert run_dir.read_run()["status"] == "complete"


def test_two_child_runs_at_once_one_refuses(tmp_path, child):
    child("twice")
    code = f"import test_run_lock; test_run_lock.child_run({str(tmp_path / 'results')!r}, 'twice')"
    second = subprocess.run(
        [sys.executable, "-c", code],
        cwd=TESTS,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode != 0
    assert "is in use by pid" in second.stderr and "running" not in second.stdout


def test_report_and_view_work_while_a_run_holds_the_directory(tmp_path, child, capsys):
    child("busy")
    run = tmp_path / "results" / "busy"
    code, out, err = run_cli("report", str(run), "-f", "json", capsys=capsys)
    assert code == 0, err
    code, out, err = run_cli("view", str(run), TASK, capsys=capsys)
    assert code == 0, err
    assert "no record in attempts.jsonl" in out


def test_the_lock_is_exclusive_within_one_process_and_released(tmp_path):
    run_dir = RunDir(tmp_path / "run")
    with run_dir.lock(), pytest.raises(SwelancerError, match=f"in use by pid {os.getpid()}"):
        RunDir(tmp_path / "run").lock()
    with RunDir(tmp_path / "run").lock():
        pass
    lock = run_dir.lock()
    lock.release()
    lock.release()  # twice is harmless
    assert (tmp_path / "run" / ".lock").is_file()
