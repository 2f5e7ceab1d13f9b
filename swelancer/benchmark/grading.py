"""Grading an IC task: the hidden test's runs, as upstream's harness makes them, with checks that
the app under test (the agent's code, which runs during grading) did not forge the verdict."""

from __future__ import annotations

import contextlib
import re
import shlex
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from swelancer.benchmark import pytest_log
from swelancer.benchmark.hidden import HiddenTests, stage_tests
from swelancer.benchmark.shell import TESTS_DIR, interactive, without_shell_noise
from swelancer.benchmark.trust import planted_while_testing
from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.archive import CopyLimits
from swelancer.sandbox.base import Sandbox
from swelancer.tasks.models import IcTask

PLAYBOOK = 'ansible-playbook -i "localhost," --connection=local /app/tests/run_tests.yml'
GRADING_ENV = {"PYTHONDONTWRITEBYTECODE": "1"}
"""pytest then writes no bytecode next to the tests: any that appears was planted."""
CHECK_COPY = CopyLimits(max_file_bytes=50_000_000, max_total_bytes=500_000_000, max_entries=50_000)
CHANGED_DURING_RUN = ("logs", "attempts", ".pytest_cache")
"""What of /app/tests a run writes to."""

Outcome = Literal["passed", "failed", "anomaly", "tampered"]


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
    """The hidden test's runs in one sandbox. `outcome` is `passed` when a run passed cleanly,
    `tampered` when a run's verdict was forged or its tests changed, `failed` when none passed
    and one failed cleanly (exit 1), else `anomaly` (no clean verdict: no exit code, or 2 and
    above), which the attempt settles with a control."""

    folder: str
    outcome: Outcome
    runs: list[TestRun] = Field(default_factory=list)
    note: str | None = None

    @property
    def exit_codes(self) -> list[int]:
        return [r.exit_code if r.exit_code is not None else -1 for r in self.runs]


def last_int(text: str) -> int | None:
    for line in reversed(text.strip().splitlines()):
        if re.fullmatch(r"-?\d{1,6}", line.strip()):
            return int(line.strip())
    return None


class _Run(BaseModel):
    code: int | None
    log: str
    output: str
    timed_out: bool


def run_hidden_test(
    sandbox: Sandbox, task: IcTask, timeout_s: float, *, trace: bool = False, staged: str = ""
) -> _Run:
    """Run `run_tests.yml` once as upstream does (`bash -i`; with tracing, the image's
    `user-tool` alias) and read the exit code and pytest.log it leaves. `staged`: the command
    of `stage_tests` that puts the tests in place, run with the emptying of the logs."""
    folder = task.task_id
    logs = f"{TESTS_DIR}/logs/{folder}"
    first = f"{staged} && " if staged else ""
    made = sandbox.exec(["sh", "-c", f"{first}mkdir -p {logs} && rm -rf {logs}/*"], timeout=300)
    if staged and not made.ok:
        raise InfraError(
            f"could not put the tests back in {sandbox.name}: {made.output.strip()[-300:]}",
            kind=FaultKind.HIDE,
        )
    command = f"export ISSUE_ID={shlex.quote(folder)}; " + ("user-tool" if trace else PLAYBOOK)
    played = sandbox.exec(
        interactive(command), workdir=task.cwd, timeout=timeout_s, env=GRADING_ENV
    )
    try:
        raw = sandbox.read_file(f"{logs}/pytest_exit_code", limit=4096)
        code = last_int(raw.decode("utf-8", "replace"))
    except (FileNotFoundError, IsADirectoryError, InfraError):
        code = None
    log = pytest_log.read_log(sandbox, f"{logs}/pytest.log")
    return _Run(
        code=code, log=log, output=without_shell_noise(played.output), timed_out=played.timed_out
    )


