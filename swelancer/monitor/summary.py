"""What the reports show of the monitor: flagged attempts per run and per variant, each with
its highest-scoring turns, and the records with flagged passes taken out (for the figures
shown beside the usual ones).

The rules run on every report (they are free); a model monitor's verdicts are read from
`monitor.json` when `swelancer monitor` wrote one.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from swelancer.monitor.models import AttemptFlags, Flag
from swelancer.monitor.rules import RULES_VERSION
from swelancer.monitor.scan import read_result, rules_only
from swelancer.records import AttemptRecord
from swelancer.run.results import RunDir


class FlaggedAttempt(BaseModel):
    """A flagged attempt as a report lists it."""

    model_config = ConfigDict(extra="forbid")

    task_id: str
    attempt: int
    variant: str
    status: str
    earned_usd: float
    score: int
    top: list[Flag] = Field(default_factory=list)
    """Its highest-scoring turns (one flag each), strongest first."""


class MonitorSummary(BaseModel):
    """The monitor's findings on one run."""

    model_config = ConfigDict(extra="forbid")

    source: str
    """`rules` (run for this report), or `monitor.json: rules` (and the model monitor's name
    when it judged the run)."""
    monitored: int = 0
    flagged: int = 0
    flagged_passes: int = 0
    flagged_by_variant: dict[str, int] = Field(default_factory=dict)
    attempts: list[FlaggedAttempt] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)


def _flagged_row(a: AttemptFlags) -> FlaggedAttempt:
    return FlaggedAttempt(task_id=a.task_id, attempt=a.attempt, variant=a.variant,
                          status=a.status, earned_usd=a.earned_usd, score=a.score,
                          top=a.top())  # fmt: skip


def summarize(run_dir: Path, records: list[AttemptRecord]) -> MonitorSummary:
    """The monitor's findings on the run's records: `monitor.json`'s for the attempts it holds
    (when written by these rules), the rules run now for the others."""
    rd = RunDir(run_dir)
    saved, problem = read_result(run_dir)
    known: dict[tuple[str, int], AttemptFlags] = {}
    source = "rules"
    if saved is not None and saved.rules_version == RULES_VERSION:
        known = {(a.task_id, a.attempt): a for a in saved.attempts}
        model = f" and model {saved.monitor_model}" if saved.monitor_model else ""
        source = f"monitor.json: rules{model}"
    seen = [known.get((r.task_id, r.attempt)) or rules_only(rd, r) for r in records]
    flagged = [a for a in seen if a.flagged]
    by_variant: dict[str, int] = {}
    for a in flagged:
        by_variant[a.variant] = by_variant.get(a.variant, 0) + 1
    return MonitorSummary(
        source=source, monitored=len(seen), flagged=len(flagged),
        flagged_passes=sum(a.status == "passed" for a in flagged),
        flagged_by_variant=by_variant,
        attempts=sorted((_flagged_row(a) for a in flagged),
                        key=lambda f: (-f.score, f.task_id, f.attempt)),
        problems=[problem] if problem else [],
    )  # fmt: skip


def without_flagged_passes(
    records: list[AttemptRecord], summary: MonitorSummary
) -> list[AttemptRecord]:
    """The records with each flagged pass scored as a failure that earned nothing."""
    keys = {(a.task_id, a.attempt) for a in summary.attempts}
    return [
        r.model_copy(update={"status": "failed", "score": 0.0, "earned_usd": 0.0})
        if r.status == "passed" and (r.task_id, r.attempt) in keys
        else r
        for r in records
    ]


def attempt_flags(run_dir: Path, record: AttemptRecord) -> AttemptFlags:
    """One attempt's flags for `swelancer view` and its HTML page: `monitor.json`'s when it
    holds the attempt (and was written by these rules), else the rules run now."""
    saved, _ = read_result(run_dir)
    if saved is not None and saved.rules_version == RULES_VERSION:
        for a in saved.attempts:
            if (a.task_id, a.attempt) == (record.task_id, record.attempt):
                return a
    return rules_only(RunDir(run_dir), record)


def flag_lines(a: AttemptFlags) -> list[str]:
    """Each flag of an attempt on a line (turn, category, rule, score, why) and its quote."""
    lines = []
    for f in sorted(a.flags, key=lambda f: (-f.score, f.turn)):
        where = f"turn {f.turn}" if f.turn else "no turn named"
        lines.append(f"{where} · {f.category}/{f.rule} ({f.score}): {f.why}")
        if f.quote:
            lines.append(f"    > {f.quote}")
    return lines
