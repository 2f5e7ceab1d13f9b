"""Grading an IC task with the judge apart from the judged: the app (the agent's code) is built
and served in the app's container, which holds no test; mitmdump, the test's rewrite, pytest and
the exit code run in a judge container of the untouched task that shares only the app's network
(`localhost` is the same for both). Nothing the app can run may write, replace or trace what
decides the verdict: they share no filesystem and no process.

The image's own `run_tests.yml` runs, split by task (`playbook_split`): its app tasks before
the test in the app's container, its judge tasks in the judge's, its app tasks after the test
(stopping the dev server) in the app's again. The verdict is read from the judge alone.
"""

from __future__ import annotations

import contextlib
import secrets
import shlex
from concurrent.futures import Future
from pathlib import Path

from swelancer.benchmark import pytest_log
from swelancer.benchmark.grading import (
    BREAKABLE,
    GRADING_ENV,
    IcGrade,
    TestRun,
    _judge,
    _Run,
    last_int,
    verdict_mismatch,
)
from swelancer.benchmark.playbook_split import SplitPlaybook
from swelancer.benchmark.shell import TESTS_DIR, interactive, without_shell_noise
from swelancer.errors import InfraError
from swelancer.sandbox.archive import CopyLimits
from swelancer.sandbox.base import Sandbox
from swelancer.tasks.models import IcTask

LOG_LIMIT = 2_000_000
LOG_COPY = CopyLimits(max_file_bytes=LOG_LIMIT, max_total_bytes=LOG_LIMIT, max_entries=1)
STOP_TIMEOUT_S = 120.0
"""The app's part after the test (stopping the dev server) gets this long."""


class AppUnplaced(Exception):
    """The app's part of the playbook could not be put in the app's container (the agent's
    doing there, e.g. a /tmp linked away): no verdict for this run."""


class Pair:
    """The two containers of one graded run: the app's and the judge's (which shares the
    app's network), with the processes each had before the first run (kept between runs).
    The judge may still be starting (a future of it and its processes): it is first needed
    once the app's part has run, so its start overlaps the app's build."""

    def __init__(
        self,
        app: Sandbox,
        app_keep: set[int] | None,
        judge: tuple[Sandbox, set[int]] | Future[tuple[Sandbox, set[int]]],
    ) -> None:
        self.app = app
        self.app_keep = app_keep
        self._judge = judge

    def _resolved(self) -> tuple[Sandbox, set[int]]:
        if isinstance(self._judge, Future):
            self._judge = self._judge.result()
        return self._judge

    @property
    def judge(self) -> Sandbox:
        return self._resolved()[0]

    @property
    def judge_keep(self) -> set[int]:
        return self._resolved()[1]


def playbook_command(issue: str, path: str, *, trace: bool) -> list[str]:
    """A part of the playbook as upstream's harness runs the whole (`bash -i`, ISSUE_ID set;
    the user tool's `-e trace=true`)."""
    extra = " -e trace=true" if trace else ""
    return interactive(
        f'export ISSUE_ID={shlex.quote(issue)}; ansible-playbook -i "localhost," '
        f"--connection=local {path}{extra}"
    )


