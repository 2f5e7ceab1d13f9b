"""Crash safety and faults: signals, kill -9, dying containers, timeouts, disks, load."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cli_runs import SOME, containers, records, run_args, start_and_wait, unique

from swelancer.config import AgentSection, RunConfig, RunSection, Selection
from swelancer.run.runner import Runner

pytestmark = pytest.mark.docker


def test_sigterm_stops_cleanly_and_the_run_resumes(demo_image, tmp_path):
    run_id = unique("term")
    args = run_args(tmp_path, run_id, "-j", "2", "--tries", "2", *SOME)
    proc = start_and_wait(args, tmp_path / run_id, 1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 130
    run = json.loads((tmp_path / run_id / "run.json").read_text())
    assert run["status"] == "interrupted"
    assert containers(run_id) == [], "the run's containers are removed"
    part = records(tmp_path / run_id)
    assert all(r["status"] != "failed" for r in part), "abandoned attempts are not failures"
    again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    keys = [(r["task_id"], r["attempt"]) for r in records(tmp_path / run_id)]
    assert len(keys) == len(set(keys)) == 8


def test_kill_9_then_cleanup_then_resume_records_each_attempt_once(demo_image, tmp_path):
    run_id = unique("kill9")
    args = run_args(tmp_path, run_id, "-j", "2", "--tries", "2", *SOME)
    proc = start_and_wait(args, tmp_path / run_id, 1)
    deadline = time.monotonic() + 60
    while not containers(run_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.kill()
    proc.wait(timeout=30)
    assert containers(run_id), "kill -9 leaves containers behind"
    cleaned = subprocess.run(
        [sys.executable, "-m", "swelancer", "cleanup", "--run-id", run_id],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cleaned.returncode == 0 and "removed" in cleaned.stderr
    assert containers(run_id) == []
    again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    keys = [(r["task_id"], r["attempt"]) for r in records(tmp_path / run_id)]
    assert len(keys) == len(set(keys)) == 8
    assert all(r["status"] == "passed" for r in records(tmp_path / run_id))


class KillDuringSetup:
    """A progress sink that kills the first attempt's container when its setup begins."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.killed = False
        self.victims: list[str] = []

    def start(self, **_: object) -> None:
        pass

    def phase(self, task_id: str, attempt: int, phase: str) -> None:
        if phase == "setup" and not self.killed:
            self.killed = True
            threading.Thread(target=self._kill_the_first_container, daemon=True).start()

    def _kill_the_first_container(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not self.victims:
            self.victims = containers(self.run_id)
            time.sleep(0.05)
        subprocess.run(["docker", "kill", *self.victims], capture_output=True)

    def finished(self, record, index: int) -> None:
        pass

    def note(self, line: str) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_container_dying_is_retried(demo_image, tmp_path):
    run_id = unique("dying")
    sink = KillDuringSetup(run_id)
    config = RunConfig(
        agent=AgentSection(model="mock/oracle"),
        selection=Selection(split="demo", task_ids=["102_1"]),
        run=RunSection(run_id=run_id, results_dir=tmp_path, concurrency=1),
    )
    summary = Runner(config, say=lambda line: None, make_progress=lambda log: sink).run()
    assert sink.killed and sink.victims
    (record,) = records(tmp_path / run_id)
    assert record["status"] == "passed" and record["infra_retries"] == 1
    assert summary.errors == 0


def test_setup_timeout_is_an_error_not_a_failure(demo_image, tmp_path):
    # A cold setup: a snapshot kept by an earlier run would make setup take no time.
    run_id = unique("slow")
    args = ["--task", "103", "--setup-timeout", "0.2", "--max-retries", "1", "--no-snapshots"]
    done = subprocess.run(
        run_args(tmp_path, run_id, *args),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (record,) = records(tmp_path / run_id)
    assert record["status"] == "error" and record["error"]["kind"] == "setup_timeout"
    assert record["infra_retries"] == 1
    assert "--setup-timeout" in record["error"]["message"]


def test_unwritable_results_directory_is_a_clear_error_before_any_work(demo_image, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the results directory should be")
    done = subprocess.run(
        run_args(blocker / "results", unique("ro"), "--task", "110-manager-0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    flat = " ".join(done.stderr.split())
    assert "cannot write the run directory" in flat and "--results-dir" in flat
    assert "Traceback" not in done.stderr


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB file system of its own (tmpfs), so that filling it harms nothing else."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a small tmpfs for the full-disk test: {mounted.stderr}")
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def fill(disk: Path) -> Path:
    """Fill the file system to its last byte."""
    filler = disk / "filler"
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return filler


def test_full_disk_before_the_run_is_a_clear_error_before_any_container(demo_image, small_disk):
    fill(small_disk)
    run_id = unique("full0")
    done = subprocess.run(
        run_args(small_disk, run_id, "--task", "110-manager-0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    flat = " ".join(done.stderr.split())
    assert "No space left on device" in flat and "Traceback" not in done.stderr
    assert containers(run_id) == []


def test_disk_filling_mid_run_stops_it_clearly_and_loses_nothing(demo_image, small_disk):
    run_id = unique("full")
    args = run_args(small_disk, run_id, "-j", "1", "--tries", "2", *SOME)
    proc = start_and_wait(args, small_disk / run_id, 1)
    filler = fill(small_disk)
    assert proc.wait(timeout=300) == 1
    stderr = proc.stderr.read()
    flat = " ".join(stderr.split())
    assert "No space left on device" in flat and "resume" in flat, stderr[-2000:]
    assert "Traceback" not in stderr
    assert containers(run_id) == []
    kept = records(small_disk / run_id)
    assert kept, "attempts recorded before the disk filled are intact"
    filler.unlink()
    again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    final = records(small_disk / run_id)
    keys = [(r["task_id"], r["attempt"]) for r in final]
    assert len(keys) == len(set(keys)) == 8
    assert final[: len(kept)] == kept


def test_32_attempts_at_once_complete_without_errors(demo_image, tmp_path):
    run_id = unique("load")
    done = subprocess.run(
        run_args(tmp_path, run_id, "-j", "32", "--tries", "3", "--test-runs", "1"),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = records(tmp_path / run_id)
    assert len(found) == 39
    assert [r for r in found if r["status"] != "passed"] == []
    networks = subprocess.run(
        ["docker", "network", "ls", "-q"], capture_output=True, text=True, check=True
    )
    assert len(networks.stdout.split()) <= 3, "no network is created per container"
