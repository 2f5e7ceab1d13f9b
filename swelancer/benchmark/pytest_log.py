"""pytest's log of a test run: read bounded from the sandbox (its head and, where the summary
is, its tail), and what its closing summary line says."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from swelancer.errors import InfraError
from swelancer.sandbox.archive import CopyLimits
from swelancer.sandbox.base import Sandbox

LOG_HEAD = 1_000_000
LOG_TAIL = 1_000_000
LOG_COPY = CopyLimits(
    max_file_bytes=LOG_HEAD + LOG_TAIL,
    max_total_bytes=LOG_HEAD + LOG_TAIL,
    max_entries=1,
    tail_bytes=LOG_TAIL,
)
"""A log past 2 MB keeps its first and its last MB: pytest's summary is its last line."""
CUT = "\n[... the middle of the log, past {head:,} bytes, was left out ...]\n"
_SUMMARY = re.compile(r"^=+ (.+?) in [\d.]+s(?: \([^)]*\))? =+[ \t]*$", re.MULTILINE)
_BAD = re.compile(r"\b(failed|errors?)\b")


def read_log(sandbox: Sandbox, path: str) -> str:
    """A log file's text, at most its first `LOG_HEAD` and last `LOG_TAIL` bytes with a note
    of the cut between them; the file is streamed, never held whole. "" when it is missing."""
    with tempfile.TemporaryDirectory(prefix="swelancer-log-") as tmp:
        dest = Path(tmp) / "log"
        try:
            report = sandbox.copy_out(path, dest, LOG_COPY)
        except (FileNotFoundError, InfraError):
            return ""
        if not dest.is_file():
            return ""
        data = dest.read_bytes()
    if report.truncated:
        head, tail = data[:LOG_HEAD], data[LOG_HEAD:]
        data = head + CUT.format(head=LOG_HEAD).encode() + tail
    return data.decode("utf-8", "replace")


def summary(log: str) -> str | None:
    """pytest's closing summary (`1 failed, 2 passed`, `1 skipped`, `no tests ran`), the last
    such line of the log; None when the log has none."""
    found = _SUMMARY.findall(log)
    return found[-1] if found else None


def reports_trouble(said: str) -> bool:
    """Whether a summary counts a failed test or an error (of a test or of its fixtures'
    setup or teardown): what pytest exits 1 for. `xfailed` is not a failure."""
    return bool(_BAD.search(said))


def agrees_with_pass(said: str) -> bool:
    """Whether pytest exits 0 with this summary: tests ran (passed, skipped, xfailed,
    xpassed) and none failed or errored."""
    return not reports_trouble(said) and "no tests ran" not in said
