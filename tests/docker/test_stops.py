"""A stop is prompt: the first SIGINT or SIGTERM ends a run whose attempt waits between retries
of a failing model endpoint, removes its containers and leaves it resumable. A real
`swelancer run`, the real OpenAI SDK, the fake server answering 503 to every call."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runs import containers, records, unique

from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.script import Fault

KEY = "sk-stops"


@pytest.fixture
def failing_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(expected_key=KEY, lifetime_s=900) as server:
        server.answer_with(lambda body: Fault(503, "overloaded"))
        yield server


def start(results: Path, run_id: str, server: FakeOpenAIServer) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    args = [sys.executable, "-m", "swelancer", "run", "--split", "demo", "--task", "101",
            "--model", "gpt-4o", "--base-url", server.base_url, "--results-dir", str(results),
            "--run-id", run_id, "-q", "-j", "1"]  # fmt: skip
    return subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "OPENAI_API_KEY": KEY, "NO_PROXY": "127.0.0.1,localhost"},
    )


def wait_for_calls(server: FakeOpenAIServer, proc: subprocess.Popen, at_least: int) -> None:
    deadline = time.monotonic() + 300
    while len(server.bodies) < at_least and proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the attempt never called the model")
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()[1]


def test_the_first_signal_ends_a_run_waiting_to_retry_the_model(
    demo_image, failing_server, tmp_path
):
    run_id = unique("stops")
    proc = start(tmp_path, run_id, failing_server)
    wait_for_calls(failing_server, proc, 4)  # the attempt now waits between retries
    assert containers(run_id), "the attempt's container is up"
    proc.send_signal(signal.SIGINT)  # once
    try:
        code = proc.wait(timeout=90)  # without the stop the retries go on for 20 minutes
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("one SIGINT did not end the run")
    err = proc.stderr.read() if proc.stderr else ""
    assert code == 130, err
    assert "Traceback" not in err and "interrupted" in err
    run = json.loads((tmp_path / run_id / "run.json").read_text())
    assert run["status"] == "interrupted"
    assert containers(run_id) == [], "the run's containers are removed"
    assert records(tmp_path / run_id) == [], "an abandoned attempt is not recorded"

    again = start(tmp_path, run_id, failing_server)  # resumes; SIGTERM ends it the same way
    calls = len(failing_server.bodies)
    wait_for_calls(failing_server, again, calls + 3)
    again.send_signal(signal.SIGTERM)
    try:
        code = again.wait(timeout=90)
    except subprocess.TimeoutExpired:
        again.kill()
        pytest.fail("one SIGTERM did not end the run")
    err = again.stderr.read() if again.stderr else ""
    assert code == 130 and "0 already recorded, 1 to run" in " ".join(err.split()), err
    assert containers(run_id) == [] and records(tmp_path / run_id) == []
