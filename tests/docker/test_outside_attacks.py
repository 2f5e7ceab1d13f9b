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
- A run of one image resumed under another name (`--image B` after `--image A`, or after the
  demo split's default) went on with no word: only a name that now gives another id was
  refused, so every new attempt ran another image than the run's first ones.

Found and fixed: a snapshot carried the labels of the container it was committed from, so a
container of another run started from it named the maker's run directory, and a bare
`swelancer cleanup` could take the live run for one that is over (the snapshot is now
committed with those labels emptied).

Guards that held and are cheap to keep: an agent outgrowing its container's memory is a stop
of its own (the engine reports `oom` and `die`, never a request of its API), and no port of
the app's is one the judge's own services bind.
"""

from __future__ import annotations

import io
import json
import subprocess
import time
from pathlib import Path

import pytest
from cli_runs import records, run_args, unique

from swelancer.benchmark.app_ports import APP_PORTS, JUDGE_PORTS
from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.base import Reach, SandboxSpec
from swelancer.sandbox.docker import DockerSandbox
from swelancer.sandbox.docker.provider import DockerProvider

docker = pytest.mark.docker


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


@docker
def test_a_relay_into_an_app_that_stopped_itself_is_the_apps_stop(run, demo_image):
    """The app's container kills its own init; a judge then started to reach its ports fails
    as the app's container gone (the engine was asked nothing: its stop is the app's doing),
    never as a fault of the engine's, and leaves no relay, judge or volume behind."""
    provider, run_id = run
    app = provider.start(SandboxSpec(image=demo_image, labels=_labels(run_id, "agent")))
    assert isinstance(app, DockerSandbox)
    try:
        app.exec(["sh", "-c", "kill -9 $(cat /proc/1/task/1/children)"], timeout=30)
    except InfraError as err:  # the container may stop before the command's end is read
        assert err.kind == FaultKind.CONTAINER_GONE, err
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


@docker
def test_an_agent_outgrowing_its_memory_is_its_own_stop(run, demo_image):
    """The agent's main process takes more memory than its container has: the engine's
    out-of-memory kill is reported as `oom` and `die`, a stop of its own (no request of the
    engine's API, so never an infrastructure retry), said as such."""
    provider, run_id = run
    grow = "import time; time.sleep(1); held = b'x' * (1 << 30); time.sleep(600)"
    box = DockerSandbox.start(demo_image, labels=_labels(run_id, "agent"), memory="64m",
                              entrypoint=["python3", "-c", grow], client=provider.client,
                              stops=provider.witness(run_id))  # fmt: skip
    deadline = time.monotonic() + 60
    while box.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not box.alive()
    cause = provider.witness(run_id).cause(box, wait=10)
    deadline = time.monotonic() + 10  # the engine may report `oom` just after `die`
    while "out of memory" not in cause.what and time.monotonic() < deadline:
        time.sleep(0.1)
        cause = provider.witness(run_id).cause(box, wait=10)
    assert cause.outside is False, cause.what
    assert "after running out of memory" in cause.what and "exit code 137" in cause.what
    marks = {"swelancer.run_id": run_id, "swelancer.run.attempt": "1"}
    assert provider.witness(run_id).outside_since(marks, 0) is None
    box.remove()


def test_no_port_of_the_apps_is_one_the_judges_services_bind():
    """The judge's forwarder listens on each of the app's ports in the judge's namespace: a
    port there that mitmdump, nginx, the pusher-fake or the display also binds would be the
    app's to serve to the judge's browser (its API replay, its display)."""
    assert set(APP_PORTS).isdisjoint(JUDGE_PORTS)


TEST_LABEL = "swelancer.test.outside-attacks"


