"""Getting a task's container ready for the agent: readiness, the manager's base commit, and a
history that does not hold the fix."""

from __future__ import annotations

import shlex
import time

from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.base import ExecResult, Sandbox
from swelancer.tasks.models import IcTask, ManagerTask

SETUP_MARKER = "/setup_done.txt"
BASE_LIST = "/tmp/.swelancer-base-files"
"""Where the fresh history of an IC task leaves the list of the files it committed (the
patch's base), NUL-separated, until the patch's base is read; deleted before the agent's turn."""
GIT_IDENTITY = "-c user.name=swelancer -c user.email=swelancer@localhost"


POLL_S = 0.01
"""The marker is read this often at first; later every fiftieth of the time waited so far (at
most `POLL_MAX_S`), so that a finished setup is seen within 2% of its time, and a start from a
snapshot (a fraction of a second) within a tenth. Each read goes through the engine's archive
(about 50 ms: reading the container's files on this host instead was measured to save 0.3 s an
attempt, docs/ARCHITECTURE.md)."""
POLL_MAX_S = 0.5
ALIVE_EVERY_S = 0.5
"""How often the container is checked to be still running while the marker is awaited."""


def wait_until_ready(sandbox: Sandbox, task: IcTask | ManagerTask, timeout_s: float) -> None:
    """IC tasks: wait until the entry point writes `done` to `/setup_done.txt`. Manager tasks
    are ready at once: upstream's `run.sh` does no setup for them and writes no marker.

    A container that stops while setting up (upstream's `run.sh` runs under `set -e`) or a
    setup that outlasts `timeout_s` is an `InfraError` (kind `setup_failed` / `setup_timeout`).
    The marker is read through the engine's archive API: nothing runs in the container.
    """
    if isinstance(task, ManagerTask):
        return
    started = time.monotonic()
    deadline = started + timeout_s
    checked = started
    while True:
        try:
            marker = sandbox.read_file(SETUP_MARKER, limit=4096).decode("utf-8", "replace")
        except (FileNotFoundError, IsADirectoryError):
            marker = ""
        if marker.strip() == "done":
            return
        now = time.monotonic()
        if now - checked >= ALIVE_EVERY_S or now > deadline:
            checked = now
            if not sandbox.alive():
                raise InfraError(
                    f"task setup failed in {sandbox.name}: the container stopped before "
                    f"{SETUP_MARKER} said done. Last lines of its log:\n{log_tail(sandbox)}",
                    kind=FaultKind.SETUP_FAILED,
                )
        if now > deadline:
            raise InfraError(
                f"task setup did not finish within {timeout_s:.0f} s in {sandbox.name} "
                "(raise --setup-timeout if setup is slow on this machine).",
                kind=FaultKind.SETUP_TIMEOUT,
            )
        pause = min(POLL_MAX_S, max(POLL_S, (now - started) / 50))
        time.sleep(min(pause, max(deadline - now, 0.01)))


def log_tail(sandbox: Sandbox, lines: int = 15) -> str:
    try:
        return "\n".join(sandbox.logs().strip().splitlines()[-lines:]) or "(empty)"
    except InfraError:
        return "(the log could not be read)"


def checkout_manager_base(sandbox: Sandbox, task: ManagerTask) -> None:
    """Put the repository at the parent of the accepted fix, as upstream does."""
    if not task.manager_commit:
        return
    command = f"git reset --hard {shlex.quote(task.manager_commit + '^')}"
    result = sandbox.exec(["bash", "-c", command], workdir=task.cwd, timeout=600)
    if not result.ok:
        raise InfraError(
            f"could not check out {task.manager_commit}^ for {task.task_id}: "
            f"{result.output.strip()[-500:]}",
            kind=FaultKind.SETUP_FAILED,
        )


FRESH_FAILED = 86
"""The exit code of `fresh_history_step` when it failed, among other steps."""


def fresh_history_step(task: IcTask | ManagerTask) -> tuple[list[str], str]:
    """Replace the repository's history so that the fix cannot be read from git, as upstream
    does: a new repository; for IC tasks, one commit of the starting state (the patch's base),
    whose files are listed in `BASE_LIST` in the same command. Runs in the repository; as a
    step of `shell.steps`, it exits `FRESH_FAILED` when it fails."""
    script = "rm -rf .git && git init -q"
    if isinstance(task, IcTask):
        script += f" && git add -A && git {GIT_IDENTITY} commit -q --no-verify -m 'Initial commit'"
        script += f" && git ls-files -z > {BASE_LIST}"
    return ["bash", "-c", script], f"exit {FRESH_FAILED}"


def fresh_history(sandbox: Sandbox, task: IcTask | ManagerTask, done: ExecResult | None = None):
    """Run `fresh_history_step` (or check `done`, its result among other steps)."""
    if done is None:
        argv, _ = fresh_history_step(task)
        done = sandbox.exec(argv, workdir=task.cwd, timeout=1800)
        failed = not done.ok
    else:
        failed = done.exit_code == FRESH_FAILED
    if failed:
        raise InfraError(
            f"could not reset the git history in {task.cwd}: {done.output[-500:]}",
            kind=FaultKind.SETUP_FAILED,
        )
