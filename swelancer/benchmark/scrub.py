"""Keeping the hidden test out of what the user tool hands the agent.

The app the user tool runs is the agent's code, and it runs while the tests are back: it can
read them and write what it read into the trace, or anywhere it likes. The trace that comes
back keeps only Playwright's own layout, and loses every row and file that holds text found
only in the hidden files (a line of the test, the fix the bug patch removed, a line of the
test's log); Playwright's copies of sources (`resources/src@*`) go first. What the app encodes
cannot be found this way; what it copies plainly can.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, Field

from swelancer.benchmark.hidden import HiddenTests

TRACE_FILES = re.compile(r"^trace\.(trace|network|stacks)$")
RESOURCE = re.compile(r"^(?!src@)[A-Za-z0-9@._-]{1,200}$")
MIN_NEEDLE = 24
_GENERIC = re.compile(
    r"^(import |from |def |class |with |try:|finally:|except|#|@)"
    r"|^=+|^platform |^rootdir|^plugins|^collected|^cachedir"
)


class Scrubbed(BaseModel):
    dropped_files: list[str] = Field(default_factory=list)
    dropped_rows: int = 0

    @property
    def anything(self) -> bool:
        return bool(self.dropped_files or self.dropped_rows)


def needles(hidden: HiddenTests, extra_texts: tuple[str, ...] = ()) -> list[bytes]:
    """Text only the hidden files hold: lines of the test and its log, and the fix as the bug
    patch removes it (its `-` lines: the repository the agent has lacks them)."""
    lines: list[str] = []
    test = hidden.test_file()
    if test is not None and test.is_file():
        lines += test.read_text(errors="replace").splitlines()
    patch = test.with_name("bug_reintroduce.patch") if test is not None else None
    if patch is not None and patch.is_file():
        lines += [
            line[1:]
            for line in patch.read_text(errors="replace").splitlines()
            if line.startswith("-") and not line.startswith("---")
        ]
    for text in extra_texts:
        lines += text.splitlines()
    found = set()
    for line in lines:
        line = line.strip()
        if len(line) >= MIN_NEEDLE and not _GENERIC.match(line):
            found.add(line)
    forms = set()
    for line in found:
        forms.add(line.encode())
        forms.add(json.dumps(line)[1:-1].encode())  # as a JSON string holds it
    return sorted(forms)


def holds(data: bytes, marks: list[bytes]) -> bool:
    return any(mark in data for mark in marks)


def scrub_trace(folder: Path, marks: list[bytes]) -> Scrubbed:
    """Clean one trace folder copied to the host, in place."""
    result = Scrubbed()
    for path in sorted(folder.rglob("*"), reverse=True):
        rel = path.relative_to(folder).as_posix()
        if path.is_dir():
            if rel != "resources":
                _drop_tree(path, rel, result)
            continue
        parent = path.parent.relative_to(folder).as_posix()
        allowed = (parent == "." and TRACE_FILES.match(path.name)) or (
            parent == "resources" and RESOURCE.match(path.name)
        )
        if not allowed:
            path.unlink()
            if not (parent == "resources" and path.name.startswith("src@")):
                result.dropped_files.append(rel)  # Playwright's source copies always go
        elif TRACE_FILES.match(path.name) and parent == ".":
            result.dropped_rows += _drop_rows(path, marks)
        elif holds(path.read_bytes(), marks):
            path.unlink()
            result.dropped_files.append(rel)
    return result


def _drop_tree(path: Path, rel: str, result: Scrubbed) -> None:
    for inner in sorted(path.rglob("*"), reverse=True):
        if inner.is_dir():
            inner.rmdir()
        else:
            inner.unlink()
            result.dropped_files.append(f"{rel}/{inner.relative_to(path).as_posix()}")
    path.rmdir()


def _drop_rows(path: Path, marks: list[bytes]) -> int:
    kept, dropped = [], 0
    with path.open("rb") as handle:
        for row in handle:
            if holds(row, marks):
                dropped += 1
            else:
                kept.append(row)
    if dropped:
        path.write_bytes(b"".join(kept))
    return dropped
