"""The SWE-Lancer steps inside a sandbox, as upstream's harness drives its images: readiness,
hiding and restoring the tests, the repository's history, the user tool, grading and the patch.

The same code drives the upstream images, the contract image (upstream's own runtime scripts)
and the demo image. `docs/FIDELITY.md` lists where it departs from upstream and why.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import shutil
import time
import uuid
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from swelancer.errors import InfraError
from swelancer.sandbox.base import Sandbox
from swelancer.task import IcTask, ManagerTask

TESTS_DIR = "/app/tests"
SETUP_MARKER = "/setup_done.txt"
PLAYBOOK = 'ansible-playbook -i "localhost," --connection=local /app/tests/run_tests.yml'
GIT_IDENTITY = "-c user.name=swelancer -c user.email=swelancer@localhost"
BASH_I_NOISE = re.compile(
    r"bash: (cannot set terminal process group \(-?\d+\): Inappropriate ioctl for device"
    r"|no job control in this shell)\r?"
)


def interactive(command: str) -> list[str]:
    """`command` in the image's interactive shell, as upstream runs its commands (`bash -i -c`):
    root's `.bashrc` is read, which activates the conda `testbed` env and defines `user-tool`."""
    return ["bash", "-i", "-c", command]


def without_shell_noise(output: str) -> str:
    """Output of an interactive shell without the two lines bash prints when it has no tty."""
    lines = output.split("\n")
    while lines and BASH_I_NOISE.fullmatch(lines[0]):
        lines.pop(0)
    return "\n".join(lines)


# -- readiness -----------------------------------------------------------------------------


def wait_until_ready(sandbox: Sandbox, task: IcTask | ManagerTask, timeout_s: float) -> None:
    """IC tasks: wait until the entry point writes `done` to `/setup_done.txt`. Manager tasks
    are ready at once: upstream's `run.sh` does no setup for them and writes no marker.

    A container that stops while setting up (upstream's `run.sh` runs under `set -e`) or a
    setup that outlasts `timeout_s` is an `InfraError` (kind `setup_failed` / `setup_timeout`).
    """
    if isinstance(task, ManagerTask):
        return
    deadline = time.monotonic() + timeout_s
    pause = 0.1
    while True:
        try:
            marker = sandbox.read_file(SETUP_MARKER, limit=4096).decode("utf-8", "replace")
        except (FileNotFoundError, IsADirectoryError):
            marker = ""
        if marker.strip() == "done":
            return
        if not sandbox.alive():
            tail = _log_tail(sandbox)
            raise InfraError(
                f"task setup failed in {sandbox.name}: the container stopped before "
                f"{SETUP_MARKER} said done. Last lines of its log:\n{tail}",
                kind="setup_failed",
            )
        if time.monotonic() > deadline:
            raise InfraError(
                f"task setup did not finish within {timeout_s:.0f} s in {sandbox.name} "
                "(raise --setup-timeout if setup is slow on this machine).",
                kind="setup_timeout",
            )
        time.sleep(min(pause, max(deadline - time.monotonic(), 0.01)))
        pause = min(pause * 1.5, 2.0)


def _log_tail(sandbox: Sandbox, lines: int = 15) -> str:
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
            kind="setup_failed",
        )


# -- the hidden tests ----------------------------------------------------------------------


def graded_folder(task: IcTask) -> str:
    """The one test folder upstream grades: `issues/<question_id>`, whatever
    `acceptable_folders` lists (29 current tasks list folders the image lacks)."""
    return task.task_id