@pytest.fixture
def two_names(docker_client, demo_image):
    """Two names of the test's own: one on the demo image, one on the demo image with a label
    more (another id); the build and both tags are removed afterwards."""
    marker = unique("renamed")
    first, second = (f"swelancer-test-outside:{marker.split('-', 1)[1]}-{n}" for n in "ab")
    pinned = docker_client.images.get(demo_image).id
    docker_client.images.get(pinned).tag(first)
    dockerfile = f"FROM {pinned}\nLABEL {TEST_LABEL}={marker}\n"
    other, _ = docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=second,
                                          rm=True)  # fmt: skip
    yield (first, pinned), (second, other.id)
    for image in docker_client.images.list(filters={"label": f"{TEST_LABEL}={marker}"}):
        docker_client.images.remove(image.id, force=True)
    docker_client.images.remove(first)  # the tag only: the image is the demo's


@docker
def test_a_resume_under_another_image_name_is_refused_unless_allowed(two_names, tmp_path: Path):
    """A run of one image resumed with `--image` naming another image (one more try of its
    task) is refused before any container starts, naming both names and ids; with
    `--allow-image-change` it goes on and run.json records the change."""
    (first, pinned), (second, other) = two_names
    run_id = unique("renamed")
    args = run_args(tmp_path, run_id, "--task", "110-manager-0", "-j", "1")
    done = subprocess.run([*args, "--image", first], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]

    again = subprocess.run([*args, "--image", second, "--tries", "2"], capture_output=True,
                           text=True, timeout=900)  # fmt: skip
    said = " ".join(again.stderr.split())
    assert again.returncode != 0, "resumed on another image with no word"
    assert all(s in said for s in (first, pinned, second, other, "--allow-image-change")), said
    assert [r["image"] for r in records(tmp_path / run_id)] == [pinned]

    allowed = subprocess.run([*args, "--image", second, "--tries", "2", "--allow-image-change"],
                             capture_output=True, text=True, timeout=900)  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    assert sorted(r["image"] for r in records(tmp_path / run_id)) == sorted([pinned, other])
    meta = json.loads((tmp_path / run_id / "run.json").read_text())
    assert meta["images"] == {second: other}
    (change,) = meta["image_changes"]
    assert (change["renamed_from"], change["from"], change["image"], change["to"]) == (
        first, pinned, second, other)  # fmt: skip


@docker
def test_a_container_from_another_runs_snapshot_is_not_filed_under_that_runs_directory(
    docker_client, demo_image, tmp_path: Path
):
    """Run A (over) made a kept snapshot; run B (live) checks it with a reference container,
    as the snapshot store does. `swelancer cleanup` asks each run's directory whether the run
    is over: run B's must be B's own, never A's, whose lock is free."""
    from datetime import UTC, datetime

    from swelancer.run.cleanup import group_runs
    from swelancer.run.spec import RUN_DIR_LABEL
    from swelancer.sandbox.docker.engine import DockerEngine

    provider = DockerProvider(docker_client)
    run_a, run_b = unique("maker"), unique("user")
    for r in (run_a, run_b):
        (tmp_path / r).mkdir()
    store = provider.snapshot_store(run_a, "10000g", False)
    base = docker_client.images.get(demo_image).id
    task = unique("outside").replace("-", "_")
    maker = provider.start(SandboxSpec(image=base, labels={
        **_labels(run_a, "agent"), RUN_DIR_LABEL: str(tmp_path / run_a)}))  # fmt: skip
    made: list = []
    try:
        snapshot = store.commit(maker, base, task, evict=False).name
        assert snapshot is not None
        maker.remove()
        spec = SandboxSpec(image=base, labels={
            **_labels(run_b, "agent"), RUN_DIR_LABEL: str(tmp_path / run_b)})  # fmt: skip
        made.append(provider.start(spec))
        marks = {"swelancer.run_id": run_b, "swelancer.role": "snapshot-check"}
        made.append(DockerSandbox.reference(snapshot, labels=marks, client=docker_client))
        ours = [c for c in DockerEngine(docker_client).containers()
                if c.labels.get("swelancer.run_id") in (run_a, run_b)]  # fmt: skip
        runs = {r.run_id: r for r in group_runs(ours, tmp_path, datetime.now(UTC))}
        assert runs[run_b].run_dir == str(tmp_path / run_b)
    finally:
        maker.remove()
        for box in made:
            box.remove()
        store.finish()
