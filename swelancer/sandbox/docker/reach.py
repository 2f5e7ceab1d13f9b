"""A container in a network namespace of its own that reaches only some ports of another's.

Three parts, made for each such container and removed with it:

- a volume (labelled like the container) holding one Unix socket;
- a relay container from the same image, in the other container's network namespace and in
  nothing else of it (its own filesystem and processes), running our forwarder
  (`sandbox.forwarder`, given as `python3 -c`: no file of ours in any container) that accepts
  on the socket and connects to the named port on that namespace's 127.0.0.1;
- in the container itself (network `none`: its own loopback, abstract sockets and
  /etc/hosts), the forwarder's listening end on 127.0.0.1:<port> for each port, relaying to the
  socket.

The other container never holds the volume: it can serve its own ports, and nothing else of
the reaching container's is in its namespace or filesystem.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.base import Reach
from swelancer.sandbox.docker.client import LABEL, _infra_error, _make_name, _sdk_errors

if TYPE_CHECKING:
    from docker.client import DockerClient

    from swelancer.sandbox.docker.sandbox import DockerSandbox

MOUNT = "/run/swelancer-reach"
SOCKET = f"{MOUNT}/relay.sock"
LISTEN_READY = "/tmp/.swelancer-forwarder.listen.ready"
RELAY_MEMORY = "256m"
RELAY_PIDS = 64
READY_TIMEOUT_S = 60.0


def forwarder_code() -> str:
    """The forwarder's source, passed to `python3 -c`."""
    return (Path(__file__).resolve().parents[1] / "forwarder.py").read_text(encoding="utf-8")


def forwarder_argv(mode: str, reach: Reach) -> list[str]:
    ports = ",".join(str(p) for p in reach.ports)
    limit = str(reach.max_connections)
    return ["python3", "-c", forwarder_code(), mode, SOCKET, ports, str(reach.deadline_s), limit]


def start_reaching(
    client: DockerClient, image: str, reach: Reach, options: dict[str, Any]
) -> DockerSandbox:
    """Start a container from `image` (with `options` of `DockerSandbox.start`) that reaches
    `reach.ports` of the running container `reach.of`, and nothing else of its network."""
    from swelancer.sandbox.docker.sandbox import DockerSandbox

    labels = {LABEL: "1", **{k: str(v) for k, v in (options.get("labels") or {}).items()}}
    role = labels.get("swelancer.role", "sandbox")
    volume = _make_volume(client, {**labels, "swelancer.role": f"{role}-reach"})
    undo: list[Callable[[], None]] = [functools.partial(remove_volume, client, volume)]
    try:
        relay = DockerSandbox.start(
            image,
            labels={**labels, "swelancer.role": f"{role}-relay"},
            memory=RELAY_MEMORY,
            pids_limit=RELAY_PIDS,
            network_mode=f"container:{reach.of}",
            volumes={volume: {"bind": MOUNT, "mode": "rw"}},
            entrypoint=forwarder_argv("relay", reach),
            client=client,
            stops=options.get("stops"),  # its removal is the harness's own
        )
        undo.append(relay.remove)
        box = DockerSandbox.start(
            image,
            **options,
            network_mode="none",
            volumes={volume: {"bind": MOUNT, "mode": "ro"}},
            client=client,
        )
    except BaseException as err:
        for step in reversed(undo):
            with contextlib.suppress(InfraError):
                step()
        if isinstance(err, InfraError):
            _raise_if_gone(client, reach.of, err)
        raise
    box.companions.extend(undo)
    try:
        _start_listening(box, reach)
        _wait_ready(relay, f"{SOCKET}.relay.ready", "the relay")
        _wait_ready(box, LISTEN_READY, "the forwarder")
    except BaseException:
        with contextlib.suppress(InfraError):
            box.remove()
        raise
    return box


def _raise_if_gone(client: DockerClient, of: str, err: InfraError) -> None:
    """A `container_gone` fault when `of` no longer runs: the engine refuses a relay into a
    stopped container's namespace ("cannot join network of a non running container", a 409
    of its own), and that stop is `of`'s, to be judged as such (by the engine's events), not
    a fault of the engine's."""
    from docker.errors import NotFound

    try:
        state = (client.api.inspect_container(of).get("State") or {}).get("Status")
    except NotFound:
        state = "removed"
    except _sdk_errors():
        return
    if state != "running":
        raise InfraError(
            f"{of}, whose ports a new container was to reach, is {state}: it stopped before "
            f"its relay could start ({err})",
            kind=FaultKind.CONTAINER_GONE,
        ) from err


def _make_volume(client: DockerClient, labels: dict[str, str]) -> str:
    name = _make_name(labels)
    try:
        client.volumes.create(name=name, labels=labels)
    except _sdk_errors() as err:
        raise _infra_error(err, "Could not create a volume for a forwarder") from err
    return name


def remove_volume(client: DockerClient, name: str, wait_s: float = 20.0) -> None:
    """Remove a volume once no container holds it (a container being removed may hold it a
    moment longer); one still held after `wait_s` is left to `swelancer cleanup`."""
    from docker.errors import APIError, NotFound

    deadline = time.monotonic() + wait_s
    while True:
        try:
            client.api.remove_volume(name, force=True)
            return
        except NotFound:
            return
        except APIError as err:
            if err.status_code != 409 or time.monotonic() > deadline:
                raise _infra_error(err, f"Could not remove volume {name}") from err
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not remove volume {name}") from err
        time.sleep(0.2)


def _start_listening(box: DockerSandbox, reach: Reach) -> None:
    """The listening end, detached, in `box`'s own namespace (its processes are `box`'s)."""
    api = box.client.api
    try:
        made = api.exec_create(box.id, forwarder_argv("listen", reach), stdout=False,
                               stderr=False)  # fmt: skip
        api.exec_start(made["Id"], detach=True)
    except _sdk_errors() as err:
        raise _infra_error(err, f"Could not start the forwarder in {box.name}") from err


def _wait_ready(box: DockerSandbox, marker: str, what: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            if box.read_file(marker, limit=64).strip() == b"ready":
                return
        except (FileNotFoundError, IsADirectoryError):
            pass
        if time.monotonic() > deadline or not box.alive():
            raise InfraError(
                f"{what} in {box.name} did not start within {READY_TIMEOUT_S:.0f} s (its log: "
                f"{box.logs()[-500:]!r}).",
                kind=FaultKind.DOCKER,
            )
        time.sleep(0.1)
