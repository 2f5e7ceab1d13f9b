"""The gateway seen from inside a task container: a loopback port there that reaches the
attempt's socket, for a CLI that speaks HTTP to a base URL (`open_beside`).

The container keeps network `none`. The port is the forwarder's listening end
(`sandbox.forwarder`, given as `python3 -c`: no file of ours in any container), run in a relay
container that shares the task container's network namespace and nothing else of it, and that
alone holds the socket's folder (the socket and nothing else); it relays each connection to
the socket with the port's two bytes first, as the gateway expects. No key is in the folder or
in the container's environment (`server.socket_env`: the placeholder).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from swelancer.errors import FaultKind, InfraError
from swelancer.gateway.server import SOCKET_NAME, AttemptGate, socket_env

if TYPE_CHECKING:
    from swelancer.sandbox.docker.sandbox import DockerSandbox

MOUNT = "/run/swelancer-gateway"
"""Where the relay holds the socket's folder."""
PORT = 4319
"""The loopback port a container's CLI is pointed at."""
READY = "/tmp/.swelancer-forwarder.listen.ready"
READY_TIMEOUT_S = 60.0
MAX_CONNECTIONS = 64


def listen_argv(port: int, deadline_s: float) -> list[str]:
    from swelancer.sandbox.docker.reach import forwarder_code

    socket = f"{MOUNT}/{SOCKET_NAME}"
    limit = str(MAX_CONNECTIONS)
    return ["python3", "-c", forwarder_code(), "listen", socket, str(port), str(deadline_s), limit]


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