def run_split(
    pair: Pair,
    task: IcTask,
    parts: SplitPlaybook,
    timeout_s: float,
    *,
    trace: bool = False,
    out_dir: Path | None = None,
) -> _Run:
    """One run of the hidden test across the pair; the exit code and pytest.log are the
    judge's. When the app's part fails (the build or the dev server), the judge's never runs
    and no exit code is read, as upstream's playbook stops there."""
    folder = task.task_id
    logs = f"{TESTS_DIR}/logs/{folder}"
    tag = secrets.token_hex(6)
    start, stop, judge_yml = (f"/tmp/.swelancer-{n}-{tag}.yml" for n in ("app", "stop", "judge"))
    fresh_logs = ["sh", "-c", f"mkdir -p {logs} && rm -rf {logs}/*"]
    try:
        pair.app.write_file(start, parts.app_start)
        pair.app.write_file(stop, parts.app_stop)
        made = pair.app.exec(fresh_logs, timeout=300)
    except InfraError as exc:
        if exc.kind not in BREAKABLE:  # the engine's own faults stay infrastructure
            raise
        raise AppUnplaced(str(exc)[:300]) from exc
    if not made.ok:
        raise AppUnplaced(f"its logs folder could not be made: {made.output.strip()[-300:]}")
    started = pair.app.exec(
        playbook_command(folder, start, trace=trace), workdir=task.cwd, timeout=timeout_s
    )
    output = without_shell_noise(started.output)
    timed_out = started.timed_out
    judged = None
    if started.ok:
        pair.judge.write_file(judge_yml, parts.judge)
        pair.judge.exec(fresh_logs, timeout=300)
        left = max(60.0, timeout_s - started.seconds)
        judged = pair.judge.exec(
            playbook_command(folder, judge_yml, trace=trace), workdir=task.cwd, timeout=left,
            env=GRADING_ENV,
        )  # fmt: skip
        timed_out = judged.timed_out
    with contextlib.suppress(InfraError):  # the app's own clean-up; nothing depends on it
        pair.app.exec(playbook_command(folder, stop, trace=trace), workdir=task.cwd,
                      timeout=STOP_TIMEOUT_S)  # fmt: skip
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "app-playbook.log").write_text(output, encoding="utf-8")
        served = _read_head(pair.app, logs, "npm_run_dev.log", "dev_server.log")
        (out_dir / "app.log").write_text(served, encoding="utf-8")
    code = None
    log = ""
    if judged is not None:
        try:
            raw = pair.judge.read_file(f"{logs}/pytest_exit_code", limit=4096)
            code = last_int(raw.decode("utf-8", "replace"))
        except (FileNotFoundError, IsADirectoryError, InfraError):
            code = None
        log = pytest_log.read_log(pair.judge, f"{logs}/pytest.log")
    judge_output = without_shell_noise(judged.output) if judged is not None else ""
    return _Run(code=code, log=log, output=judge_output, timed_out=timed_out)


def _read_head(sandbox: Sandbox, folder: str, *names: str) -> str:
    """The first of `names` in `folder` that exists, cut at `LOG_LIMIT` bytes."""
    import tempfile

    for name in names:
        with tempfile.TemporaryDirectory(prefix="swelancer-log-") as tmp:
            dest = Path(tmp) / "log"
            try:
                sandbox.copy_out(f"{folder}/{name}", dest, LOG_COPY)
            except (FileNotFoundError, InfraError):
                continue
            if dest.is_file():
                return dest.read_bytes().decode("utf-8", "replace")
    return ""


def grade_split(
    pair: Pair,
    task: IcTask,
    parts: SplitPlaybook,
    *,
    test_runs: int,
    timeout_s: float,
    out_dir: Path,
) -> IcGrade:
    """Run the hidden test up to `test_runs` times, as upstream does: stop at the first pass;
    exit 1 is a failed run; a missing exit code (the app's part stopped before the test) is
    noted and the next run tried; 2 and above stops the runs. Between runs nothing either
    side started survives. A verdict that pytest's summary or the judge's playbook output
    contradicts is `tampered` (only the judge's files are read: the app cannot write them)."""
    folder = task.task_id
    grade = IcGrade(folder=folder, outcome="anomaly")
    for run in range(1, test_runs + 1):
        if run > 1:
            if pair.app_keep is not None:
                with contextlib.suppress(InfraError):
                    pair.app.kill_processes_except(pair.app_keep)
            with contextlib.suppress(InfraError):
                pair.judge.kill_processes_except(pair.judge_keep)
        run_dir = out_dir / folder / f"run-{run}"
        try:
            result = run_split(pair, task, parts, timeout_s, out_dir=run_dir)
        except AppUnplaced as exc:
            note: str | None = (
                f"the app's part of the playbook could not be put in place for test run {run} "
                f"in {pair.app.name} ({exc})"
            )
            grade.runs.append(TestRun(run=run, exit_code=None, outcome="anomaly", note=note))
            break
        (run_dir / "pytest.log").write_text(result.log, encoding="utf-8")
        (run_dir / "playbook.log").write_text(result.output, encoding="utf-8")
        (run_dir / "exit_code").write_text(
            f"{result.code if result.code is not None else 'none'}\n"
        )
        outcome, note = _judge(result, timeout_s)
        problems = verdict_mismatch(result)
        if problems:
            outcome, note = "tampered", "; ".join(problems)
        grade.runs.append(
            TestRun(
                run=run, exit_code=result.code, outcome=outcome, note=note, log=result.log[-2000:]
            )
        )
        code = result.code
        if outcome in ("passed", "tampered") or (code is not None and not 0 <= code <= 1):
            break
    outcomes = [r.outcome for r in grade.runs]
    for name in ("tampered", "passed", "failed"):
        if name in outcomes:
            grade.outcome = name
            break
    if grade.outcome != "passed":
        grade.note = grade.runs[-1].note
    return grade
