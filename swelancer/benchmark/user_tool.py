"""The user tool's pieces: where its traces are, how they are found, bounded and collected, and
what the model is told. The call itself (`run.user_tool_judged`) runs the app in an app
container that holds no test and the traced test in a judge container; the trace folders lose
`resources/src@*` (Playwright's copy of the test's source, which upstream leaks) before the
agent can read them.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from pydantic import BaseModel, Field

from swelancer.benchmark.scrub import scrub_trace
from swelancer.benchmark.user_tool_reply import UserToolReply
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


def collect_traces(sandbox: Sandbox, cwd: str, got: Collected, into: Path) -> None:
    """Copy the trace folders the traced test wrote in `sandbox` (the judge's) since the call
    started to `into`, scrubbed of the test's source and of anything holding text of the
    hidden files; their names and what was left out go into `got`."""
    names, odd = _new_trace_folders(sandbox, cwd)
    notes = []
    if odd:
        notes.append(
            f"{odd} trace folders past the first {MAX_TRACES}, or whose names are not plain "
            "(letters, digits, '_', '.', '-'), were left out"
        )
    for name in names:
        try:
            report = sandbox.copy_out(f"{cwd}/{USER_TOOL_DIR}/{name}", into / name, TRACE_COPY)
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


def call_dir_for(out_dir: Path) -> Path:
    """A new folder under the attempt's `user_tool/` for one call's traces on the host."""
    call_dir = out_dir / USER_TOOL_DIR / f"call-{uuid.uuid4().hex[:8]}"
    call_dir.mkdir(parents=True)
    return call_dir


def reply_for(task: IcTask, got: Collected, timeout_s: float) -> UserToolReply:
    """What the agent is told of a call that ran (or timed out), from what was collected."""
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
