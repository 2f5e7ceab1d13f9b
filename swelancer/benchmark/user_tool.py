"""The user tool: the hidden test run as a user would, with Playwright tracing, so the model can
see its version of the app in use without seeing the test.

Upstream runs it in the agent's own container, with the tests unzipped beside whatever the
agent left running. Here it runs in a fresh sandbox that holds the agent's current patch
(`fresh`, the default) and only the trace comes back; or, in the agent's container (`same`),
only after every process the agent started has been stopped. Either way the trace folders
lose `resources/src@*` (Playwright's copy of the test's source, which upstream leaks) before
the agent can read them.
"""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from swelancer.agents.base import UserToolReply
from swelancer.benchmark.grading import run_hidden_test
from swelancer.benchmark.hidden import HiddenTests, remove_tests, restore_tests
from swelancer.benchmark.scrub import holds, needles, scrub_trace
from swelancer.errors import InfraError
from swelancer.sandbox.archive import CopyLimits
from swelancer.sandbox.base import Sandbox
from swelancer.tasks.models import IcTask

USER_TOOL_DIR = "user_tool"
STAMP = "/tmp/.swelancer-user-tool-stamp"
TRACE_COPY = CopyLimits(max_file_bytes=100_000_000, max_total_bytes=1_000_000_000)
"""Caps of the trace copied back: the app that wrote it is the agent's code."""

HOW_TO_READ_TRACE = """\
Each folder holds one browser's trace as Playwright records it. trace.trace is a JSON-lines \
file, too big to print whole: read it with Python, one JSON object per line, in order. Rows \
whose "type" is "before", "after" or "log" show the actions the user took; a \
"screencast-frame" row's "sha1" names a JPEG screenshot in the resources/ folder; \
"frame-snapshot" rows hold the page's HTML at that moment. trace.network lists the requests."""


class Collected(BaseModel):
    """What one user-tool run left: its trace folders (copied to the host and scrubbed)."""

    names: list[str] = Field(default_factory=list)
    timed_out: bool = False
    notes: str = ""
    marks: list[bytes] = Field(default_factory=list)
    """Text only the hidden files (and this run's test log) hold."""


def run_and_collect(
    sandbox: Sandbox, task: IcTask, hidden: HiddenTests, timeout_s: float, into: Path
) -> Collected:
    """Run the traced test in `sandbox` and copy the trace folders it wrote to `into`, scrubbed
    of the test's source and of anything holding text of the hidden files."""
    sandbox.exec(["touch", f"{STAMP}.start"], timeout=60)
    restore_tests(sandbox, hidden)
    try:
        result = run_hidden_test(sandbox, task, timeout_s, trace=True)
    finally:
        remove_tests(sandbox)
    got = Collected(timed_out=result.timed_out, marks=needles(hidden, (result.log,)))
    names, odd = _new_trace_folders(sandbox, task.cwd)
    notes = []
    if odd:
        notes.append(
            f"{odd} trace folders past the first {MAX_TRACES}, or whose names are not plain "
            "(letters, digits, '_', '.', '-'), were left out"
        )
    for name in names:
        try:
            report = sandbox.copy_out(f"{task.cwd}/{USER_TOOL_DIR}/{name}", into / name, TRACE_COPY)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            notes.append(f"{name}: gone or replaced before it could be read")
            continue
        got.names.append(name)
        scrubbed = scrub_trace(into / name, got.marks)
        if not report.complete:
            notes.append(f"{name}: {report.note(5)}")
        if scrubbed.dropped_files or scrubbed.dropped_rows:
            notes.append(
                f"{name}: {scrubbed.dropped_rows} rows and {len(scrubbed.dropped_files)} files "
                "that held text of the hidden test, or were not part of a trace"
            )
    got.notes = "\n".join(notes)
    return got


TRACE_NAME = re.compile(r"output_[A-Za-z0-9_.-]{1,100}")
MAX_TRACES = 20


def _new_trace_folders(sandbox: Sandbox, cwd: str) -> tuple[list[str], int]:
    """The `user_tool/output_*` folders written since the call started (at most `MAX_TRACES`),
    and how many others were left out for a name that is not plain (names come NUL-separated:
    a newline or any other byte in one cannot split it into names that do not exist)."""
    found = sandbox.exec(
        [
            "sh",
            "-c",
            f"touch {STAMP}.end; find {USER_TOOL_DIR} -mindepth 1 -maxdepth 1 -type d "
            f"-name 'output_*' -newer {STAMP}.start ! -newer {STAMP}.end -printf '%f\\0' "
            f"2>/dev/null | head -c 1000000; rm -f {STAMP}.start {STAMP}.end",
        ],
        workdir=cwd,
        timeout=60,
    ).output
    names = sorted({name for name in found.split("\0") if name})
    plain = [n for n in names if TRACE_NAME.fullmatch(n)]
    return plain[:MAX_TRACES], len(names) - len(plain[:MAX_TRACES])


