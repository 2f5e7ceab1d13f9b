"""The verdict on an IC attempt: grade the agent's change (its app served from its own
container, offline, as upstream does, or from a fresh one holding its patch alone; the tests
always in a judge container of their own, `run.judge`), and settle a run without a clean
verdict against the untouched task (the control)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from swelancer.benchmark.grading import IcGrade
from swelancer.benchmark.hidden import graded_folder
from swelancer.benchmark.patch import PatchTooLarge, PatchUnreadable, apply_patch
from swelancer.errors import FaultKind, InfraError
from swelancer.records import AttemptRecord
from swelancer.run.judge import judged
from swelancer.run.state import TryState, save_logs
from swelancer.sandbox.base import Sandbox
from swelancer.tasks.models import IcTask


def grade_ic(state: TryState, task: IcTask, record: AttemptRecord) -> bool:
    """Grade the agent's change (in its own container, offline, as upstream does; or alone
    in a fresh one) and settle a run without a clean verdict against the control.

    Before anything runs in the agent's container again, the engine's record says whether
    the agent replaced the programs the playbook runs; if so, or if processes it started
    survive the kill, its container cannot be trusted and the change is graded fresh."""
    assert state.hidden is not None and state.sandbox is not None
    record.graded_folder = graded_folder(task)
    record.acceptable_folders = list(task.test_folders)
    try:
        changes = state.sandbox.changes()
    except InfraError as exc:
        why = f"the engine cannot list what the agent changed ({exc})"
        return _settle(state, task, why, record)
    replaced = state.replaced_since_start(changes)
    try:
        survivors = [] if replaced else state.stop_agent_processes()
    except InfraError as exc:  # e.g. a process it left killed init a moment after its turn
        if not state.stopped_under_us(state.sandbox, exc):
            raise
        state.log.event("container_stopped", message=str(exc), phase="after the turn")
        return _settle(state, task, f"the agent's container stopped after its turn ({exc})", record)
    where = state.settings.grading.grade_in
    in_place = where == "same" and not (replaced or survivors)
    try:
        change = state.read_change(changes)
    except PatchTooLarge as exc:
        return _too_large(record, exc)
    except PatchUnreadable as exc:
        return _settle(state, task, f"the agent's change cannot be read ({exc})", record)
    if in_place:  # the app runs in the agent's container as it is; the patch, on the host
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="swelancer-patch") as pool:
            making = pool.submit(change.patch)
            grade = _run_grading(state, task, state.sandbox, "grading")
        return _in_place(state, task, record, grade, making)
    try:
        patch = change.patch()
    except PatchTooLarge as exc:
        return _too_large(record, exc)
    _keep_patch(state, patch)
    if where == "same" and (replaced or survivors):
        where = "fresh"
        why = (
            f"programs the playbook runs were replaced ({', '.join(replaced[:3])})"
            if replaced
            else "processes the agent started could not be stopped "
            f"({'; '.join(s[:80] for s in survivors[:3])})"
        )
        record.graded_in = f"fresh: {why}"
        state.log.event("graded_fresh", why=why)
    record.graded_in = record.graded_in or where
    grade, problem = _grade_fresh(state, task, patch)
    if problem is not None:
        record.reason = problem
        return False
    return _judged(state, task, record, grade)


def _too_large(record: AttemptRecord, exc: PatchTooLarge) -> bool:
    record.reason = f"the change is too large to grade: {exc}"
    return False


def _keep_patch(state: TryState, patch: str) -> None:
    (state.folder / "patch.diff").write_bytes(patch.encode("utf-8", "surrogateescape"))


def _in_place(
    state: TryState, task: IcTask, record: AttemptRecord, grade: IcGrade, making: Future
) -> bool:
    """The verdict of a test run in the agent's container, once its patch is made too."""
    record.graded_in = "same"
    try:
        _keep_patch(state, making.result())
    except PatchTooLarge as exc:
        return _too_large(record, exc)
    except PatchUnreadable as exc:  # the host copies it reads from were made already
        return _settle(state, task, f"the agent's change cannot be read ({exc})", record)
    return _judged(state, task, record, grade)


def _judged(state: TryState, task: IcTask, record: AttemptRecord, grade: IcGrade) -> bool:
    """The attempt's verdict from its grade: a clean one, tampering, or settled by a control."""
    record.test_exit_codes = {grade.folder: grade.exit_codes}
    if grade.outcome == "tampered":
        record.tampering = grade.note
        record.reason = f"tampering: {grade.note}"
        state.log.event("tampering", note=grade.note)
        return False
    if grade.outcome != "anomaly":
        if grade.outcome == "failed" and grade.note:
            record.reason = grade.note  # e.g. the last run could not be staged
        return grade.outcome == "passed"
    return _settle(state, task, grade.note or "the test gave no verdict", record)


def _run_grading(state: TryState, task: IcTask, sandbox: Sandbox, out: str) -> IcGrade:
    """The hidden test's runs on the app in `sandbox`, judged in a container of its own."""
    assert state.hidden is not None
    try:
        return judged(state, task, sandbox, out)
    except InfraError as exc:  # the code under test (the agent's app) may stop its container
        if not state.stopped_under_us(sandbox, exc):
            raise
        state.log.event("container_stopped", message=str(exc), phase=out)
        note = f"{sandbox.name} stopped while its test ran ({exc})"
        return IcGrade(folder=graded_folder(task), outcome="anomaly", note=note)


def _grade_fresh(state: TryState, task: IcTask, patch: str) -> tuple[IcGrade, str | None]:
    """Grade the patch alone in a new container, so that nothing else the agent changed
    (the test runner, pytest, the Python in the image) can pass a test."""
    grader = state.fresh("grader")
    try:
        problem = apply_patch(grader, task.cwd, patch)
        if problem is not None:
            failed = IcGrade(folder=graded_folder(task), outcome="failed")
            return failed, f"the patch does not apply: {problem}"
        return _run_grading(state, task, grader, "grading"), None
    finally:
        save_logs(grader, state.folder / "grader-sandbox.log")
        grader.remove()


def _settle(state: TryState, task: IcTask, note: str, record: AttemptRecord) -> bool:
    """No clean verdict on the change: a container of the try stopped from outside makes it
    an infrastructure fault; else the untouched task, graded in a fresh sandbox, decides
    whether the change or the infrastructure is the cause."""
    state.check_outside(note)  # a container stopped from outside: retried, not graded
    state.log.event("no_verdict", note=note, next="grading the untouched task")

    def control() -> IcGrade:
        sandbox = state.fresh("control")
        try:
            return _run_grading(state, task, sandbox, "control")
        finally:
            save_logs(sandbox, state.folder / "control-sandbox.log")
            sandbox.remove()

    verdict, known = state.controls.grade((state.settings.image, task.task_id), control)
    record.control_exit_codes = verdict.exit_codes
    state.check_outside(note)  # reported while the control ran
    if verdict.outcome not in ("passed", "failed"):
        raise InfraError(
            f"the hidden test of {task.task_id} gave no verdict on the agent's change "
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
