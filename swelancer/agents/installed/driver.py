"""`--agent claude-code` (and every installed agent) as an `Agent`: per attempt, a gate of the
run's model gateway, a relay beside the task container opening its loopback port
(`gateway.inside.open_beside`), one session of the CLI (`runner`), and the attempt's tokens
and dollars as the gateway metered them.

How it ends: the CLI's exit is `done` (its change is graded as it stands); its wall time
(`--max-agent-seconds`, else `DEFAULT_WALL_S`) is `max_seconds`; a call refused for the cost
cap is `max_cost`; its own turn limit (`--max-turns`) is `max_turns`. Its turns are those its
log counts, else the model calls the provider answered. A session that ended on a call the
gateway could not carry out (`gateway_fault`) is an infrastructure fault (`gateway`), retried.
"""

from __future__ import annotations

import functools
import itertools
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from swelancer.agents.base import AgentEnv, AgentOutcome, Limits, TranscriptLog
from swelancer.agents.installed.base import InstalledAgent
from swelancer.agents.installed.prompt import terminal_prompt
from swelancer.agents.installed.runner import run_session
from swelancer.agents.installed.user_tool import install as install_user_tool
from swelancer.benchmark.variants import rules_for
from swelancer.errors import ConfigError, FaultKind, InfraError
from swelancer.gateway.ledger import CallRecord, read_records
from swelancer.gateway.server import USER_TOOL_PATH, Gateway, Upstream
from swelancer.gateway.turns import turn_event
from swelancer.gateway.upstream import provider_url

if TYPE_CHECKING:
    from swelancer.tasks.models import Task

DEFAULT_WALL_S = 3600.0
KEY_VARIABLES = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
"""Where each family's real key is read from (on this host only)."""


def upstream_for(agent: InstalledAgent, base_url: str | None,
                 env: dict[str, str] | None = None) -> Upstream:  # fmt: skip
    """The provider the agent's protocol goes to: `--base-url`, else the family's URL variable,
    else the provider's own; the real key from the family's key variable."""
    env = dict(os.environ) if env is None else env
    key_env = KEY_VARIABLES[agent.family]
    url = provider_url(agent.family, base_url, env)
    key = env.get(key_env)
    if not key:
        raise ConfigError(
            f"--agent {agent.name} speaks to {agent.family} models and needs their key in "
            f"{key_env}, which is not set. Export it in the shell that runs swelancer; it "
            "stays on this host (the container holds only a placeholder)."
        )
    return Upstream(family=agent.family, base_url=url, api_key=key)


class InstalledDriver:
    """Runs one installed agent on each attempt, through the run's gateway."""

    def __init__(self, agent: InstalledAgent, model: str, gateway: Gateway) -> None:
        self.agent, self.gateway = agent, gateway
        self.model = agent.model_arg(model)
        self.name = agent.name

    def close(self) -> None:
        """Close the model gateway (once no attempt runs)."""
        self.gateway.close()

    def solve(self, task: Task, env: AgentEnv, limits: Limits, log: TranscriptLog) -> AgentOutcome:
        from swelancer.gateway.inside import open_beside
        from swelancer.sandbox.docker.sandbox import DockerSandbox

        box, folder = env.sandbox, env.folder
        if not isinstance(box, DockerSandbox) or folder is None:
            raise InfraError(f"--agent {self.name} runs in Docker containers only",
                             kind=FaultKind.AGENT_START, retryable=False)  # fmt: skip
        wall = limits.max_agent_seconds or DEFAULT_WALL_S
        inspect = box.client.api.inspect_container(box.id)
        labels = {k: v for k, v in (inspect["Config"]["Labels"] or {}).items()
                  if k.startswith("swelancer")}  # fmt: skip
        with self.gateway.open(folder, cap_usd=limits.max_cost_usd) as gate:
            relay, gateway_env = open_beside(box, inspect["Image"], gate, labels, wall + 120)
            log.event("installed_agent", agent=self.name, version=self.agent.version)
            numbers = itertools.count(1)
            gate.on_reply = lambda call: log.event("model", **turn_event(call, next(numbers)))
            if rules_for(task).offers_user_tool:
                install_user_tool(box)
                gate.user_tool = functools.partial(_user_tool, env, log)
            try:
                session = run_session(
                    box, self.agent, terminal_prompt(task), model=self.model,
                    max_turns=limits.max_turns, wall_s=wall, cwd=task.cwd,
                    gateway_env=gateway_env, folder=folder,
                )  # fmt: skip
            finally:
                relay.remove()
            ledger = gate.ledger
        fault = None if session.timed_out else gateway_fault(read_records(folder))
        if fault is not None:
            raise InfraError(f"{self.name}'s session ended on a call the model gateway could "
                             f"not carry out ({fault}); the attempt is tried again.",
                             kind=FaultKind.GATEWAY)  # fmt: skip
        stop, turns = _ending(self.agent, session.log, session.timed_out, ledger.refusals)
        log.event("installed_done", exit_code=session.exit_code, stop_reason=stop,
                  calls=ledger.calls, log=session.log.name)  # fmt: skip
        return AgentOutcome(turns=turns or ledger.replies, usage=ledger.usage,
                            cost_usd=ledger.cost_usd, stop_reason=stop)  # fmt: skip


def gateway_fault(calls: list[CallRecord]) -> str | None:
    """What went wrong when the session's last model call failed on the way out (the provider
    unreachable, a stream cut): the gateway's fault, not the agent's. None when the last call
    was answered or refused (a refusal is the agent's limit) or when a fault was followed by
    an answer (the CLI retried)."""
    model_calls = [c for c in calls if c.path != USER_TOOL_PATH]
    last = model_calls[-1] if model_calls else None
    if last is None or last.refused or last.error is None or last.status == 401:
        return None
    return last.error


def _user_tool(env: AgentEnv, log: TranscriptLog) -> str:
    """The user tool run for the `user-tool` command; its message, as the loop logs it."""
    t0 = time.monotonic()
    reply = env.user_tool()
    log.event("user_tool", output=reply.text, outcome=reply.outcome, note=reply.note,
              seconds=round(time.monotonic() - t0, 3))  # fmt: skip
    return f"{reply.text}\n{reply.note}".strip()


def _ending(agent: InstalledAgent, log: Path, timed_out: bool,
            refusals: list[str]) -> tuple[str, int]:  # fmt: skip
    """The stop reason and turns: the wall time, the gateway's cost cap, else what the CLI's
    own log says (`InstalledAgent.session_end`)."""
    at_limit, turns = agent.session_end(log.read_text(encoding="utf-8", errors="replace"))
    if timed_out:
        return "max_seconds", turns
    if any(r in ("cost_cap", "run_cost_cap") for r in refusals):
        return "max_cost", turns
    return ("max_turns" if at_limit else "done"), turns