def grade_ic(
    sandbox: Sandbox,
    task: IcTask,
    hidden: HiddenTests,
    *,
    test_runs: int,
    timeout_s: float,
    out_dir: Path,
    keep: set[int] | None = None,
    listed: list[tuple[str, int]] | None = None,
    staged: str | None = None,
) -> IcGrade:
    """Run the hidden test up to `test_runs` times, as upstream does: stop at the first pass;
    exit 1 is a failed run (failures, or errors of a fixture's setup or teardown) and the next
    one is tried; a missing exit code (the playbook stopped before pytest: the build or the dev
    server failed) is noted and the next run tried; 2 and above stops the runs.

    Before every run the tests are put back pristine from the host copy (staged beside their
    place, then moved there in the command that empties the logs); after it they are
    checked against it, and the verdict against the playbook's own report and pytest's
    summary. A run that fails a check is `tampered` and ends the grading. A step of the
    harness's that the sandbox's own state breaks (the tests cannot be staged or put in place
    in a sandbox that runs, on an engine that answers) ends the runs as an `anomaly`, which
    the attempt settles with a control like a run without a verdict.

    `listed`: the engine's list of the sandbox's changes, read since the last process that
    could change it (the agent's) was started; the first run then needs no listing of its own.
    `staged`: the tests already staged for the first run (`hidden.stage_tests`).
    """
    folder = hidden.folder or task.task_id
    grade = IcGrade(folder=folder, outcome="anomaly")
    for run in range(1, test_runs + 1):
        if keep is not None and run > 1:  # nothing the app left running sees the next run
            with contextlib.suppress(InfraError):
                sandbox.kill_processes_except(keep)
        try:
            if run > 1 or staged is None:
                staged = stage_tests(sandbox, hidden)
            if run == 1 and listed is not None:
                before = {path for path, _kind in listed}
            else:
                before = _changed_paths(sandbox)
            before |= restored_paths(hidden)
            result = run_hidden_test(sandbox, task, timeout_s, staged=staged)
        except InfraError as exc:
            grade.runs.append(_step_broken(sandbox, run, exc))
            break
        run_dir = out_dir / folder / f"run-{run}"
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "pytest.log").write_text(result.log, encoding="utf-8")
        (run_dir / "playbook.log").write_text(result.output, encoding="utf-8")
        (run_dir / "exit_code").write_text(
            f"{result.code if result.code is not None else 'none'}\n"
        )
        outcome, note = _judge(result, timeout_s)
        problems = tampering(sandbox, hidden, before, result)
        if problems:
            outcome, note = "tampered", "; ".join(problems)
        grade.runs.append(
            TestRun(
                run=run, exit_code=result.code, outcome=outcome, note=note, log=result.log[-2000:]
            )
        )
        code = result.code
        if outcome in ("passed", "tampered") or (code is not None and not 0 <= code <= 1):
            break  # upstream stops at a pass, and raises at an exit code of 2 and above
    outcomes = [r.outcome for r in grade.runs]
    for name in ("tampered", "passed", "failed"):
        if name in outcomes:
            grade.outcome = name  # type: ignore[assignment]
            break
    if grade.outcome != "passed":
        grade.note = grade.runs[-1].note
    return grade


BREAKABLE = {FaultKind.COPY_FAILED, FaultKind.HIDE, FaultKind.TOO_LARGE}
"""Faults of a step in a sandbox that its own state can cause (a link where the harness
copies to, a folder that cannot be replaced): no verdict, not an infrastructure fault, when
the sandbox still runs on an engine that answers. Other errors of the engine's API stay
infrastructure faults."""


def _step_broken(sandbox: Sandbox, run: int, fault: InfraError) -> TestRun:
    """Run `run`, whose tests could not be put in place: an `anomaly` when `fault` may be the
    sandbox's own doing; else (the engine does not answer, the sandbox is gone) `fault`."""
    if fault.kind not in BREAKABLE or not sandbox.alive():
        raise fault
    note = f"the tests could not be put in place for test run {run} ({str(fault)[:300]})"
    return TestRun(run=run, exit_code=None, outcome="anomaly", note=note)


def _judge(result: _Run, timeout_s: float) -> tuple[Outcome, str | None]:
    code = result.code
    if code == 0:
        return "passed", None
    if code == 1:
        if pytest_log.summary(result.log) is None:
            return "failed", "pytest exited 1 and its log holds no summary: a failed run"
        return "failed", None
    if code is None:
        if result.timed_out:
            return "anomaly", f"the test run did not finish within {timeout_s:.0f} s"
        return "anomaly", (
            "the test never ran: the playbook stopped before writing pytest_exit_code (the "
            "build or the dev server failed)"
        )
    return "anomaly", f"pytest exited {code}: an error, not a test verdict"


# -- tampering -----------------------------------------------------------------------------


def tampering(sandbox: Sandbox, hidden: HiddenTests, before: set[str], result: _Run) -> list[str]:
    """What shows that a run's verdict cannot be trusted: the tests changed, a file planted
    beside them or where Python or pytest would load it, or a verdict that pytest's summary or
    the playbook's own report contradicts."""
    problems = verdict_mismatch(result)
    problems += _tests_changed(sandbox, hidden)
    try:
        after = _listed_changes(sandbox)
    except InfraError as exc:  # the code under test made what the engine cannot list
        if exc.kind == FaultKind.CONTAINER_GONE:
            raise
        return [*problems, f"what changed while the test ran cannot be listed ({str(exc)[:300]})"]
    planted = planted_while_testing(before, after)
    if planted:
        problems.append(f"changed while the test ran: {', '.join(planted[:5])}")
    return problems


