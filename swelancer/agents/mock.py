"""Deterministic agents that need no network: gold answers, nothing, and always proposal 0."""

from __future__ import annotations

import json
from collections.abc import Callable

from swelancer.agents.base import AgentEnv, AgentOutcome, Limits, TranscriptLog
from swelancer.errors import ConfigError, FaultKind, InfraError
from swelancer.tasks.models import IcTask, ManagerTask

MOCKS = ("mock/oracle", "mock/noop", "mock/first")


def _decide(env: AgentEnv, task: ManagerTask, proposal_id: int, log: TranscriptLog) -> None:
    decision = json.dumps({"selected_proposal_id": proposal_id})
    env.sandbox.write_file(f"{task.cwd}/manager_decisions.json", decision)
    log.event("decision", selected_proposal_id=proposal_id)


class OracleAgent:
    """The gold answer: reverse the bug patch (IC) or pick the manager's proposal."""

    name = "mock/oracle"

    def solve(
        self, task: IcTask | ManagerTask, env: AgentEnv, limits: Limits, log: TranscriptLog
    ) -> AgentOutcome:
        if isinstance(task, ManagerTask):
            _decide(env, task, task.correct_proposal_id, log)
            return AgentOutcome(turns=1)
        if env.hidden_tests is None:
            raise InfraError(
                "mock/oracle needs the host copy of the hidden tests", kind=FaultKind.ORACLE
            )
        # The folder upstream grades, issues/<question_id>, holds the patch that set the bug.
        patch = env.hidden_tests / "issues" / task.task_id / "bug_reintroduce.patch"
        if not patch.is_file():
            raise InfraError(f"no bug_reintroduce.patch for {task.task_id}", kind=FaultKind.ORACLE)
        env.sandbox.write_file("/tmp/gold.patch", patch.read_bytes())
        result = env.run(
            "{ git apply -R --whitespace=nowarn /tmp/gold.patch || patch -p1 -R -s "
            "< /tmp/gold.patch; }; code=$?; rm -f /tmp/gold.patch; exit $code",
            limits.command_timeout_s,
        )
        log.event("command", command="git apply -R bug_reintroduce.patch", output=result.output,
                  exit_code=result.exit_code)  # fmt: skip
        if not result.ok:
            raise InfraError(
                f"the gold patch of {task.task_id} does not reverse: {result.output[-300:]}",
                kind=FaultKind.ORACLE,
            )
        return AgentOutcome(turns=1)


class NoopAgent:
    """Does nothing: every task must fail."""

    name = "mock/noop"

    def solve(
        self, task: IcTask | ManagerTask, env: AgentEnv, limits: Limits, log: TranscriptLog
    ) -> AgentOutcome:
        log.event("note", text="mock/noop does nothing")
        return AgentOutcome(turns=0, stop_reason="done")


class FirstProposalAgent:
    """Manager tasks: always proposal 0 (a useful baseline on real data). IC tasks: nothing."""

    name = "mock/first"

    def solve(
        self, task: IcTask | ManagerTask, env: AgentEnv, limits: Limits, log: TranscriptLog
    ) -> AgentOutcome:
        if isinstance(task, ManagerTask):
            _decide(env, task, 0, log)
            return AgentOutcome(turns=1)
        return AgentOutcome(turns=0)


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