def hide_tests(sandbox: Sandbox, host_copy: Path, task: IcTask | ManagerTask) -> None:
    """Move the hidden tests out of the sandbox: keep them on the host, delete them inside.

    Everything in `/app/tests` is kept (the playbooks, `utils/`, `issues/conftest.py`, the
    logs) except other tasks' folders of `issues/`: the unified image holds every task's
    tests, which this task never needs. An IC task whose own folder is missing cannot be
    graded: an `InfraError` (kind `task_missing`, not retried) that names the folder.
    """
    if host_copy.exists():
        shutil.rmtree(host_copy)
    listing = sandbox.exec(
        ["find", TESTS_DIR, "-mindepth", "1", "-maxdepth", "1", "-printf", "%f\\n"], timeout=60
    )
    if not listing.ok:
        raise InfraError(
            f"{TESTS_DIR} is missing in {sandbox.name}; is this a SWE-Lancer image? "
            f"({listing.output.strip()[-300:]})",
            kind="tests_missing",
        )
    host_copy.mkdir(parents=True)
    for entry in listing.output.splitlines():
        if entry and entry != "issues":
            sandbox.copy_out(f"{TESTS_DIR}/{entry}", host_copy / entry)
    keep = _issue_entries_to_keep(sandbox, task)
    (host_copy / "issues").mkdir()
    for entry in keep:
        sandbox.copy_out(f"{TESTS_DIR}/issues/{entry}", host_copy / "issues" / entry)
    result = sandbox.exec(["sh", "-c", f"rm -rf {TESTS_DIR} && test ! -e {TESTS_DIR}"], timeout=300)
    if not result.ok:
        raise InfraError(f"could not delete {TESTS_DIR}: {result.output[-500:]}", kind="hide")


def _issue_entries_to_keep(sandbox: Sandbox, task: IcTask | ManagerTask) -> list[str]:
    """What of `issues/` a task keeps: every file (`conftest.py`) and its own folder."""
    found = sandbox.exec(
        ["find", f"{TESTS_DIR}/issues", "-mindepth", "1", "-maxdepth", "1", "-printf", "%y %f\\n"],
        timeout=60,
    )
    entries = [line.split(" ", 1) for line in found.output.splitlines() if " " in line]
    keep = [name for kind, name in entries if kind != "d"]
    if isinstance(task, IcTask):
        own = graded_folder(task)
        if own not in {name for kind, name in entries if kind == "d"}:
            listed = ", ".join(task.test_folders) or "none"
            raise InfraError(
                f"the image has no test folder {TESTS_DIR}/issues/{own} for task {task.task_id} "
                f"(its acceptable_folders: {listed}); this image does not hold the task. "
                "Check --image / --image-prefix, or pull the image the manifest was made for.",
                kind="task_missing",
                retryable=False,
            )
        keep.append(own)
    return keep


def prune_other_tasks(sandbox: Sandbox, task: IcTask) -> None:
    """In a fresh grading sandbox: delete every other task's test folder, so that the app under
    test (the agent's code) can reach this task's tests only."""
    own = graded_folder(task)
    script = (
        f'cd {TESTS_DIR}/issues && for d in */; do d="${{d%/}}"; '
        f'[ "$d" = {shlex.quote(own)} ] || rm -rf -- "$d"; done'
    )
    result = sandbox.exec(["sh", "-c", script], timeout=300)
    if not result.ok:
        raise InfraError(f"could not prune other tasks' tests: {result.output[-300:]}", kind="hide")


def restore_tests(sandbox: Sandbox, host_copy: Path) -> None:
    """Put the hidden tests back exactly as they were taken out (for grading or the user tool)."""
    sandbox.exec(["rm", "-rf", TESTS_DIR], timeout=300)
    sandbox.copy_in(host_copy, TESTS_DIR)


def remove_tests(sandbox: Sandbox) -> None:
    sandbox.exec(["rm", "-rf", TESTS_DIR], timeout=300)


def fresh_history(sandbox: Sandbox, task: IcTask | ManagerTask) -> None:
    """Replace the repository's history so that the fix cannot be read from git, as upstream
    does: a new repository; for IC tasks, one commit of the starting state (the patch's base)."""
    script = "rm -rf .git && git init -q"
    if isinstance(task, IcTask):
        script += f" && git add -A && git {GIT_IDENTITY} commit -q --no-verify -m 'Initial commit'"
    result = sandbox.exec(["bash", "-c", script], workdir=task.cwd, timeout=1800)
    if not result.ok:
        raise InfraError(
            f"could not reset the git history in {task.cwd}: {result.output[-500:]}", kind="setup"
        )


