"""Who stopped a container, as the engine's events tell it: every way of stopping one from
outside through the engine, from inside, and by the harness itself, on the real engine."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from cli_runs import unique
from conftest import BASE_IMAGE

from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.docker import DockerSandbox
from swelancer.sandbox.docker.provider import DockerProvider

pytestmark = pytest.mark.docker


@pytest.fixture
def watched(docker_client):
    """(provider, run id, start): containers of one run whose events a witness reads."""
    provider = DockerProvider(docker_client)
    run_id = unique("witness")
    made: list[DockerSandbox] = []

    def start() -> DockerSandbox:
        box = DockerSandbox.start(
            BASE_IMAGE,
            command=["sleep", "1000"],
            labels={
                "swelancer.run_id": run_id,
                "swelancer.task_id": "t",
                "swelancer.run.attempt": "1",
                "swelancer.role": "agent",
            },
            client=docker_client,
            stops=provider.witness(run_id),
        )
        made.append(box)
        return box

    yield provider, run_id, start
    for box in made:
        box.remove()
    provider.forget_run(run_id)
    deadline = time.monotonic() + 30  # a removal under way is listed until it ends
    while _listed(run_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _listed(run_id) == []


def _listed(run_id: str) -> list[str]:
    left = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=swelancer.run_id={run_id}"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return left.stdout.split()


def _gone(box: DockerSandbox) -> None:
    deadline = time.monotonic() + 30
    while box.status() in ("running", "paused") and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("argv", "told"),
    [
        (["docker", "stop", "-t", "1"], "the engine was asked to kill it (signal 15)"),
        (["docker", "kill"], "the engine was asked to kill it (signal 9)"),
        (["docker", "rm", "-f"], "the engine was asked to kill it (signal 9)"),
        (["docker", "pause"], "the engine was asked to pause it"),
    ],
    ids=["stop", "kill", "rm-f", "pause"],
)
def test_a_request_to_the_engine_is_a_stop_from_outside(watched, argv, told):
    provider, run_id, start = watched
    box = start()
    subprocess.run([*argv, box.id], check=True, capture_output=True)
    _gone(box)  # a paused container is removed by the witness: nothing waits on it for ever
    cause = provider.witness(run_id).cause(box, wait=10)
    assert cause.outside is True and cause.what == told
    marks = {"swelancer.run_id": run_id, "swelancer.run.attempt": "1"}
    witness = provider.witness(run_id)
    assert witness.outside_since(marks, 0) is not None
    assert witness.outside_since({**marks, "swelancer.run.attempt": "2"}, 0) is None


@pytest.mark.parametrize(
    "inside",
    ["kill -TERM 1", "kill -KILL $(pgrep -x sleep || pidof sleep)", "kill -9 1; sleep 1; exit"],
    ids=["term-init", "kill-inits-child", "kill-9-init-is-ignored"],
)
def test_a_container_stopped_from_inside_is_its_own_doing(watched, inside):
    provider, run_id, start = watched
    box = start()
    if inside.startswith("kill -9 1"):
        # pid 1 ignores SIGKILL sent from its own namespace: the container lives on
        box.exec(["sh", "-c", inside])
        assert box.status() == "running"
        box.exec(["sh", "-c", "kill -TERM 1"])
    else:
        try:
            box.exec(["sh", "-c", inside])
        except InfraError as err:  # the container may stop before the engine ends the command
            assert err.kind is FaultKind.CONTAINER_GONE, err
    _gone(box)
    cause = provider.witness(run_id).cause(box, wait=10)
    assert cause.outside is False, cause
    assert "the engine was asked nothing" in cause.what
    assert provider.witness(run_id).outside_since({"swelancer.run_id": run_id}, 0) is None


def test_the_harness_removing_its_own_container_is_not_from_outside(watched):
    provider, run_id, start = watched
    box = start()
    box.remove()
    time.sleep(1)  # let the engine's kill and destroy events arrive
    assert provider.witness(run_id).outside_since({"swelancer.run_id": run_id}, 0) is None


def test_a_host_process_killing_init_cannot_be_told_from_the_container_exiting(watched):
    """The limit docs/RELIABILITY.md states: no event names a SIGKILL sent to the container's
    init by a process of the host, so it reads as the container's own exit (code 137)."""
    provider, run_id, start = watched
    box = start()
    box.container.reload()
    pid = int(box.container.attrs["State"]["Pid"])
    if not os.path.exists(f"/proc/{pid}"):
        pytest.skip("the engine's processes are not this host's")
    os.kill(pid, 9)
    _gone(box)
    cause = provider.witness(run_id).cause(box, wait=10)
    assert cause.outside is False and "exit code 137" in cause.what