def _listed_changes(sandbox: Sandbox) -> list[tuple[str, int]]:
    """The engine's list of the sandbox's changes; an `InfraError` only when the sandbox is
    alive and the list alone fails (a fault of the engine itself propagates from `alive`)."""
    changes = getattr(sandbox, "changes", None)
    if changes is None:
        return []
    try:
        return changes()
    except InfraError:
        if not sandbox.alive():
            raise InfraError(
                f"{sandbox.name} stopped while its test ran", kind=FaultKind.CONTAINER_GONE
            ) from None
        raise


def verdict_mismatch(result: _Run) -> list[str]:
    """A pass or fail that pytest's summary line or the playbook's report of its pytest task
    does not bear out: a 0 whose log ends with no summary, or one that counts a failure or an
    error; a 1 whose summary counts neither. A 1 with no summary at all is no forgery (a
    failure cannot be made a pass that way; `_judge` notes it)."""
    code = result.code
    if code not in (0, 1):
        return []
    problems = []
    said = pytest_log.summary(result.log)
    if code == 0 and said is None:
        problems.append("pytest_exit_code says 0 but pytest.log ends with no pytest summary")
    elif code == 0 and not pytest_log.agrees_with_pass(said or ""):
        problems.append(f"pytest_exit_code says 0 but pytest's summary says {said!r}")
    if code == 1 and said is not None and not pytest_log.reports_trouble(said):
        problems.append(f"pytest_exit_code says 1 but pytest's summary says {said!r}")
    reports = _playbook_rcs(result.output)
    if len(reports) > 1:
        problems.append(
            f"the playbook's output shows its pytest task {len(reports)} times: something "
            "wrote into it"
        )
    elif reports and reports[0] is not None and reports[0] != code:
        problems.append(f"pytest_exit_code says {code} but the playbook ran pytest to {reports[0]}")
    return problems


def _playbook_rcs(output: str) -> list[int | None]:
    """The exit code each `Run pytest…` task block of the playbook's output reports (None when a
    block shows none). An honest run has exactly one such block."""
    found: list[int | None] = []
    for block in re.split(r"^TASK \[", output, flags=re.MULTILINE)[1:]:
        if not block.lower().startswith("run pytest"):
            continue
        if re.search(r"^(changed|ok): \[", block, re.MULTILINE):
            found.append(0)
            continue
        rc = re.search(r'"rc": (-?\d+)', block)
        found.append(int(rc.group(1)) if rc else None)
    return found


def _tests_changed(sandbox: Sandbox, hidden: HiddenTests) -> list[str]:
    """Files of the host copy that the container no longer holds as they were, and files that
    appeared among them (outside the folders a run writes to)."""
    with tempfile.TemporaryDirectory(prefix="swelancer-check-") as tmp:
        now = Path(tmp) / "tests"
        try:
            report = sandbox.copy_out(TESTS_DIR, now, CHECK_COPY)
        except FileNotFoundError:
            return [f"{TESTS_DIR} was removed while the test ran"]
        except InfraError as exc:  # what the run left there cannot be copied out
            if exc.kind not in BREAKABLE or not sandbox.alive():
                raise
            return [f"{TESTS_DIR} cannot be read back after the run ({str(exc)[:300]})"]
        if report.stopped:
            return [f"{TESTS_DIR} grew past the caps while the test ran ({report.stopped})"]
        problems = []
        expected = _files(hidden.root)
        found = _files(now)
        test_file = f"issues/{hidden.folder}/test.py" if hidden.folder else None
        for rel in sorted(expected):
            if rel.split("/", 1)[0] in CHANGED_DURING_RUN:
                continue
            mine = hidden.root / rel
            theirs = now / rel
            if rel not in found:
                problems.append(f"{rel} was removed")
            elif theirs.read_bytes() != mine.read_bytes() and not (
                rel == test_file and hidden.rewritten == theirs.read_bytes()
            ):
                problems.append(f"{rel} was changed")
        for rel in sorted(set(found) - set(expected)):
            if rel.split("/", 1)[0] not in CHANGED_DURING_RUN:
                problems.append(f"{rel} was added")
        written = tuple(f"tests/{d}/" for d in CHANGED_DURING_RUN)
        skipped = [line for line in report.skipped if not line.startswith(written)]
        problems += [f"{line} (among the tests)" for line in skipped[:3]]
        return problems[:10]


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def restored_paths(hidden: HiddenTests) -> set[str]:
    """The paths putting the tests back makes: what the engine lists as changed once they are
    back."""
    return {TESTS_DIR} | {f"{TESTS_DIR}/{p.relative_to(hidden.root).as_posix()}"
                          for p in hidden.root.rglob("*")}  # fmt: skip


def _changed_paths(sandbox: Sandbox) -> set[str]:
    """What the sandbox changed before a run; when the engine cannot list it, nothing (the
    listing after the run fails the same way and is reported as tampering)."""
    try:
        return {path for path, _kind in _listed_changes(sandbox)}
    except InfraError as exc:
        if exc.kind == FaultKind.CONTAINER_GONE:
            raise
        return set()