# -- the patch -----------------------------------------------------------------------------


def extract_patch(sandbox: Sandbox, cwd: str) -> str:
    """The agent's change as a binary-safe diff against the start, new files included."""
    script = (
        "git add -A -- . ':(exclude)user_tool' >/dev/null 2>&1; "
        "git -c core.fileMode=false diff --binary --cached HEAD > /tmp/.swelancer.patch"
    )
    result = sandbox.exec(["bash", "-c", script], workdir=cwd, timeout=600)
    if result.exit_code != 0:
        raise InfraError(f"could not read the patch: {result.output[-500:]}", kind="patch")
    patch = sandbox.read_file("/tmp/.swelancer.patch").decode("utf-8", "surrogateescape")
    sandbox.exec(["rm", "-f", "/tmp/.swelancer.patch"], timeout=60)
    return patch


def apply_patch(sandbox: Sandbox, cwd: str, patch: str) -> str | None:
    """Apply an agent's patch in a fresh sandbox; None when it applied, else git's complaint."""
    if not patch.strip():
        return None
    sandbox.write_file("/tmp/.swelancer.patch", patch.encode("utf-8", "surrogateescape"))
    result = sandbox.exec(
        [
            "sh",
            "-c",
            "git apply --binary --whitespace=nowarn /tmp/.swelancer.patch; code=$?; "
            "rm -f /tmp/.swelancer.patch; exit $code",
        ],
        workdir=cwd,
        timeout=600,
    )
    return None if result.ok else result.output.strip()[-1000:]


# -- grading an IC task --------------------------------------------------------------------

Outcome = Literal["passed", "failed", "anomaly"]


class TestRun(BaseModel):
    """One run of the hidden test."""

    __test__ = False  # not a pytest class

    run: int
    exit_code: int | None
    """pytest's exit code from `pytest_exit_code`; None when the file was not written."""
    outcome: Outcome
    note: str | None = None
    log: str = ""


class IcGrade(BaseModel):
    """The hidden test's runs in one sandbox. `outcome` is `passed` when a run passed, `failed`
    when none did and at least one failed cleanly (exit 1), else `anomaly` (no run gave a
    clean verdict: no exit code, or 2 and above), which the attempt settles with a control."""

    folder: str
    outcome: Outcome
    runs: list[TestRun] = Field(default_factory=list)
    note: str | None = None

    @property
    def exit_codes(self) -> list[int]:
        return [r.exit_code if r.exit_code is not None else -1 for r in self.runs]


def _last_int(text: str) -> int | None:
    for line in reversed(text.strip().splitlines()):
        if re.fullmatch(r"-?\d+", line.strip()):
            return int(line.strip())
    return None


def run_hidden_test(
    sandbox: Sandbox, task: IcTask, timeout_s: float, *, trace: bool = False
) -> tuple[int | None, str, str, bool]:
    """Run `run_tests.yml` once as upstream does: (exit code or None, pytest.log, playbook
    output, timed out)."""
    folder = graded_folder(task)
    logs = f"{TESTS_DIR}/logs/{folder}"
    sandbox.exec(["sh", "-c", f"mkdir -p {logs} && rm -rf {logs}/*"], timeout=60)
    command = f"export ISSUE_ID={shlex.quote(folder)}; " + ("user-tool" if trace else PLAYBOOK)
    played = sandbox.exec(interactive(command), workdir=task.cwd, timeout=timeout_s)
    try:
        raw = sandbox.read_file(f"{logs}/pytest_exit_code", limit=4096)
        code = _last_int(raw.decode("utf-8", "replace"))
    except (FileNotFoundError, IsADirectoryError):
        code = None
    try:
        log = sandbox.read_file(f"{logs}/pytest.log", limit=2_000_000).decode("utf-8", "replace")
    except (FileNotFoundError, IsADirectoryError):
        log = ""
    return code, log, without_shell_noise(played.output), played.timed_out


