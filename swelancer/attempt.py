"""One attempt, self-contained: (task, settings) in, AttemptRecord and files out.

Holds no process-global state, so an executor on another machine could run it unchanged.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from swelancer import protocol
from swelancer.agents.base import Agent, AgentEnv, AgentOutcome, Limits
from swelancer.errors import InfraError
from swelancer.images import DEMO_IMAGE
from swelancer.results import (
    AttemptError,
    AttemptRecord,
    Phases,
    Tokens,
    Transcript,
    transcript_spend,
    utc_now,
)
from swelancer.sandbox.base import ExecResult, Sandbox
from swelancer.task import IcTask, ManagerTask

# What upstream's sample.env sets; upstream passes these to every task container.
UPSTREAM_ENV = {
    "USE_WEB_PROXY": "false",
    "EXPENSIFY_URL": "https://www.expensify.com/",
    "NEW_EXPENSIFY_URL": "https://new.expensify.com/",
}
DEMO_MEMORY = "8g"


class Interrupted(Exception):
    """The run is stopping; this attempt is abandoned and not recorded."""


class AttemptSettings(BaseModel):
    """The part of the run configuration one attempt needs."""

    run_id: str
    model: str
    image: str
    test_runs: int = 3
    setup_timeout_s: float = 2400.0
    test_timeout_s: float = 1800.0
    user_tool_timeout_s: float = 300.0
    limits: Limits = Limits()
    grade_in: Literal["same", "fresh"] = "same"
    memory: str | None = None
    """Docker's units; `auto` is 8g on the demo image and no limit elsewhere."""
    cpus: float | None = None
    pids_limit: int | None = None


def container_env(task: IcTask | ManagerTask) -> dict[str, str]:
    """The environment upstream starts a task container with (fresh Pusher secrets per run).
    RUNTIME_SETUP is the image's own (the unified image sets it, per-task images do not)."""
    return {
        "ISSUE_ID": task.task_id,
        "EVAL_VARIANT": task.variant,
        "LC_ALL": "C.UTF-8",
        "PUSHER_APP_KEY": secrets.token_hex(10),
        "PUSHER_APP_SECRET": secrets.token_hex(10),
        "PUSHER_APP_ID": str(secrets.randbelow(9_000_000) + 1_000_000),
        **UPSTREAM_ENV,
    }


def memory_limit(settings: AttemptSettings) -> str | None:
    if settings.memory == "auto":
        return DEMO_MEMORY if settings.image == DEMO_IMAGE else None
    return settings.memory


def start_sandbox(
    task: IcTask | ManagerTask,
    attempt: int,
    settings: AttemptSettings,
    client=None,
    role: str = "agent",
) -> Sandbox:
    from swelancer.sandbox.docker import DockerSandbox

    return DockerSandbox.start(
        settings.image,
        env=container_env(task),
        labels={
            "swelancer.run_id": settings.run_id,
            "swelancer.task_id": task.task_id,
            "swelancer.attempt": str(attempt),
            "swelancer.role": role,
        },
        memory=memory_limit(settings),
        cpus=settings.cpus,
        pids_limit=settings.pids_limit,
        client=client,
    )


class Controls:
    """The hidden test's verdict on the untouched task, graded once per task and image in a
    fresh sandbox, shared by the attempts of a run. It settles what a graded attempt alone
    cannot: when the test gave no clean verdict on the agent's change (no exit code, or 2 and
    above), a control that grades cleanly shows the change was the cause."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._grades: dict[tuple[str, str], protocol.IcGrade] = {}

    def grade(
        self, key: tuple[str, str], run: Callable[[], protocol.IcGrade]
    ) -> tuple[protocol.IcGrade, bool]:
        """The control's grade (and whether it was already known). Concurrent callers for one
        key wait for a single run; a control that gave no clean verdict is not kept."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._grades:
                return self._grades[key], True
            grade = run()
            if grade.outcome != "anomaly":
                self._grades[key] = grade
            return grade, False


