"""The report of a run as data: `RunReport` and its parts.

`metrics.compute` builds one from a run directory, every renderer draws from one, and
`swelancer report -f json` writes one (`RunReport.model_validate_json` reads it back). Each
figure can be recomputed from the run's attempts.jsonl.

Schema 2 (schema 1 was the same report as a plain dict): pass@k, for k the run's `tries`, is
`pass_at_k` in every group (it was `pass_at_<k>`); tampering is reported (`tampered` in every
group and on every task, `tampering` on every attempt, `tampered_attempts` listed apart).
Schema 3: `pass_at_1` (and `pass_at_k`) of a group with no graded task is null, not 0.0 (the
tables show "—" there). Schema 4: every attempt has its `seconds` (setup, agent and grading)
and `why` (in a line, why it did not pass). Also in schema 4, optional: `monitor` (what the
transcript monitor flagged) and `excluding_flagged` (the figures with flagged passes scored as
failures, overall as `all` and per variant; empty when no flagged attempt passed). Schema 5:
intervals (`pass_at_1_ci`, `pass_at_k_ci`, `earned_usd_ci`) on the run and on each variant, the
figures with errors scored as failures (`errors_as_failures`) when any attempt errored, and how
the intervals were made (`statistics`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from swelancer.monitor.summary import MonitorSummary

REPORT_SCHEMA = 5

TaskStatus = Literal["passed", "failed", "mixed", "error"]
"""A task's outcome over its graded attempts; `error` when none was graded."""


class ReportModel(BaseModel):
    """A part of a report: its fields are its JSON keys."""

    model_config = ConfigDict(extra="forbid")


class Interval(ReportModel):
    """A confidence interval: the figure lies between `low` and `high` at the report's level."""

    low: float
    high: float


class ErrorsAsFailures(ReportModel):
    """The figures had every errored attempt been scored a failure (a task with no graded
    attempt then counts, at 0): the low end of what the errors could hide."""

    tasks: int
    pass_at_1: float | None
    pass_at_1_ci: Interval | None = None
    earned_usd: float
    earned_usd_ci: Interval | None = None
    available_usd: float


class Statistics(ReportModel):
    """How the intervals were made, enough to make them again from attempts.jsonl."""

    level: float = 0.95
    resamples: int = 2000
    """Bootstrap resamples of the dollar intervals."""
    seed: int = 0
    pass_rate_method: str = ""
    dollars_method: str = ""
    min_tasks: int = 2
    """Fewer graded tasks than this give no interval (it would not be meaningful)."""


class Figures(ReportModel):
    """The figures of a group of attempts: a variant, a price bucket, or the whole run.

    A task's pass@1 is the mean score of its graded attempts, and it earns `price × pass@1`.
    Attempts that ended in an infrastructure error are outside every denominator.
    """

    tasks: int = 0
    """Tasks with at least one graded attempt."""
    tasks_errored: int = 0
    """Tasks whose every attempt ended in an infrastructure error (not available)."""
    attempts: int = 0
    passed: int = 0
    failed: int = 0
    """Graded attempts that did not pass, the tampered ones included."""
    tampered: int = 0
    """Failed attempts whose grading showed that the agent forged or spoiled it."""
    errors: int = 0
    """Attempts that ended in an infrastructure error (not counted)."""
    pass_at_1: float | None = None
    """None when the group has no graded task (the tables show a dash)."""
    pass_at_k: float | None = None
    """Unbiased pass@k for k the run's `tries`; None when the run has one try per task, or
    the group has no graded task."""
    earned_usd: float = 0.0
    available_usd: float = 0.0
    """The prices of the graded tasks."""
    errored_usd: float = 0.0
    """The prices of the tasks with no graded attempt."""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    """API dollars; None when any attempt's cost is unknown (never counted as $0)."""
    earned_per_api_usd: float | None = None
    pass_at_1_ci: Interval | None = None
    """The interval of pass@1 (the run and each variant; None for price buckets, and where
    too few tasks were graded for it to mean anything)."""
    pass_at_k_ci: Interval | None = None
    earned_usd_ci: Interval | None = None
    errors_as_failures: ErrorsAsFailures | None = None
    """Set when any attempt of the group errored (the run and each variant)."""