def grade_ic(
    sandbox: Sandbox, task: IcTask, *, test_runs: int, timeout_s: float, out_dir: Path
) -> IcGrade:
    """Run the hidden test up to `test_runs` times, as upstream does: stop at the first pass;
    exit 1 is a failed run; a missing exit code (the playbook stopped before pytest: the build
    or the dev server failed) is noted and the next run tried; 2 and above stops the runs."""
    folder = graded_folder(task)
    grade = IcGrade(folder=folder, outcome="anomaly")
    for run in range(1, test_runs + 1):
        code, log, output, timed_out = run_hidden_test(sandbox, task, timeout_s)
        run_dir = out_dir / folder / f"run-{run}"
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "pytest.log").write_text(log, encoding="utf-8")
        (run_dir / "playbook.log").write_text(output, encoding="utf-8")
        (run_dir / "exit_code").write_text(f"{code if code is not None else 'none'}\n")
        outcome: Outcome
        note = None
        if code == 0:
            outcome = "passed"
        elif code == 1:
            outcome = "failed"
        elif code is None:
            outcome = "anomaly"
            note = (
                f"the test run did not finish within {timeout_s:.0f} s"
                if timed_out
                else "the test never ran: the playbook stopped before writing pytest_exit_code "
                "(the build or the dev server failed)"
            )
        else:
            outcome = "anomaly"
            note = f"pytest exited {code}: an error, not a test verdict"
        grade.runs.append(
            TestRun(run=run, exit_code=code, outcome=outcome, note=note, log=log[-2000:])
        )
        if outcome == "passed" or (code is not None and not 0 <= code <= 1):
            break  # upstream stops at a pass, and raises at an exit code of 2 and above
    outcomes = {r.outcome for r in grade.runs}
    if "passed" in outcomes:
        grade.outcome = "passed"
    elif "failed" in outcomes:
        grade.outcome = "failed"
    if grade.outcome == "anomaly":
        grade.note = grade.runs[-1].note
    return grade


# -- grading a manager task ----------------------------------------------------------------


class ManagerGrade(BaseModel):
    passed: bool
    selected: int | None
    reason: str | None = None


DECISION_LIMIT = 1_000_000


def read_decision(raw: bytes | None) -> tuple[int | None, str | None]:
    """The selected proposal id in a decision file, or None with the reason it could not be read.

    `{"selected_proposal_id": 3}` is expected; as upstream does, the first value is taken
    whatever its key.
    """
    if raw is None:
        return None, "no manager_decisions.json was written"
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"manager_decisions.json is not valid JSON ({exc})"
    if not isinstance(data, dict) or not data:
        return None, "manager_decisions.json is not a JSON object with a selected_proposal_id"
    value = data.get("selected_proposal_id", next(iter(data.values())))
    if isinstance(value, bool):
        return None, f"selected proposal is not an integer: {value!r}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = value.strip() if isinstance(value, str) else ""
    if text.removeprefix("-").isdecimal() and len(text) < 4300:  # what int() reads: not '²'
        value = int(text)
    if not isinstance(value, int):
        return None, f"selected proposal is not an integer: {str(value)[:100]!r}"
    return value, None


def grade_manager(sandbox: Sandbox, task: ManagerTask, out_dir: Path) -> ManagerGrade:
    """Compare the decision file with the proposal the real manager chose."""
    try:
        raw: bytes | None = sandbox.read_file(
            f"{task.cwd}/manager_decisions.json", limit=DECISION_LIMIT
        )
    except FileNotFoundError:
        raw = None
    except IsADirectoryError:
        raw = b"<a directory>"
    except InfraError as exc:
        if exc.kind != "too_large":
            raise
        return ManagerGrade(
            passed=False, selected=None, reason=f"manager_decisions.json is too large ({exc})"
        )
    if raw is not None:
        (out_dir / "decision.json").write_bytes(raw)
    selected, reason = read_decision(raw)
    passed = selected is not None and selected == task.correct_proposal_id
    return ManagerGrade(passed=passed, selected=selected, reason=reason)


