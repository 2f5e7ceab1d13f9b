"""The engine restarting mid-run: attempts in flight are retried and nothing is left. It stops
the engine, so it runs only on an engine the test run started itself (`.ci/run` sets
SWELANCER_TESTS_OWN_ENGINE when it started one), holds it alone (`engine_alone`) and is
collected first: the other test processes run the tests that need no engine meanwhile, and
wait for it (`restart_over`) before any test that does. An engine that was already running may
serve other work: it is never stopped."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from cli_runs import SOME, containers, records, run_args, start_and_wait, unique

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(
        os.environ.get("SWELANCER_TESTS_OWN_ENGINE") != "1",
        reason="the engine was not started by this test run (SWELANCER_TESTS_OWN_ENGINE is not "
        "1): it may serve other work, so it is not restarted",
    ),
]

ENGINE_SCRIPT = Path(__file__).resolve().parents[3] / "shared" / "ci" / "docker-engine.sh"
STARTED = Path("/tmp/docker-engine-started.pid")
"""Where the engine script keeps the pid of the daemon it started."""


def wait_gone(pid: int, timeout_s: float = 120) -> None:
    """Wait until process `pid` has exited (gone, or a zombie)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return
        if state == "Z":
            return
        time.sleep(0.2)
    pytest.fail(f"the engine's daemon (pid {pid}) was still running {timeout_s:.0f} s after stop")


def test_the_engine_restarting_mid_run_is_retried(restart_over, demo_image, tmp_path, engine_alone):
    # engine_alone: no other test process uses the engine meanwhile (skipped before it is
    # asked for when the engine is not this test run's own)
    if not ENGINE_SCRIPT.exists() or not STARTED.exists():
        pytest.fail(f"SWELANCER_TESTS_OWN_ENGINE is set but {ENGINE_SCRIPT} or {STARTED} is "
                    "missing")  # fmt: skip
    run_id = unique("restart")
    args = run_args(tmp_path, run_id, "-j", "2", "--max-retries", "6", *SOME)
    proc = start_and_wait(args, tmp_path / run_id, 1)
    daemon = int(STARTED.read_text())
    subprocess.run(["bash", str(ENGINE_SCRIPT), "stop"], check=True, timeout=60)
    wait_gone(daemon)  # not only its socket: a new daemon refuses to start beside its pid file
    subprocess.run(["bash", str(ENGINE_SCRIPT), "start"], check=True, timeout=300)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()[-3000:]
    found = records(tmp_path / run_id)
    assert len(found) == 4
    assert all(r["status"] == "passed" for r in found), found
    assert any(r["infra_retries"] for r in found), "the restart hit an attempt in flight"
    assert containers(run_id) == []  # those the restart stopped are gone too
