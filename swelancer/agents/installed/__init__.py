"""Agents installed in the task container: real CLIs from their registries, prepared once per
version into a read-only volume, reaching their models only through the model gateway."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swelancer.agents.installed.base import InstalledAgent
from swelancer.agents.installed.claude_code import ClaudeCode
from swelancer.agents.installed.codex import Codex
from swelancer.agents.installed.mini_swe_agent import MiniSweAgent

if TYPE_CHECKING:
    from swelancer.agents.installed.driver import InstalledDriver
    from swelancer.sandbox.base import Mount

INSTALLED: dict[str, type[InstalledAgent]] = {
    "claude-code": ClaudeCode,
    "codex": Codex,
    "mini-swe-agent": MiniSweAgent,
}
"""`--agent NAME` of each installed agent."""


def installed(mode: str) -> InstalledAgent | None:
    """The installed agent `--agent mode` names, or None for a host-driven mode."""
    kind = INSTALLED.get(mode)
    return kind() if kind is not None else None


def mounts_for(mode: str) -> tuple[Mount, ...]:
    """What every task container of the run brings in: the agent's read-only volume."""
    from swelancer.agents.installed.volume import mount

    agent = installed(mode)
    return (mount(agent),) if agent is not None else ()


def record_for(mode: str) -> dict[str, Any] | None:
    """What run.json keeps of the installed agent (name, pinned version, volume)."""
    agent = installed(mode)
    return agent.record() if agent is not None else None


def make_installed(
    mode: str, model: str, base_url: str | None, prices: Any, budget: Any, *, prepare: bool
) -> InstalledDriver:
    """The driver of `--agent mode`, with the run's gateway; `prepare`: make sure its volume
    is on the engine now (before any container starts)."""
    from swelancer.agents.installed.driver import InstalledDriver, upstream_for
    from swelancer.gateway.server import Gateway

    kind = installed(mode)
    assert kind is not None, mode
    agent = kind.for_model(model)
    upstream = upstream_for(agent, base_url)
    if prepare:
        from swelancer.agents.installed.volume import prepare as prepare_volume
        from swelancer.sandbox.docker.client import docker_client

        prepare_volume(docker_client(), agent)
    return InstalledDriver(agent, model, Gateway([upstream], prices, budget=budget))
