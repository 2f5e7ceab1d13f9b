"""Grading an IC task: what a run of the hidden test gave and what it means, by upstream's rules
(the runs themselves are made across an app container and a judge container: `judged`), and
the check that the exit code agrees with pytest's summary and the playbook's report."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from swelancer.benchmark import pytest_log
from swelancer.errors import FaultKind

GRADING_ENV = {"PYTHONDONTWRITEBYTECODE": "1"}
"""pytest writes no bytecode next to the judge's tests."""

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


BREAKABLE = {FaultKind.COPY_FAILED, FaultKind.HIDE, FaultKind.TOO_LARGE}
"""Faults of a step in a sandbox that its own state can cause (a link where the harness
copies to, a folder that cannot be replaced): no verdict, not an infrastructure fault, when
the sandbox still runs on an engine that answers. Other errors of the engine's API stay
infrastructure faults."""


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
