"""Deterministic agents that need no network: gold answers, nothing, and always proposal 0."""

from __future__ import annotations

from collections.abc import Callable

from swelancer.agents.base import AgentEnv, AgentOutcome, HoldsNothing, Limits, TranscriptLog
from swelancer.benchmark.variants import rules_for
from swelancer.errors import ConfigError
from swelancer.tasks.models import Task

MOCKS = ("mock/oracle", "mock/noop", "mock/first")


class OracleAgent(HoldsNothing):
    """The gold answer: reverse the bug patch (IC) or pick the manager's proposal."""

    name = "mock/oracle"

    def solve(self, task: Task, env: AgentEnv, limits: Limits, log: TranscriptLog) -> AgentOutcome:
        run, timeout = env.run, limits.command_timeout_s
        kind, data = rules_for(task).give_gold(env.sandbox, env.hidden_tests, run, timeout)
        log.event(kind, **data)
        return AgentOutcome(turns=1)


class NoopAgent(HoldsNothing):
    """Does nothing: every task must fail."""

    name = "mock/noop"

    def solve(self, task: Task, env: AgentEnv, limits: Limits, log: TranscriptLog) -> AgentOutcome:
        log.event("note", text="mock/noop does nothing")
        return AgentOutcome(turns=0, stop_reason="done")


class FirstProposalAgent(HoldsNothing):
    """Manager tasks: always proposal 0 (a useful baseline on real data). IC tasks: nothing."""

    name = "mock/first"

    def solve(self, task: Task, env: AgentEnv, limits: Limits, log: TranscriptLog) -> AgentOutcome:
        answered = rules_for(task).answer(env.sandbox, 0)
        if answered is None:
            return AgentOutcome(turns=0)
        log.event(answered[0], **answered[1])
        return AgentOutcome(turns=1)


def mock_agent(spec: str) -> OracleAgent | NoopAgent | FirstProposalAgent:
    """The mock agent a `--model mock/…` string names."""
    agents: dict[str, Callable[[], OracleAgent | NoopAgent | FirstProposalAgent]] = {
        "mock/oracle": OracleAgent,
        "mock/noop": NoopAgent,
        "mock/first": FirstProposalAgent,
    }
    if spec not in agents:
        raise ConfigError(
            f"unknown mock model {spec!r}; choose one of {', '.join(agents)} "
            "(or mock/scripted:PATH)."
        )
    return agents[spec]()
