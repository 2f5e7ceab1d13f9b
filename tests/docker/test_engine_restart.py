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


def test_the_engine_restarting_mid_run_is_retried(restart_over, demo_image, tmp_path, engine_alone):
    # engine_alone: no other test process uses the engine meanwhile (skipped before it is
    # asked for when the engine is not this test run's own)
    if not ENGINE_SCRIPT.exists():
        pytest.fail(f"SWELANCER_TESTS_OWN_ENGINE is set but {ENGINE_SCRIPT} is missing")
    run_id = unique("restart")
    args = run_args(tmp_path, run_id, "-j", "2", "--max-retries", "6", *SOME)
    proc = start_and_wait(args, tmp_path / run_id, 1)
    subprocess.run(["bash", str(ENGINE_SCRIPT), "stop"], check=True, timeout=60)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until the old daemon has really gone
        if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
            break
        time.sleep(0.5)
    time.sleep(2)
    subprocess.run(["bash", str(ENGINE_SCRIPT), "start"], check=True, timeout=300)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()[-3000:]
    found = records(tmp_path / run_id)
    assert len(found) == 4
    assert all(r["status"] == "passed" for r in found), found
    assert any(r["infra_retries"] for r in found), "the restart hit an attempt in flight"
    assert containers(run_id) == []  # those the restart stopped are gone too
