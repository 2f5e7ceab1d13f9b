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
import uuid
from collections.abc import Callable
from pathlib import Path

from swelancer.benchmark.grading import run_hidden_test
from swelancer.benchmark.hidden import HiddenTests, remove_tests, restore_tests
from swelancer.sandbox.archive import CopyLimits
from swelancer.sandbox.base import Sandbox
from swelancer.task import IcTask

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


def run_and_collect(
    sandbox: Sandbox, task: IcTask, hidden: HiddenTests, timeout_s: float, into: Path
) -> tuple[list[str], bool, str]:
    """Run the traced test in `sandbox` and copy the trace folders it wrote to `into`, scrubbed
    of the test's source: (folder names, timed out, what the copy left out)."""
    sandbox.exec(["touch", f"{STAMP}.start"], timeout=60)
    restore_tests(sandbox, hidden)
    try:
        result = run_hidden_test(sandbox, task, timeout_s, trace=True)
    finally:
        remove_tests(sandbox)
    names = _new_trace_folders(sandbox, task.cwd)
    folders = [f"{task.cwd}/{USER_TOOL_DIR}/{n}" for n in names]
    if folders:
        scrub = 'for d in "$@"; do rm -f "$d"/resources/src@*; done'
        sandbox.exec(["sh", "-c", scrub, "sh", *folders], timeout=120)
    notes = []
    for name, where in zip(names, folders, strict=True):
        report = sandbox.copy_out(where, into / name, TRACE_COPY)
        _drop_sources(into / name)
        if not report.complete:
            notes.append(f"{name}: {report.note(5)}")
    return names, result.timed_out, "\n".join(notes)


def _drop_sources(folder: Path) -> None:
    """Delete Playwright's copies of source files from a trace folder on the host too."""
    resources = folder / "resources"
    if resources.is_dir():
        for leaf in resources.glob("src@*"):
            leaf.unlink(missing_ok=True)


def _new_trace_folders(sandbox: Sandbox, cwd: str) -> list[str]:
    """The `user_tool/output_*` folders written since the call started."""
    found = sandbox.exec(
        [
            "sh",
            "-c",
            f"touch {STAMP}.end; find {USER_TOOL_DIR} -mindepth 1 -maxdepth 1 -type d "
            f"-name 'output_*' -newer {STAMP}.start ! -newer {STAMP}.end 2>/dev/null "
            f"| cut -d/ -f2 | sort -u; rm -f {STAMP}.start {STAMP}.end",
        ],
        workdir=cwd,
        timeout=60,
    ).output
    names = [line.strip() for line in found.splitlines() if line.strip()]
    return [n for n in names if re.fullmatch(r"output_[A-Za-z0-9_.-]{1,100}", n)][:20]


def in_fresh_sandbox(
    make_sandbox: Callable[[], Sandbox],
    agent_sandbox: Sandbox,
    task: IcTask,
    hidden: HiddenTests,
    patch: str,
    apply: Callable[[Sandbox, str, str], str | None],
    timeout_s: float,
    out_dir: Path,
) -> str:
    """The user tool on a fresh sandbox holding the agent's current patch; the scrubbed trace
    is copied into the agent's container, under `user_tool/`, and nothing else comes back."""
    call_dir = out_dir / USER_TOOL_DIR / f"call-{uuid.uuid4().hex[:8]}"
    call_dir.mkdir(parents=True)
    runner = make_sandbox()
    try:
        problem = apply(runner, task.cwd, patch)
        if problem is not None:
            return (
                "The user tool could not start: your changes do not apply to a fresh copy of the "
                f"repository ({problem[:500]})."
            )
        names, timed_out, notes = run_and_collect(runner, task, hidden, timeout_s, call_dir)
    finally:
        runner.remove()
    for name in names:
        agent_sandbox.copy_in(call_dir / name, f"{task.cwd}/{USER_TOOL_DIR}/{name}")
    return _message(task, names, timed_out, timeout_s, notes)


def in_agent_sandbox(
    sandbox: Sandbox,
    task: IcTask,
    hidden: HiddenTests,
    stop_agent_processes: Callable[[], None],
    timeout_s: float,
    out_dir: Path,
) -> str:
    """The user tool in the agent's container, as upstream runs it, once every process the
    agent started has been stopped (none may watch the tests come back)."""
    stop_agent_processes()
    call_dir = out_dir / USER_TOOL_DIR / f"call-{uuid.uuid4().hex[:8]}"
    call_dir.mkdir(parents=True)
    names, timed_out, notes = run_and_collect(sandbox, task, hidden, timeout_s, call_dir)
    message = _message(task, names, timed_out, timeout_s, notes)
    return message + "\n\n(Processes you had left running were stopped before the user came.)"


def _message(task: IcTask, names: list[str], timed_out: bool, timeout_s: float, notes: str) -> str:
    places = [f"{task.cwd}/{USER_TOOL_DIR}/{n}/" for n in names]
    cut = (
        f"\n\nSome of the trace was left out (too large or not plain files):\n{notes}"
        if notes
        else ""
    )
    if timed_out:
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