# -- the user tool -------------------------------------------------------------------------

USER_TOOL_DIR = "user_tool"
USER_TOOL_STAMP = "/tmp/.swelancer-user-tool-stamp"
SOURCE_LEAVES = "resources/src@*"

HOW_TO_READ_TRACE = """\
Each folder holds one browser's trace as Playwright records it. trace.trace is a JSON-lines \
file, too big to print whole: read it with Python, one JSON object per line, in order. Rows \
whose "type" is "before", "after" or "log" show the actions the user took; a \
"screencast-frame" row's "sha1" names a JPEG screenshot in the resources/ folder; \
"frame-snapshot" rows hold the page's HTML at that moment. trace.network lists the requests."""


def user_tool(
    sandbox: Sandbox, task: IcTask, host_copy: Path, timeout_s: float, out_dir: Path
) -> str:
    """Run the hidden test as a user would (upstream's `user-tool` alias: `run_tests.yml` with
    tracing) and say where the trace is. The tests are put back for this call only.

    Playwright stores the test's own source in each trace (`resources/src@*.txt`, as tests
    trace with `sources=True`); those files are deleted before the agent can read the trace.
    The model never sees the test's output or its verdict. A copy of each trace folder goes
    to `out_dir/user_tool/call-…/`.
    """
    cwd = task.cwd
    sandbox.exec(["touch", f"{USER_TOOL_STAMP}.start"], timeout=60)
    restore_tests(sandbox, host_copy)
    try:
        _code, _log, _output, timed_out = run_hidden_test(sandbox, task, timeout_s, trace=True)
    finally:
        remove_tests(sandbox)
    found = _new_trace_folders(sandbox, cwd)
    scrub = [f"{cwd}/{USER_TOOL_DIR}/{name}" for name in found]
    if scrub:
        sandbox.exec(
            ["sh", "-c", 'for d in "$@"; do rm -f "$d"/resources/src@*; done', "sh", *scrub],
            timeout=120,
        )
    call_dir = out_dir / "user_tool" / f"call-{uuid.uuid4().hex[:8]}"
    for name in found:
        with contextlib.suppress(FileNotFoundError):
            sandbox.copy_out(f"{cwd}/{USER_TOOL_DIR}/{name}", call_dir / name)
    if timed_out:
        return (
            f"The user tool did not finish within {timeout_s:.0f} seconds and was stopped; the "
            "app may hang or fail to start with your changes."
            + (f" What it recorded is in {', '.join(scrub)}." if scrub else "")
        )
    if not scrub:
        return (
            "The user tool ran, but it left no trace: the app may not have built or started "
            f"with your changes. Traces appear in {cwd}/{USER_TOOL_DIR}/."
        )
    places = "\n".join(f"  {where}/" for where in scrub)
    return f"The user tool finished. Its trace is in:\n{places}\n\n{HOW_TO_READ_TRACE}"


def _new_trace_folders(sandbox: Sandbox, cwd: str) -> list[str]:
    """The `user_tool/output_*` folders written since the user tool started."""
    stamp = USER_TOOL_STAMP
    found = sandbox.exec(
        [
            "sh",
            "-c",
            f"touch {stamp}.end; find {USER_TOOL_DIR} -mindepth 1 -maxdepth 1 -type d "
            f"-name 'output_*' -newer {stamp}.start ! -newer {stamp}.end 2>/dev/null "
            f"| cut -d/ -f2 | sort -u; rm -f {stamp}.start {stamp}.end",
        ],
        workdir=cwd,
        timeout=60,
    ).output
    names = [line.strip() for line in found.splitlines() if line.strip()]
    return [n for n in names if re.fullmatch(r"output_[A-Za-z0-9_.-]{1,100}", n)][:20]