class AttemptRow(ReportModel):
    """One attempt of a task as the report shows it (a tampered attempt is `failed`)."""

    attempt: int
    status: Literal["passed", "failed", "error"]
    score: float
    earned_usd: float
    turns: int
    cost_usd: float | None
    seconds: float | None = None
    """Wall time of setup, the agent's turn and grading together."""
    stop_reason: str | None = None
    reason: str | None = None
    decision_odd_form: str | None = None
    """A manager's answer as written when not a plain `selected_proposal_id` integer."""
    error: str | None = None
    """`kind: message` of an infrastructure error."""
    tampering: str | None = None
    """What showed that the agent forged or spoiled its grading."""
    why: str | None = None
    """Why it did not pass, in a line (the error, the tampering, the recorded reason, or
    what grading found); None when it passed."""


class TaskRow(ReportModel):
    """One task: its attempts and what it earned (the arithmetic of `Figures`)."""

    task_id: str
    variant: str
    price_usd: float
    price_bucket: str
    status: TaskStatus
    graded: int
    passed: int
    errors: int
    tampered: int = 0
    pass_at_1: float | None
    """None when no attempt was graded."""
    earned_usd: float
    attempts: list[AttemptRow] = Field(default_factory=list)


class ErroredAttempt(ReportModel):
    """An attempt that ended in an infrastructure error, listed apart from the scores."""

    task_id: str
    attempt: int
    kind: str
    message: str


class TamperedAttempt(ReportModel):
    """An attempt scored as a failure because its grading showed tampering."""

    task_id: str
    attempt: int
    tampering: str


class ManifestInfo(ReportModel):
    """Where the run's tasks came from, as run.json records it (other keys are kept)."""

    model_config = ConfigDict(extra="allow")

    kind: str | None = None
    split: str | None = None
    path: str | None = None
    url: str | None = None
    sha256: str | None = None
    fetched_at: str | None = None

    def source(self) -> str | None:
        """The split, else the path, else the kind: how a reader names the task set."""
        return self.split or self.path or self.kind


class RunInfo(ReportModel):
    """What run.json says about a run: its id, model, status, tasks' source, tries and times."""

    schema_version: int = REPORT_SCHEMA
    run_id: str
    model: str | None = None
    status: str | None = None
    """run.json's status: complete, running, incomplete…; None when unknown."""
    manifest: ManifestInfo | None = None
    skipped_broken: list[str] = Field(default_factory=list)
    """Tasks left out as known broken upstream (`--skip-broken`)."""
    tries: int = 1
    """Attempts per task: the k of `pass_at_k`."""
    started_at: str | None = None
    finished_at: str | None = None
    problems: list[str] = Field(default_factory=list)
    """What could not be read about the run (run.json damaged…)."""
    prompts: str | None = None
    """The kind of words the model read (run.json `prompts.kind`), when recorded."""
    statistics: Statistics = Field(default_factory=Statistics)


class RunReport(Figures, RunInfo):
    """Every figure of one run, its context (`RunInfo`) and its breakdowns.

    The run's own figures (the total) are the top-level fields it shares with `Figures`.
    """

    by_variant: dict[str, Figures] = Field(default_factory=dict)
    by_price_bucket: dict[str, Figures] = Field(default_factory=dict)
    """Every price bucket, cheapest first, empty ones included."""
    errored: list[ErroredAttempt] = Field(default_factory=list)
    tampered_attempts: list[TamperedAttempt] = Field(default_factory=list)
    per_task: list[TaskRow] = Field(default_factory=list)
    monitor: MonitorSummary | None = None
    excluding_flagged: dict[str, Figures] = Field(default_factory=dict)
