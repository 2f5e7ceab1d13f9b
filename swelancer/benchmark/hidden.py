"""The hidden tests: taken out of the container before the agent's turn, kept on the host, and
put back (pristine) only for the user tool and for grading."""

from __future__ import annotations

import contextlib
import shlex
import shutil
from pathlib import Path

from pydantic import BaseModel

from swelancer.benchmark.shell import TESTS_DIR, interactive, steps
from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.archive import CopyLimits
from swelancer.sandbox.base import ExecResult, Sandbox
from swelancer.tasks.models import IcTask, ManagerTask

TESTS_COPY = CopyLimits(
    max_file_bytes=1_000_000_000, max_total_bytes=5_000_000_000, max_entries=1_000_000
)
"""Caps of the copy made before the agent's turn (the image's own files)."""
REWRITTEN = "/tmp/.swelancer-rewritten-test.py"


class HiddenTests(BaseModel):
    """The host copy of `/app/tests` of one attempt."""

    root: Path
    folder: str | None = None
    """The graded folder (`issues/<question_id>`), for IC tasks."""
    rewritten: bytes | None = None
    """`test.py` as the image's playbook rewrites it before pytest (upstream's
    `rewrite_test.py`), made before the agent's turn; None when the image has no such step."""

    def test_file(self) -> Path | None:
        return self.root / "issues" / self.folder / "test.py" if self.folder else None


def graded_folder(task: IcTask) -> str:
    """The one test folder upstream grades: `issues/<question_id>`, whatever
    `acceptable_folders` lists (29 current tasks list folders the image lacks)."""
    return task.task_id


def hide_tests(
    sandbox: Sandbox,
    host_copy: Path,
    task: IcTask | ManagerTask,
    also_delete: tuple[str, ...] = (),
    pruned: ExecResult | None = None,
) -> HiddenTests:
    """Move the hidden tests out of the sandbox: keep them on the host, delete them inside.

    Everything in `/app/tests` is kept (the playbooks, `utils/`, `issues/conftest.py`, the
    logs) except other tasks' folders of `issues/`: the unified image holds every task's
    tests, which this task never needs. They are deleted first, in one command, so that one
    bounded archive copy takes the rest. An IC task whose own folder is missing cannot be
    graded: an `InfraError` (kind `task_missing`, not retried) that names the folder.
    Runs before the agent's turn (the container is still the harness's own); `also_delete`:
    other files of the harness's steps, deleted with the tests in the same command.
    `pruned`: the result of `prepare_steps`' commands, run already with other steps.
    """
    if host_copy.exists():
        shutil.rmtree(host_copy)
    own = graded_folder(task) if isinstance(task, IcTask) else None
    if pruned is None:
        pruned = sandbox.exec(steps(*prepare_steps(task)), timeout=600)
    check_pruned(sandbox, task, pruned)
    host_copy.parent.mkdir(parents=True, exist_ok=True)
    report = sandbox.copy_out(TESTS_DIR, host_copy, TESTS_COPY)
    if report.stopped or report.truncated or not host_copy.is_dir():
        raise InfraError(f"could not keep {TESTS_DIR} whole: {report.note()}", kind=FaultKind.HIDE)
    (host_copy / "issues").mkdir(exist_ok=True)
    hidden = HiddenTests(root=host_copy, folder=own)
    if own is not None:
        with contextlib.suppress(FileNotFoundError):
            hidden.rewritten = sandbox.read_file(REWRITTEN, limit=10_000_000)
    doomed = (TESTS_DIR, REWRITTEN, *also_delete)
    gone = f"rm -rf {' '.join(doomed)} && test ! -e {TESTS_DIR}"
    result = sandbox.exec(["sh", "-c", gone], timeout=300)
    if not result.ok:
        raise InfraError(
            f"could not delete {TESTS_DIR}: {result.output[-500:]}", kind=FaultKind.HIDE
        )
    return hidden


_NO_TESTS, _NO_ISSUES, _NO_OWN = 3, 4, 5


def prepare_steps(task: IcTask | ManagerTask) -> list[tuple[list[str], str]]:
    """The commands `hide_tests` needs run first (for `shell.steps`): delete every folder of
    `issues/` but the task's own (files such as `conftest.py` and links stay), after checking
    that the tests and the task's folder are there; then, for IC tasks, the image's own test
    rewrite (upstream's `rewrite_test.py`, which `run_tests.yml` runs on `test.py` before
    pytest) on a copy, so that grading can tell that rewrite from tampering. Before the agent's
    turn: the container is still the harness's own."""
    own = graded_folder(task) if isinstance(task, IcTask) else None
    check = f"[ -d {own} ] && [ ! -L {own} ] || exit {_NO_OWN}; " if own else ""
    spare = f"! -name {own} " if own else ""  # IC ids are digits and `_`: no glob characters
    prune = (
        f"cd {TESTS_DIR} 2>/dev/null || exit {_NO_TESTS}; "
        f"cd issues 2>/dev/null || exit {_NO_ISSUES}; {check}"
        f"find . -mindepth 1 -maxdepth 1 -type d {spare}-exec rm -rf -- {{}} +"
    )
    found = [(["sh", "-c", prune], "exit $?")]
    if own is None:
        return found
    rewrite = (
        f"[ -f {TESTS_DIR}/rewrite_test.py ] || exit 3; cd {TESTS_DIR} && "
        f"cp issues/{shlex.quote(own)}/test.py {REWRITTEN} && "
        f"python3.12 rewrite_test.py {REWRITTEN}"
    )
    return [*found, (interactive(rewrite), f"rm -f {REWRITTEN}")]


def check_pruned(sandbox: Sandbox, task: IcTask | ManagerTask, done: ExecResult) -> None:
    """Raise what a failed `prepare_steps` means."""
    if done.ok:
        return
    said = done.output.strip()[-300:]
    own = graded_folder(task) if isinstance(task, IcTask) else None
    if done.exit_code == _NO_TESTS:
        raise InfraError(
            f"{TESTS_DIR} is missing in {sandbox.name}; is this a SWE-Lancer image? ({said})",
            kind=FaultKind.TESTS_MISSING,
        )
    if done.exit_code == _NO_OWN and isinstance(task, IcTask):
        listed = ", ".join(task.test_folders) or "none"
        raise InfraError(
            f"the image has no test folder {TESTS_DIR}/issues/{own} for task {task.task_id} "
            f"(its acceptable_folders: {listed}); this image does not hold the task. "
            "Check --image / --image-prefix, or pull the image the manifest was made for.",
            kind=FaultKind.TASK_MISSING,
            retryable=False,
        )
    raise InfraError(
        f"could not list {TESTS_DIR}/issues in {sandbox.name} (exit {done.exit_code}): {said}",
        kind=FaultKind.HIDE,
    )


def drop_tests(box: Sandbox) -> None:
    """Delete the image's tests from an app container (it never holds them: a judge container
    runs them); the logs folder the app's part of the playbook writes to is made by each run."""
    done = box.exec(["sh", "-c", f"rm -rf {TESTS_DIR} && test ! -e {TESTS_DIR}"], timeout=300)
    if not done.ok:
        raise InfraError(
            f"could not delete {TESTS_DIR} in {box.name}: {done.output[-300:]}", kind=FaultKind.HIDE
        )
