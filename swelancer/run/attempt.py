"""One attempt, self-contained: (task, settings) in, AttemptRecord and files out.

Holds no process-global state, so an executor on another machine could run it unchanged.
Once the agent's turn begins, its container is the agent's: nothing the harness runs there
afterwards may start agent code except the grading itself (and, with `--user-tool-in same`,
the user tool), and every outcome that is not a clean verdict is settled by evidence
(`run.verdict`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from swelancer.agents.base import Agent, AgentEnv, AgentOutcome
from swelancer.benchmark import setup
from swelancer.benchmark.hidden import hide_tests, prepare_steps
from swelancer.benchmark.shell import interactive, steps, without_shell_noise
from swelancer.benchmark.user_tool_reply import UserToolReply
from swelancer.benchmark.variants import rules_for
from swelancer.errors import InfraError
from swelancer.records import AttemptError, AttemptRecord, Phases, Tokens, utc_now
from swelancer.run import user_tool_judged, verdict
from swelancer.run.controls import ControlGrades
from swelancer.run.results import Transcript, transcript_spend
from swelancer.run.spec import AttemptSettings, container_env, sandbox_spec
from swelancer.run.state import TryState
from swelancer.run.together import together
from swelancer.sandbox.base import ExecResult, Sandbox, SandboxProvider
from swelancer.tasks.models import IcTask, Task

if TYPE_CHECKING:
    from swelancer.sandbox.base import SnapshotStore

__all__ = [
    "AttemptSettings",
    "ControlGrades",
    "Interrupted",
    "container_env",
    "error_record",
    "run_try",
    "sandbox_spec",
]


class Interrupted(Exception):
    """The run is stopping; this attempt is abandoned and not recorded."""


def _check(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise Interrupted()


def run_try(
    task: Task,
    attempt: int,
    settings: AttemptSettings,
    agent: Agent,
    folder: Path,
    *,
    stop: threading.Event | None = None,
    on_phase=None,
    provider: SandboxProvider,
    controls: ControlGrades | None = None,
    snapshots: SnapshotStore | None = None,
) -> AttemptRecord:
    """One try at one attempt. Raises `InfraError` for faults that are not the model's."""
    started = utc_now()
    phases = Phases()
    phase = on_phase or (lambda name: None)

    def on_event(kind: str, data: dict) -> None:
        if kind == "model":
            phase(f"agent turn {data.get('turn')}")

    log = Transcript(folder / "transcript.jsonl", on_event=on_event)
    rules = rules_for(task)
    state = TryState(task, attempt, settings, folder, provider, controls or ControlGrades(), log,
                     snapshots if rules.snapshots else None)  # fmt: skip
    state.stop = stop
    ops = _Ops(state)
    try:
        phase("setup")
        t0 = time.monotonic()
        sandbox = state.sandbox = state.ready("agent")
        rules.prepare(sandbox)
        # one command: the other tasks' tests pruned, the test's rewrite, the fresh history
        first = steps(*prepare_steps(task), setup.fresh_history_step(task))
        done = sandbox.exec(first, workdir=task.cwd, timeout=1800)
        setup.fresh_history(sandbox, task, done)
        start = sandbox.changes()  # one listing: the patch's base and what setup changed
        state.patch_base = rules.patch_base(sandbox, state.scratch / "base", start)
        tests = state.scratch / "tests"
        state.hidden = hide_tests(sandbox, tests, task, also_delete=rules.also_delete, pruned=done)
        state.remember_start(start)
        sandbox.disconnect_network()
        state.keep, state.keep_engine = _processes_now(sandbox)
        phases.setup = time.monotonic() - t0
        log.event("ready", seconds=round(phases.setup, 3))
        _check(stop)

        t0 = time.monotonic()
        phase("agent")
        env = AgentEnv(
            sandbox=sandbox,
            user_tool=lambda: rules.user_tool(ops),
            run=_shell(sandbox, task.cwd),
            hidden_tests=state.hidden.root if agent.name == "mock/oracle" else None,
            folder=folder,
        )
        try:
            outcome: AgentOutcome = agent.solve(task, env, settings.limits, log)
        except InfraError as exc:
            if not state.stopped_under_us(sandbox, exc):
                raise
            # The engine is fine and the container stopped while the agent worked in it (it
            # killed its init, or outgrew its memory limit): the model's doing, scored 0.
            log.event("container_stopped", message=str(exc))
            why = f"the container stopped during the agent's turn ({exc})"
            record = _record(task, attempt, settings, started, AgentOutcome(), reason=why)
            spent = transcript_spend(log.path)
            record.tokens, record.cost_usd = spent.tokens, spent.cost_usd
            return record
        phases.agent = time.monotonic() - t0
        log.event("agent_done", stop_reason=outcome.stop_reason, turns=outcome.turns)
        _check(stop)

        t0 = time.monotonic()
        phase("grading")
        record = _record(task, attempt, settings, started, outcome)
        passed = rules.grade(sandbox, ops, record)
        phases.grading = time.monotonic() - t0
        record.status = "passed" if passed else "failed"
        record.score = 1.0 if passed else 0.0
        record.earned_usd = task.price_usd * record.score
        record.seconds = phases
        record.setup_from = dict(state.setup_from)
        record.finished_at = utc_now()
        log.event("verdict", status=record.status, earned_usd=record.earned_usd)
        return record
    finally:
        state.close()
        log.close()


