"""The gateway seen from inside a task container: its socket's folder mounted in (`mount`), and
a loopback port that reaches it (`open_port`), for a CLI that speaks HTTP to a base URL.

The container keeps network `none`: the port is the forwarder's listening end
(`sandbox.forwarder`, given as `python3 -c`, no file of ours in the container), which relays
each connection to the mounted socket with the port's two bytes first, as the gateway expects.
The folder holds the socket and nothing else; no key is in it or in the container's
environment (`server.socket_env`: the placeholder).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from swelancer.errors import FaultKind, InfraError
from swelancer.gateway.server import SOCKET_NAME, AttemptGate, socket_env
from swelancer.sandbox.base import Mount

if TYPE_CHECKING:
    from swelancer.sandbox.docker.sandbox import DockerSandbox

MOUNT = "/run/swelancer-gateway"
PORT = 4319
"""The loopback port a container's CLI is pointed at."""
READY = "/tmp/.swelancer-forwarder.listen.ready"
READY_TIMEOUT_S = 60.0
MAX_CONNECTIONS = 64


def mount(gate: AttemptGate) -> Mount:
    """The attempt's socket folder, read-write (a client connecting to a Unix socket needs
    write permission on it), at `MOUNT`."""
    return Mount(source=str(gate.socket_dir), target=MOUNT, read_only=False)


def listen_argv(port: int, deadline_s: float) -> list[str]:
    from swelancer.sandbox.docker.reach import forwarder_code

    socket = f"{MOUNT}/{SOCKET_NAME}"
    limit = str(MAX_CONNECTIONS)
    return ["python3", "-c", forwarder_code(), "listen", socket, str(port), str(deadline_s), limit]


def open_port(box: DockerSandbox, deadline_s: float, port: int = PORT) -> dict[str, str]:
    """Start the listening end on 127.0.0.1:`port` in `box` (started with `mount`), wait until
    it listens, and give the environment a CLI there is run with."""
    from swelancer.sandbox.docker.client import _infra_error, _sdk_errors

    api = box.client.api
    try:
        box.remove_here(READY) or box.exec(["rm", "-f", READY], timeout=30)
        made = api.exec_create(box.id, listen_argv(port, deadline_s), stdout=False, stderr=False)
        api.exec_start(made["Id"], detach=True)
    except _sdk_errors() as err:
        raise _infra_error(err, f"Could not start the gateway's port in {box.name}") from err
    until = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            if box.read_file(READY, limit=64).strip() == b"ready":
                return socket_env(port)
        except (FileNotFoundError, IsADirectoryError):
            pass
        if time.monotonic() > until or not box.alive():
            raise InfraError(
                f"The model gateway's port in {box.name} did not open within "
                f"{READY_TIMEOUT_S:.0f} s (does the image have python3 3.8 or newer?).",
                kind=FaultKind.DOCKER,
            )
        time.sleep(0.1)


RELAY_MEMORY = "256m"
RELAY_PIDS = 64


def open_beside(
    box: DockerSandbox, image: str, gate: AttemptGate, labels: dict[str, str],
    deadline_s: float, port: int = PORT,
) -> tuple[DockerSandbox, dict[str, str]]:  # fmt: skip
    """The port without touching `box`: a relay container from `image` in `box`'s network
    namespace (and in nothing else of it) holds the socket folder and listens on
    127.0.0.1:`port` there. `box`, started with no mount, never sees the socket, and nothing
    it does to its own processes stops the port. The relay is removed with `box`; its
    environment for a CLI is returned beside it."""
    from swelancer.sandbox.docker.sandbox import DockerSandbox

    relay = DockerSandbox.start(
        image,
        labels={**labels, "swelancer.role": "gateway-relay"},
        memory=RELAY_MEMORY,
        pids_limit=RELAY_PIDS,
        network_mode=f"container:{box.name}",
        volumes={str(gate.socket_dir): {"bind": MOUNT, "mode": "rw"}},
        entrypoint=listen_argv(port, deadline_s),
        client=box.client,
    )
    box.companions.append(relay.remove)
    until = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            if relay.read_file(READY, limit=64).strip() == b"ready":
                return relay, socket_env(port)
        except (FileNotFoundError, IsADirectoryError):
            pass
        if time.monotonic() > until or not relay.alive():
            log = relay.logs()[-500:]
            relay.remove()
            raise InfraError(
                f"The model gateway's port beside {box.name} did not open within "
                f"{READY_TIMEOUT_S:.0f} s (its log: {log!r}).",
                kind=FaultKind.GATEWAY,
            )
        time.sleep(0.1)
