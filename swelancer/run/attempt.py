"""One attempt, self-contained: (task, settings) in, AttemptRecord and files out.

Holds no process-global state, so an executor on another machine could run it unchanged.
Once the agent's turn begins, its container is the agent's: nothing the harness runs there
afterwards may start agent code except the grading itself (and, with `--user-tool-in same`,
the user tool), and every outcome that is not a clean verdict is settled by evidence.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from swelancer.agents.base import Agent, AgentEnv, AgentOutcome, Limits
from swelancer.benchmark import setup
from swelancer.benchmark.grading import IcGrade, grade_ic
from swelancer.benchmark.hidden import HiddenTests, graded_folder, hide_tests, prune_other_tasks
from swelancer.benchmark.manager import grade_manager
from swelancer.benchmark.patch import (
    Baseline,
    PatchTooLarge,
    PatchUnreadable,
    apply_patch,
    capture_baseline,
    compute_patch,
)
from swelancer.benchmark.shell import interactive, without_shell_noise
from swelancer.benchmark.trust import replaced_tools
from swelancer.benchmark.user_tool import in_agent_sandbox, in_fresh_sandbox
from swelancer.config import GradingSection, SandboxSection
from swelancer.errors import FaultKind, InfraError
from swelancer.ops.images import DEMO_IMAGE
from swelancer.run.results import (
    AttemptError,
    AttemptRecord,
    Phases,
    Tokens,
    Transcript,
    transcript_spend,
    utc_now,
)
from swelancer.sandbox.base import ExecResult, Sandbox, SandboxProvider, SandboxSpec
from swelancer.tasks.models import IcTask, ManagerTask

if TYPE_CHECKING:
    from swelancer.sandbox.docker.snapshots import SnapshotStore

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
    """What one attempt needs of the run: its identity, its image, and the run configuration's
    sandbox, grading and limits sections (the same objects, not copies)."""

    run_id: str
    model: str
    image: str
    sandbox: SandboxSection = Field(default_factory=SandboxSection)
    grading: GradingSection = Field(default_factory=GradingSection)
    limits: Limits = Field(default_factory=Limits)


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
    memory = settings.sandbox.memory
    if memory == "auto":
        return DEMO_MEMORY if settings.image == DEMO_IMAGE else None
    return None if memory.lower() in ("none", "0", "") else memory


def _labels(settings: AttemptSettings, task: IcTask | ManagerTask, attempt: int, role: str):
    return {
        "swelancer.run_id": settings.run_id,
        "swelancer.task_id": task.task_id,
        "swelancer.run.attempt": str(attempt),
        "swelancer.role": role,
    }


def sandbox_spec(
    task: IcTask | ManagerTask, attempt: int, settings: AttemptSettings, role: str = "agent"
) -> SandboxSpec:
    return SandboxSpec(
        image=settings.image,
        env=container_env(task),
        labels=_labels(settings, task, attempt, role),
        memory=memory_limit(settings),
        cpus=settings.sandbox.cpus,
        pids_limit=settings.sandbox.pids_limit or None,
        disk=settings.sandbox.disk,
    )


class Controls:
    """The hidden test's verdict on the untouched task, graded once per task and image in a
    fresh sandbox, shared by the attempts of a run. It settles what a graded attempt alone
    cannot: when the test gave no clean verdict on the agent's change (no exit code, or 2 and
    above), a control that grades cleanly shows the change was the cause."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._grades: dict[tuple[str, str], IcGrade] = {}

    def grade(self, key: tuple[str, str], run: Callable[[], IcGrade]) -> tuple[IcGrade, bool]:
        """The control's grade (and whether it was already known). Concurrent callers for one
        key wait for a single run; a control that gave no clean verdict is not kept."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._grades:
                return self._grades[key], True
            grade = run()
            if grade.outcome in ("passed", "failed"):
                self._grades[key] = grade
            return grade, False


def _check(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise Interrupted()


class _Attempt:
    """The state of one try: its sandboxes, the hidden tests, the patch's base."""

    def __init__(self, task, attempt, settings, folder, provider, controls, log, snapshots) -> None:
        self.task: IcTask | ManagerTask = task
        self.attempt: int = attempt
        self.settings: AttemptSettings = settings
        self.folder: Path = folder
        self.provider: SandboxProvider = provider
        self.snapshots = snapshots
        self.setup_from: dict[str, str] = {}
        """How each role's first container was set up: `cold` or `snapshot`."""
        self.controls: Controls = controls
        self.log: Transcript = log
        self.scratch = Path(tempfile.mkdtemp(prefix="swelancer-attempt-"))
        self.sandbox: Sandbox | None = None
        self.reference: Sandbox | None = None
        self.hidden: HiddenTests | None = None
        self.baseline: Baseline | None = None
        self.keep: set[int] = set()
        self.keep_engine: set[int] = set()
        self.start_changes: dict[str, int] = {}
        """The engine's changes when the agent got the container (setup's own)."""
        self.start_digests: dict[str, str] = {}
        """Content of the programs and startup files setup itself changed (e.g. the
        `user-tool` alias upstream's run.sh appends to .bashrc), to tell later changes apart."""
        self.keeps: dict[str, set[int]] = {}
        """The image's own processes in each fresh sandbox (kept between test runs)."""
        self.leaked: list[str] = []
        """Files where the app copied text of the hidden test during a user-tool call."""

    # -- sandboxes ----------------------------------------------------------------------

    def ready(self, role: str) -> Sandbox:
        """A container of the task whose setup is done: from the task's snapshot when there is
        one; else set up cold, and (the first time, for IC tasks) committed as the snapshot
        before anything else runs in it. Its log goes to the attempt folder either way."""
        task, settings = self.task, self.settings
        spec = sandbox_spec(task, self.attempt, settings, role)
        store = self.snapshots if isinstance(task, IcTask) else None
        if store is None:
            return self._start(spec, role, "cold")
        snapshot = store.find(settings.image, task.task_id)
        if snapshot is not None:
            return self._start(spec.model_copy(update={"image": snapshot}), role, "snapshot")
        with store.first(settings.image, task.task_id) as snapshot:
            if snapshot is not None:
                return self._start(spec.model_copy(update={"image": snapshot}), role, "snapshot")
            box = self._start(spec, role, "cold")
            made = store.make(box, settings.image, task.task_id)
            self.log.event("snapshot", role=role, name=made, notes=store.notes[-3:])
            return box

    def _start(self, spec: SandboxSpec, role: str, source: str) -> Sandbox:
        box = self.provider.start(spec)
        self.setup_from.setdefault(role, source)
        self.log.event("sandbox", role=role, name=box.name, image=spec.image, setup=source)
        try:
            setup.wait_until_ready(box, self.task, self.settings.sandbox.setup_timeout_s)
        except BaseException:
            _save_logs(box, self.folder / f"{role}-sandbox.log")
            box.remove()
            raise
        return box

    def fresh(self, role: str) -> Sandbox:
        """A new container of the task, set up (cold or from its snapshot), holding only this
        task's tests and cut off the network once set up (upstream grades offline)."""
        task = self.task
        assert isinstance(task, IcTask)
        grader = self.ready(role)
        try:
            prune_other_tasks(grader, task)
            grader.disconnect_network()
            self.keeps[grader.name] = grader.process_ids()
        except BaseException:
            _save_logs(grader, self.folder / f"{role}-sandbox.log")
            grader.remove()
            raise
        return grader

    def patch(self, changes: list[tuple[str, int]] | None = None) -> str:
        """The agent's change now, computed on the host (see `benchmark.patch`)."""
        assert self.sandbox is not None and self.baseline is not None
        if self.reference is None:
            labels = _labels(self.settings, self.task, self.attempt, "reference")
            self.reference = self.provider.reference(self.settings.image, labels)
        workdir = Path(tempfile.mkdtemp(prefix="patch-", dir=self.scratch))
        try:
            return compute_patch(
                self.sandbox, self.reference, self.baseline, workdir, changes=changes
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def remember_start(self) -> None:
        """Note what setup changed, before the agent's turn (see `replaced_since_start`)."""
        assert self.sandbox is not None
        self.start_changes = dict(self.sandbox.changes())
        for path in replaced_tools(self.start_changes.items()):
            self.start_digests[path] = self._digest(path)

    def replaced_since_start(self, changes: list[tuple[str, int]]) -> list[str]:
        """Programs and startup files the agent changed, from the engine's record and the
        archive API (nothing runs in the container)."""
        new = [(p, k) for p, k in changes if self.start_changes.get(p) != k]
        found = set(replaced_tools(new))
        found.update(p for p, d in self.start_digests.items() if self._digest(p) != d)
        return sorted(found)

    def _digest(self, path: str) -> str:
        assert self.sandbox is not None
        try:
            return hashlib.sha256(self.sandbox.read_file(path, limit=10_000_000)).hexdigest()
        except (FileNotFoundError, IsADirectoryError):
            return "absent"
        except InfraError as exc:
            return f"unreadable: {exc.kind}"

    def stop_agent_processes(self) -> list[str]:
        """Kill what the agent left running; the command lines of what survived, as the engine
        (not the container) lists them."""
        assert self.sandbox is not None
        with contextlib.suppress(InfraError):
            self.sandbox.kill_processes_except(self.keep)
        engine = getattr(self.sandbox, "engine_processes", None)
        if engine is None:
            return []
        survivors = engine()
        return [cmd for pid, cmd in survivors.items() if pid not in self.keep_engine]

    def close(self) -> None:
        for box in (self.reference, self.sandbox):
            if box is None:
                continue
            if box is self.sandbox:
                _save_logs(box, self.folder / "sandbox.log")
            with contextlib.suppress(InfraError):
                box.remove()
        shutil.rmtree(self.scratch, ignore_errors=True)

    # -- the user tool ------------------------------------------------------------------

    def user_tool(self) -> str:
        """The user tool for the agent; a fault the agent caused (e.g. a folder too deep for the
        engine to list) is told to the model, one of the engine is raised."""
        try:
            return self._user_tool()
        except InfraError as exc:
            assert self.sandbox is not None
            if not self.sandbox.alive():  # raises when the engine itself does not answer
                raise
            self.log.event("user_tool_fault", message=str(exc))
            return f"The user tool could not run: {exc}"

    def _user_tool(self) -> str:
        task = self.task
        if not isinstance(task, IcTask):
            return "The user tool is only available for IC SWE tasks."
        assert self.sandbox is not None and self.hidden is not None
        timeout = self.settings.grading.user_tool_timeout_s
        if self.settings.grading.user_tool_in == "same":

            def stop() -> None:
                self.stop_agent_processes()

            message, leaked = in_agent_sandbox(
                self.sandbox, task, self.hidden, stop, timeout, self.folder
            )
            if leaked:
                self.leaked.extend(leaked)
                self.log.event("hidden_test_copied", paths=leaked[:20])
            return message
        try:
            patch = self.patch()
        except (PatchTooLarge, PatchUnreadable) as exc:
            return f"The user tool could not start: your changes cannot be read ({exc})."
        return in_fresh_sandbox(lambda: self.fresh("user-tool"), self.sandbox, task,
                                self.hidden, patch, apply_patch, timeout, self.folder)  # fmt: skip

    # -- grading ------------------------------------------------------------------------

    def grade_ic(self, record: AttemptRecord) -> bool:
        """Grade the agent's change (in its own container, offline, as upstream does; or alone
        in a fresh one) and settle a run without a clean verdict against the control.

        Before anything runs in the agent's container again, the engine's record says whether
        the agent replaced the programs the playbook runs; if so, or if processes it started
        survive the kill, its container cannot be trusted and the change is graded fresh."""
        task = self.task
        assert isinstance(task, IcTask) and self.hidden is not None and self.sandbox is not None
        record.graded_folder = graded_folder(task)
        record.acceptable_folders = list(task.test_folders)
        if self.leaked:
            record.tampering = (
                "during a user-tool call the app copied text of the hidden test where the agent "
                f"could read it ({', '.join(self.leaked[:3])})"
            )
            record.reason = f"tampering: {record.tampering}"
            return False
        try:
            changes = self.sandbox.changes()
        except InfraError as exc:
            return self._settle(f"the engine cannot list what the agent changed ({exc})", record)
        replaced = self.replaced_since_start(changes)
        survivors = [] if replaced else self.stop_agent_processes()
        try:
            patch = self.patch(changes)
        except PatchTooLarge as exc:
            record.reason = f"the change is too large to grade: {exc}"
            return False
        except PatchUnreadable as exc:
            return self._settle(f"the agent's change cannot be read ({exc})", record)
        (self.folder / "patch.diff").write_bytes(patch.encode("utf-8", "surrogateescape"))
        where = self.settings.grading.grade_in
        if where == "same" and (replaced or survivors):
            where = "fresh"
            why = (
                f"programs the playbook runs were replaced ({', '.join(replaced[:3])})"
                if replaced
                else "processes the agent started could not be stopped "
                f"({'; '.join(s[:80] for s in survivors[:3])})"
            )
            record.graded_in = f"fresh: {why}"
            self.log.event("graded_fresh", why=why)
        record.graded_in = record.graded_in or where
        if where == "fresh":
            grade, problem = self._grade_fresh(patch)
            if problem is not None:
                record.reason = problem
                return False
        else:
            grade = self._run_grading(self.sandbox, "grading")
        record.test_exit_codes = {grade.folder: grade.exit_codes}
        if grade.outcome == "tampered":
            record.tampering = grade.note
            record.reason = f"tampering: {grade.note}"
            self.log.event("tampering", note=grade.note)
            return False
        if grade.outcome != "anomaly":
            return grade.outcome == "passed"
        return self._settle(grade.note or "the test gave no verdict", record)

    def _run_grading(self, sandbox: Sandbox, out: str) -> IcGrade:
        assert isinstance(self.task, IcTask) and self.hidden is not None
        keep = self.keep if sandbox is self.sandbox else self.keeps.get(sandbox.name)
        return grade_ic(
            sandbox,
            self.task,
            self.hidden,
            test_runs=self.settings.grading.test_runs,
            timeout_s=self.settings.grading.test_timeout_s,
            out_dir=self.folder / out,
            keep=keep,
        )

    def _grade_fresh(self, patch: str) -> tuple[IcGrade, str | None]:
        """Grade the patch alone in a new container, so that nothing else the agent changed
        (the test runner, pytest, the Python in the image) can pass a test."""
        assert isinstance(self.task, IcTask)
        grader = self.fresh("grader")
        try:
            problem = apply_patch(grader, self.task.cwd, patch)
            if problem is not None:
                failed = IcGrade(folder=graded_folder(self.task), outcome="failed")
                return failed, f"the patch does not apply: {problem}"
            return self._run_grading(grader, "grading"), None
        finally:
            _save_logs(grader, self.folder / "grader-sandbox.log")
            grader.remove()

    def _settle(self, note: str, record: AttemptRecord) -> bool:
        """No clean verdict on the change: the untouched task, graded in a fresh sandbox,
        decides whether the change or the infrastructure is the cause."""
        assert isinstance(self.task, IcTask)
        self.log.event("no_verdict", note=note, next="grading the untouched task")

        def control() -> IcGrade:
            sandbox = self.fresh("control")
            try:
                return self._run_grading(sandbox, "control")
            finally:
                _save_logs(sandbox, self.folder / "control-sandbox.log")
                sandbox.remove()

        verdict, known = self.controls.grade((self.settings.image, self.task.task_id), control)
        record.control_exit_codes = verdict.exit_codes
        if verdict.outcome not in ("passed", "failed"):
            raise InfraError(
                f"the hidden test of {self.task.task_id} gave no verdict on the agent's change "
                f"({note}), and none on the untouched task either ({verdict.note}): a fault of "
                "the image or the grader, not the model's",
                kind=FaultKind.GRADER,
            )
        earlier = ", graded earlier in this run" if known else ""
        record.reason = (
            f"{note}; the untouched task grades cleanly (exit "
            f"{verdict.exit_codes[-1]}{earlier}), so the change is the cause"
        )
        return False


def run_once(
    task: IcTask | ManagerTask,
    attempt: int,
    settings: AttemptSettings,
    agent: Agent,
    folder: Path,
    *,
    stop: threading.Event | None = None,
    on_phase=None,
    provider: SandboxProvider,
    controls: Controls | None = None,
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
    state = _Attempt(task, attempt, settings, folder, provider, controls or Controls(), log,
                     snapshots)  # fmt: skip
    try:
        phase("setup")
        t0 = time.monotonic()
        sandbox = state.sandbox = state.ready("agent")
        if isinstance(task, ManagerTask):
            setup.checkout_manager_base(sandbox, task)
        state.hidden = hide_tests(sandbox, state.scratch / "tests", task)
        setup.fresh_history(sandbox, task)
        if isinstance(task, IcTask):
            state.baseline = capture_baseline(sandbox, task.cwd, state.scratch / "base")
        state.remember_start()
        sandbox.disconnect_network()
        state.keep = sandbox.process_ids()
        engine = getattr(sandbox, "engine_processes", None)
        state.keep_engine = set(engine()) if engine is not None else set()
        phases.setup = time.monotonic() - t0
        log.event("ready", seconds=round(phases.setup, 3))
        _check(stop)

        t0 = time.monotonic()
        phase("agent")
        env = AgentEnv(
            sandbox=sandbox,
            user_tool=state.user_tool,
            run=_shell(sandbox, task.cwd),
            hidden_tests=state.hidden.root if agent.name == "mock/oracle" else None,
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
        _check(stop)

        t0 = time.monotonic()
        phase("grading")
        record = _record(task, attempt, settings, started, outcome)
        if isinstance(task, IcTask):
            passed = state.grade_ic(record)
        else:
            verdict = grade_manager(sandbox, task, folder)
            record.selected_proposal = verdict.selected
            record.correct_proposal = task.correct_proposal_id
            record.reason = verdict.reason
            passed = verdict.passed
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
        result = sandbox.exec(interactive(command), workdir=cwd, timeout=timeout)
        return result.model_copy(update={"output": without_shell_noise(result.output)})

    return run


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
