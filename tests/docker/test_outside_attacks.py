"""Attacks, from inside a container the agent controls, on three guarantees: the judge's own
network namespace (its relay into the app's), the images pinned per run, and stops told
apart by the engine's events. Each test is a hole that was found, or a guard that held and
is cheap to keep.

- The app's container stopping before the judge's relay joins its network namespace: the
  engine refuses the relay with a conflict of its own ("cannot join network of a non running
  container"), which read as a fault of the engine (`docker`, retried) rather than as the
  app's container stopping (`container_gone`, judged by the engine's events). With
  `--user-tool-in same` the app is the agent's own container, so an agent whose `/bin/sh`
  kills its init during a user-tool call, before the relay started, turned its own death into
  an infrastructure retry (and, past the retries, an `error` kept out of every score).
"""

from __future__ import annotations

import subprocess
import time

import pytest
from cli_runs import unique

from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.base import Reach, SandboxSpec
from swelancer.sandbox.docker import DockerSandbox
from swelancer.sandbox.docker.provider import DockerProvider

pytestmark = pytest.mark.docker


def _labels(run_id: str, role: str) -> dict[str, str]:
    return {
        "swelancer.run_id": run_id,
        "swelancer.task_id": "t",
        "swelancer.run.attempt": "1",
        "swelancer.role": role,
    }


def _listed(kind: str, run_id: str) -> list[str]:
    left = subprocess.run(["docker", kind, "ls", "-q", *(["-a"] if kind == "container" else []),
                           "--filter", f"label=swelancer.run_id={run_id}"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return left.stdout.split()


@pytest.fixture
def run(docker_client):
    """(provider, run id): containers of one run whose stops a witness reads; none of its
    containers or volumes is left after."""
    provider = DockerProvider(docker_client)
    run_id = unique("outside-attacks")
    provider.witness(run_id)
    yield provider, run_id
    provider.forget_run(run_id)
    provider.remove_run(run_id)
    deadline = time.monotonic() + 30  # a removal under way is listed until it ends
    while (_listed("container", run_id) or _listed("volume", run_id)) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert _listed("container", run_id) == [], "containers left behind"
    assert _listed("volume", run_id) == [], "volumes left behind"


def test_a_relay_into_an_app_that_stopped_itself_is_the_apps_stop(run, demo_image):
    """The app's container kills its own init; a judge then started to reach its ports fails
    as the app's container gone (the engine was asked nothing: its stop is the app's doing),
    never as a fault of the engine's, and leaves no relay, judge or volume behind."""
    provider, run_id = run
    app = provider.start(SandboxSpec(image=demo_image, labels=_labels(run_id, "agent")))
    assert isinstance(app, DockerSandbox)
    app.exec(["sh", "-c", "kill -9 $(cat /proc/1/task/1/children)"], timeout=30)
    deadline = time.monotonic() + 30
    while app.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not app.alive()

    reach = Reach(of=app.name, ports=(8082,), deadline_s=60)
    spec = SandboxSpec(image=demo_image, labels=_labels(run_id, "judge"), reach=reach)
    with pytest.raises(InfraError) as raised:
        provider.start(spec)
    assert raised.value.kind == FaultKind.CONTAINER_GONE, raised.value
    assert app.name in str(raised.value)
    cause = provider.witness(run_id).cause(app)
    assert cause.outside is False, cause.what  # the engine was asked nothing
    assert set(_listed("container", run_id)) == {app.id[:12]}  # no relay, no judge
    assert _listed("volume", run_id) == []
