"""What an installed agent is: a CLI from a registry, prepared once per version into a volume
(`volume`) and run inside the task container against the model gateway's loopback port.

A new installed agent is one small module defining an `InstalledAgent`: how to install it (a
shell script run in a helper container, installing under `$PREFIX`), how to invoke it (an argv
given the prompt's path, the model and the turn limit), its environment, where its native log
goes (the CLI's stdout or a file, kept as `log_name` in the attempt folder), and how its turn
ends (the CLI exits; its log may say it stopped at its own turn limit).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from swelancer.gateway.protocols import Family

MOUNT = "/opt/swelancer-agent"
"""Where an agent's volume is mounted (read-only) in the task container; `$PREFIX` of its
install script."""
HELPER_IMAGE = "debian:bookworm-slim"
"""The image an agent is installed in (its runtime from Debian, where it needs one)."""


class InstalledAgent(ABC):
    """One CLI agent, pinned to one version."""

    name: str
    version: str
    family: Family
    """The protocol it speaks to its model, so the gateway knows which upstream it needs."""
    log_name: str
    """Its native log in the attempt folder."""
    log_file: str | None = None
    """The file in the container it writes that log to; None: its stdout."""

    @abstractmethod
    def install_script(self) -> str:
        """Shell (`sh -e`, as root, with the network) installing the CLI under `$PREFIX`."""

    @abstractmethod
    def argv(self, prompt_path: str, model: str, max_turns: int) -> list[str]:
        """The command run in the task's directory; the prompt is in the file `prompt_path`."""

    def env(self, model: str) -> dict[str, str]:
        """Variables beside the gateway's (`gateway.server.socket_env`)."""
        return {}

    def for_model(self, model: str) -> InstalledAgent:
        """The agent as it runs `model` (one that speaks several protocols picks its family)."""
        return self

    def model_arg(self, model: str) -> str:
        """The model as the CLI names it: `--model` without the family's prefix."""
        return model.split("/", 1)[1] if model.startswith(f"{self.family}/") else model

    def session_end(self, log: str) -> tuple[bool, int]:
        """From its native log: whether it stopped at its own turn limit, and its turns (0:
        unknown). Nothing is read from it unless the agent says how."""
        return False, 0

    @property
    def volume_name(self) -> str:
        return f"swelancer-agent-{self.name}-{self.version}"

    def record(self) -> dict[str, str]:
        """What run.json keeps of it."""
        return {"name": self.name, "version": self.version, "volume": self.volume_name}


DEBIAN_NODE = (
    "export DEBIAN_FRONTEND=noninteractive\n"
    "apt-get update -qq\n"
    "apt-get install -y -qq --no-install-recommends nodejs npm ca-certificates >/dev/null\n"
)
"""Debian's node and npm in the helper container (to run npm; not copied into the volume)."""


def npm_install(package: str, version: str) -> str:
    """npm from Debian installing `package@version` under `$PREFIX` (with the host's CA bundle
    when one is mounted at /etc/ssl/host-ca.crt, as behind a TLS-inspecting proxy)."""
    return (
        DEBIAN_NODE
        + 'ca=""; [ -f /etc/ssl/host-ca.crt ] && ca="--cafile /etc/ssl/host-ca.crt"\n'
        + f'npm install -g --no-fund --no-audit $ca --prefix "$PREFIX" {package}@{version}\n'
    )