def in_fresh_sandbox(
    make_sandbox: Callable[[], Sandbox],
    agent_sandbox: Sandbox,
    task: IcTask,
    hidden: HiddenTests,
    patch: str,
    apply: Callable[[Sandbox, str, str], str | None],
    timeout_s: float,
    out_dir: Path,
) -> UserToolReply:
    """The user tool on a fresh sandbox holding the agent's current patch; the scrubbed trace
    is copied into the agent's container, under `user_tool/`, and nothing else comes back."""
    call_dir = _call_dir(out_dir)
    runner = make_sandbox()
    try:
        problem = apply(runner, task.cwd, patch)
        if problem is not None:
            return UserToolReply(
                "The user tool could not start: your changes do not apply to a fresh copy of the "
                f"repository ({problem[:500]}).",
                "not_run",
                timeout_s,
            )
        got = run_and_collect(runner, task, hidden, timeout_s, call_dir)
    finally:
        runner.remove()
    for name in got.names:
        agent_sandbox.copy_in(call_dir / name, f"{task.cwd}/{USER_TOOL_DIR}/{name}")
    return _message(task, got, timeout_s)


def in_agent_sandbox(
    sandbox: Sandbox,
    task: IcTask,
    hidden: HiddenTests,
    stop_agent_processes: Callable[[], None],
    timeout_s: float,
    out_dir: Path,
) -> tuple[UserToolReply, list[str]]:
    """The user tool in the agent's container, as upstream runs it, once every process the
    agent started has been stopped (none may watch the tests come back). The trace folders are
    replaced by their scrubbed copies; files the app wrote elsewhere that hold text of the
    hidden test are returned (the agent could read them: the attempt is failed for it)."""
    stop_agent_processes()
    before = {path for path, _kind in sandbox.changes()}
    call_dir = _call_dir(out_dir)
    got = run_and_collect(sandbox, task, hidden, timeout_s, call_dir)
    for name in got.names:
        where = f"{task.cwd}/{USER_TOOL_DIR}/{name}"
        sandbox.exec(["rm", "-rf", where], timeout=120)
        sandbox.copy_in(call_dir / name, where)
    leaked = _leaked(sandbox, before, got.marks, task.cwd)
    copies = [path for path in leaked if path.startswith("/")]
    if copies:  # gone before the agent's next command; the attempt fails for them anyway
        sandbox.exec(["rm", "-f", "--", *copies[:LEAK_SCAN_FILES]], timeout=120)
    message = _message(task, got, timeout_s)
    stopped = "(Processes you had left running were stopped before the user came.)"
    return UserToolReply(message.text, message.outcome, timeout_s, note=stopped), leaked


LEAK_SCAN_FILES = 500
LEAK_SCAN = CopyLimits(max_file_bytes=5_000_000, max_total_bytes=5_000_000, max_entries=1)


def _leaked(sandbox: Sandbox, before: set[str], marks: list[bytes], cwd: str) -> list[str]:
    """Files added or changed during the call (outside the trace folders) that hold text of
    the hidden files, read through the engine (up to `LEAK_SCAN_FILES` files)."""
    traces = f"{cwd}/{USER_TOOL_DIR}/"
    try:
        changes = sandbox.changes()
    except InfraError as exc:  # what cannot be checked counts as copied
        return [f"(the container's changes could not be listed: {str(exc)[:200]})"]
    fresh = [p for p, kind in changes if p not in before and kind != 2]
    fresh = [p for p in fresh if not p.startswith((traces, "/app/tests/", "/tmp/.swelancer"))]
    found = []
    with tempfile.TemporaryDirectory(prefix="swelancer-leak-") as tmp:
        for n, path in enumerate(fresh[:LEAK_SCAN_FILES]):
            dest = Path(tmp) / str(n)
            try:
                sandbox.copy_out(path, dest, LEAK_SCAN)
            except (FileNotFoundError, InfraError):
                continue
            if dest.is_file() and holds(dest.read_bytes(), marks):
                found.append(path)
    return found


def _call_dir(out_dir: Path) -> Path:
    call_dir = out_dir / USER_TOOL_DIR / f"call-{uuid.uuid4().hex[:8]}"
    call_dir.mkdir(parents=True)
    return call_dir


def _message(task: IcTask, got: Collected, timeout_s: float) -> UserToolReply:
    return UserToolReply(
        _text(task, got, timeout_s), "timed_out" if got.timed_out else "finished", timeout_s
    )


def _text(task: IcTask, got: Collected, timeout_s: float) -> str:
    places = [f"{task.cwd}/{USER_TOOL_DIR}/{n}/" for n in got.names]
    cut = f"\n\nSome of the trace was left out:\n{got.notes}" if got.notes else ""
    if got.timed_out:
        recorded = f" What it recorded is in {', '.join(places)}." if places else ""
        return (
            f"The user tool did not finish within {timeout_s:.0f} seconds and was stopped; the "
            f"app may hang or fail to start with your changes.{recorded}{cut}"
        )
    if not places:
        return (
            "The user tool ran, but it left no trace: the app may not have built or started "
            f"with your changes. Traces appear in {task.cwd}/{USER_TOOL_DIR}/."
        )
    listed = "\n".join(f"  {p}" for p in places)
    return f"The user tool finished. Its trace is in:\n{listed}\n\n{HOW_TO_READ_TRACE}{cut}"