class _Ops:
    """What a try offers a variant's rules (`benchmark.variants.TryOps`)."""

    def __init__(self, state: TryState) -> None:
        self._state = state
        self.folder = state.folder
        self.user_tool_limit_s = state.settings.grading.user_tool_timeout_s

    def grade_change(self, task: IcTask, record: AttemptRecord) -> bool:
        return verdict.grade_ic(self._state, task, record)

    def user_tool(self, task: IcTask) -> UserToolReply:
        return user_tool_judged.call(self._state, task)


def _record(
    task: Task,
    attempt: int,
    settings: AttemptSettings,
    started: str,
    outcome: AgentOutcome,
    reason: str | None = None,
) -> AttemptRecord:
    """A failed record carrying what the agent spent; grading fills in the rest."""
    return AttemptRecord(
        run_id=settings.run_id,
        task_id=task.task_id,
        variant=task.variant,
        attempt=attempt,
        status="failed",
        price_usd=task.price_usd,
        model=settings.model,
        image=settings.image,
        turns=outcome.turns,
        tokens=Tokens(
            input=outcome.usage.input_tokens,
            cached=outcome.usage.cached_input_tokens,
            output=outcome.usage.output_tokens,
            reasoning=outcome.usage.reasoning_tokens,
        ),
        cost_usd=outcome.cost_usd,
        stop_reason=outcome.stop_reason,
        reason=reason,
        started_at=started,
        finished_at=utc_now(),
    )


def _processes_now(sandbox: Sandbox) -> tuple[set[int], set[int]]:
    """The ids of the container's processes now, as the container and as the engine number
    them, asked side by side (before the agent's turn: `ls /proc` inside is the harness's)."""
    keep, listed = together(sandbox.process_ids, sandbox.engine_processes)
    return keep, set(listed)


def _shell(sandbox: Sandbox, cwd: str) -> Callable[[str, float], ExecResult]:
    def run(command: str, timeout: float) -> ExecResult:
        result = sandbox.exec(interactive(command), workdir=cwd, timeout=timeout)
        return result.model_copy(update={"output": without_shell_noise(result.output)})

    return run


def error_record(
    task: Task,
    attempt: int,
    settings: AttemptSettings,
    error: InfraError,
    retries: int,
    started: str,
) -> AttemptRecord:
    """An attempt that infrastructure faults kept from finishing: kept out of the scores."""
    record = _record(task, attempt, settings, started, AgentOutcome(), reason=None)
    record.status = "error"
    record.stop_reason = None
    record.error = AttemptError(kind=error.kind, message=str(error))
    record.infra_retries = retries
    return record