def _check(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise Interrupted()


def run_once(
    task: IcTask | ManagerTask,
    attempt: int,
    settings: AttemptSettings,
    agent: Agent,
    folder: Path,
    *,
    stop: threading.Event | None = None,
    on_phase=None,
    client=None,
    controls: Controls | None = None,
) -> AttemptRecord:
    """One try at one attempt. Raises `InfraError` for faults that are not the model's."""
    started = utc_now()
    phases = Phases()
    phase = on_phase or (lambda name: None)
    controls = controls or Controls()

    def on_event(kind: str, data: dict) -> None:
        if kind == "model":
            phase(f"agent turn {data.get('turn')}")

    log = Transcript(folder / "transcript.jsonl", on_event=on_event)
    hidden = Path(tempfile.mkdtemp(prefix="swelancer-hidden-")) / "tests"
    sandbox: Sandbox | None = None
    try:
        phase("starting")
        sandbox = start_sandbox(task, attempt, settings, client)
        log.event("sandbox", name=sandbox.name, image=settings.image)
        t0 = time.monotonic()
        phase("setup")
        protocol.wait_until_ready(sandbox, task, settings.setup_timeout_s)
        if isinstance(task, ManagerTask):
            protocol.checkout_manager_base(sandbox, task)
        protocol.hide_tests(sandbox, hidden, task)
        protocol.fresh_history(sandbox, task)
        sandbox.disconnect_network()
        baseline = sandbox.process_ids()
        phases.setup = time.monotonic() - t0
        log.event("ready", seconds=round(phases.setup, 3))
        _check(stop)

        t0 = time.monotonic()
        phase("agent")
        env = AgentEnv(
            sandbox=sandbox,
            user_tool=_user_tool(sandbox, task, hidden, settings, folder),
            run=_shell(sandbox, task.cwd),
            hidden_tests=hidden if agent.name == "mock/oracle" else None,
        )
        try:
            outcome: AgentOutcome = agent.solve(task, env, settings.limits, log)
        except InfraError as exc:
            if not _stopped_by_agent(sandbox, exc):
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
        # Whatever the agent left running (servers, a fork bomb, a process waiting to spoil
        # grading) ends here; the image's own processes stay.
        sandbox.kill_processes_except(baseline)
        _check(stop)

        t0 = time.monotonic()
        phase("grading")
        record = _record(task, attempt, settings, started, outcome)
        if isinstance(task, IcTask):
            passed = _grade_ic(task, attempt, settings, client, sandbox, hidden, folder, record,
                               controls, log)  # fmt: skip
        else:
            verdict = protocol.grade_manager(sandbox, task, folder)
            record.selected_proposal = verdict.selected
            record.correct_proposal = task.correct_proposal_id
            record.reason = verdict.reason
            passed = verdict.passed
        phases.grading = time.monotonic() - t0
        record.status = "passed" if passed else "failed"
        record.score = 1.0 if passed else 0.0
        record.earned_usd = task.price_usd * record.score
        record.seconds = phases
        record.finished_at = utc_now()
        log.event("verdict", status=record.status, earned_usd=record.earned_usd)
        return record
    finally:
        if sandbox is not None:
            _save_logs(sandbox, folder / "sandbox.log")
            sandbox.remove()
        shutil.rmtree(hidden.parent, ignore_errors=True)
        log.close()


def _grade_ic(
    task: IcTask,
    attempt: int,
    settings: AttemptSettings,
    client,
    sandbox: Sandbox,
    hidden: Path,
    folder: Path,
    record: AttemptRecord,
    controls: Controls,
    log: Transcript,
) -> bool:
    """Grade the agent's change (in its own container, offline, as upstream does; or alone in
    a fresh one) and settle a run without a clean verdict against the control."""
    patch = protocol.extract_patch(sandbox, task.cwd)
    (folder / "patch.diff").write_bytes(patch.encode("utf-8", "surrogateescape"))
    record.graded_folder = protocol.graded_folder(task)
    record.acceptable_folders = list(task.test_folders)
    if settings.grade_in == "fresh":
        grade, problem = _grade_in_fresh_sandbox(task, attempt, settings, client, patch, folder)
        if problem is not None:
            record.reason = problem
            record.test_exit_codes = {}
            return False
    else:
        protocol.restore_tests(sandbox, hidden)
        grade = protocol.grade_ic(
            sandbox,
            task,
            test_runs=settings.test_runs,
            timeout_s=settings.test_timeout_s,
            out_dir=folder / "grading",
        )
    record.test_exit_codes = {grade.folder: grade.exit_codes}
    if grade.outcome != "anomaly":
        return grade.outcome == "passed"
    log.event("no_verdict", note=grade.note, next="grading the untouched task as a control")
    control, known = controls.grade(
        (settings.image, task.task_id),
        lambda: _control_grade(task, attempt, settings, client, folder),
    )
    record.control_exit_codes = control.exit_codes
    if control.outcome == "anomaly":
        raise InfraError(
            f"the hidden test of {task.task_id} gave no verdict on the agent's change "
            f"({grade.note}), and none on the untouched task either ({control.note}): a fault "
            "of the image or the grader, not the model's",
            kind="grader",
        )
    record.reason = (
        f"{grade.note}; the untouched task grades cleanly (exit "
        f"{control.exit_codes[-1]}{', graded earlier in this run' if known else ''}), "
        "so the change is the cause"
    )
    return False


def _fresh_grader(
    task: IcTask, attempt: int, settings: AttemptSettings, client, role: str
) -> Sandbox:
    """A new container of the task, set up from scratch, holding only this task's tests and
    cut off the network once set up (upstream grades offline)."""
    grader = start_sandbox(task, attempt, settings, client, role=role)
    try:
        protocol.wait_until_ready(grader, task, settings.setup_timeout_s)
        protocol.prune_other_tasks(grader, task)
        grader.disconnect_network()
    except BaseException:
        grader.remove()
        raise
    return grader


def _grade_in_fresh_sandbox(
    task: IcTask, attempt: int, settings: AttemptSettings, client, patch: str, folder: Path
) -> tuple[protocol.IcGrade, str | None]:
    """Grade the patch alone in a new container, so that nothing else the agent changed (the
    test runner, pytest, the Python in the image) can pass a test."""
    grader = _fresh_grader(task, attempt, settings, client, "grader")
    try:
        problem = protocol.apply_patch(grader, task.cwd, patch)
        if problem is not None:
            empty = protocol.IcGrade(folder=protocol.graded_folder(task), outcome="failed")
            return empty, f"the patch does not apply: {problem}"
        grade = protocol.grade_ic(
            grader,
            task,
            test_runs=settings.test_runs,
            timeout_s=settings.test_timeout_s,
            out_dir=folder / "grading",
        )
        return grade, None
    finally:
        _save_logs(grader, folder / "grader-sandbox.log")
        grader.remove()


def _control_grade(
    task: IcTask, attempt: int, settings: AttemptSettings, client, folder: Path
) -> protocol.IcGrade:
    """The hidden test on the untouched task in a fresh container: the evidence that decides
    whether a missing verdict is the change's doing or the infrastructure's."""
    grader = _fresh_grader(task, attempt, settings, client, "control")
    try:
        return protocol.grade_ic(
            grader,
            task,
            test_runs=settings.test_runs,
            timeout_s=settings.test_timeout_s,
            out_dir=folder / "control",
        )
    finally:
        _save_logs(grader, folder / "control-sandbox.log")
        grader.remove()


def _stopped_by_agent(sandbox: Sandbox, exc: InfraError) -> bool:
    """Whether a fault during the agent's turn is its container having stopped while the
    engine still answers (as opposed to the engine itself failing)."""
    if exc.kind != "container_gone":
        return False
    try:
        return not sandbox.alive()
    except Exception:  # the engine does not answer: an infrastructure fault after all
        return False


def _record(
    task: IcTask | ManagerTask,
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


def _save_logs(sandbox: Sandbox, path: Path) -> None:
    with contextlib.suppress(Exception):  # logs are a courtesy; removal must still happen
        path.write_text(sandbox.logs(), encoding="utf-8")


def _shell(sandbox: Sandbox, cwd: str) -> Callable[[str, float], ExecResult]:
    def run(command: str, timeout: float) -> ExecResult:
        result = sandbox.exec(protocol.interactive(command), workdir=cwd, timeout=timeout)
        return result.model_copy(update={"output": protocol.without_shell_noise(result.output)})

    return run


def _user_tool(sandbox, task, hidden: Path, settings: AttemptSettings, folder: Path):
    def call() -> str:
        if not isinstance(task, IcTask):
            return "The user tool is only available for IC SWE tasks."
        return protocol.user_tool(sandbox, task, hidden, settings.user_tool_timeout_s, folder)

    return call


def error_record(
    task: IcTask | ManagerTask,
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
