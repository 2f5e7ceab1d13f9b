"""An installed agent's volume: made once per agent and version on an engine, read-only in
every task container that runs it (no task image is rebuilt).

`prepare` finds the volume by its labels and a `.swelancer-ready` file its install wrote last
(an install cut off leaves no such file and is done again); else it installs the agent in a
helper container from `HELPER_IMAGE` with the network, the volume at `MOUNT`. One process of
this host prepares a given volume at a time (a lock file).
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swelancer.agents.installed.base import HELPER_IMAGE, MOUNT, InstalledAgent
from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.base import Mount

if TYPE_CHECKING:
    from docker.client import DockerClient

READY = ".swelancer-ready"
ROLE = "installed-agent"
"""Its volumes' role: `swelancer cleanup` keeps them (`sandbox.docker.containers.KEPT_ROLE`)."""
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
INSTALL_TIMEOUT_S = 1800


def labels(agent: InstalledAgent) -> dict[str, str]:
    from swelancer.sandbox.docker.client import LABEL

    return {
        LABEL: "1",
        "swelancer.role": ROLE,
        "swelancer.agent": agent.name,
        "swelancer.agent.version": agent.version,
    }


def mount(agent: InstalledAgent) -> Mount:
    return Mount(source=agent.volume_name, target=MOUNT, read_only=True)


def _helper(client: DockerClient, agent: InstalledAgent, script: str, *, network: bool) -> str:
    """Run `script` (sh -e) in a helper container with the volume at `MOUNT`; its output."""
    volumes: dict[str, dict[str, str]] = {agent.volume_name: {"bind": MOUNT, "mode": "rw"}}
    if network and HOST_CA.is_file():
        volumes[str(HOST_CA)] = {"bind": "/etc/ssl/host-ca.crt", "mode": "ro"}
    container = client.containers.run(
        HELPER_IMAGE,
        ["sh", "-ec", script],
        detach=True,
        labels={**labels(agent), "swelancer.role": f"{ROLE}-helper"},
        environment={"PREFIX": MOUNT},
        volumes=volumes,
        network_mode=None if network else "none",
    )
    try:
        status = container.wait(timeout=INSTALL_TIMEOUT_S)
        output: str = container.logs().decode("utf-8", "replace")
    finally:
        container.remove(force=True)
    if status.get("StatusCode") != 0:
        raise InfraError(
            f"Installing {agent.name} {agent.version} into volume {agent.volume_name} failed "
            f"(exit {status.get('StatusCode')}); its last output: {output[-1500:]!r}. Check "
            "that this host reaches the npm and PyPI registries, then run again (the volume "
            "is made again from the start).",
            kind=FaultKind.AGENT_START,
        )
    return output


def ready(client: DockerClient, agent: InstalledAgent) -> dict[str, Any] | None:
    """The install's facts when the agent's volume is complete, else None."""
    from docker.errors import NotFound

    try:
        client.volumes.get(agent.volume_name)
    except NotFound:
        return None
    out = _helper(client, agent, f"cat {MOUNT}/{READY} 2>/dev/null || true", network=False)
    try:
        facts: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    return facts


def prepare(client: DockerClient, agent: InstalledAgent) -> dict[str, Any]:
    """Make sure the agent's volume is ready; what run.json records of it (version, volume,
    the seconds and bytes its install took)."""
    from swelancer.sandbox.docker.host_lock import engine_lock
    from swelancer.sandbox.docker.images import ensure_images

    with engine_lock(client, f"agent-{agent.name}-{agent.version}"):
        facts = ready(client, agent)
        if facts is None:
            ensure_images(client, [HELPER_IMAGE])
            from docker.errors import NotFound

            with contextlib.suppress(NotFound):  # an install cut off: made again
                client.volumes.get(agent.volume_name).remove(force=True)
            client.volumes.create(name=agent.volume_name, labels=labels(agent))
            started = time.monotonic()
            _helper(client, agent, f"rm -rf {MOUNT}/* {MOUNT}/.[!.]*\n" + agent.install_script(),
                    network=True)  # fmt: skip
            seconds = round(time.monotonic() - started, 1)
            _helper(client, agent, (
                f'printf \'{{"seconds": {seconds}, "bytes": %s}}\\n\' '
                f'"$(du -sb {MOUNT} | cut -f1)" > {MOUNT}/{READY}.tmp\n'
                f"mv {MOUNT}/{READY}.tmp {MOUNT}/{READY}\n"
            ), network=False)  # fmt: skip
            facts = ready(client, agent)
            if facts is None:
                raise InfraError(f"The volume of {agent.name} was installed but reads as "
                                 "incomplete; `swelancer cleanup` and run again.",
                                 kind=FaultKind.AGENT_START)  # fmt: skip
    return {**agent.record(), **facts}
