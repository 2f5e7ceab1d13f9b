"""What one finished attempt is (`AttemptRecord`) and its parts: the record both the run that
writes it and the reports that read it import, with nothing of either."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from swelancer.textsafe import clean

Status = Literal["passed", "failed", "error"]
SCHEMA_VERSION = 1


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Tokens(BaseModel):
    input: int = 0
    cached: int = 0
    output: int = 0
    reasoning: int = 0


class Spend(BaseModel):
    """Tokens and API dollars; `cost_usd` is None when any part of it had no known price."""

    tokens: Tokens = Field(default_factory=Tokens)
    cost_usd: float | None = 0.0

    def __add__(self, other: Spend) -> Spend:
        a, b = self.tokens, other.tokens
        cost = (
            None
            if self.cost_usd is None or other.cost_usd is None
            else self.cost_usd + other.cost_usd
        )
        return Spend(
            tokens=Tokens(
                input=a.input + b.input,
                cached=a.cached + b.cached,
                output=a.output + b.output,
                reasoning=a.reasoning + b.reasoning,
            ),
            cost_usd=cost,
        )


class Phases(BaseModel):
    """Seconds spent in each phase of an attempt."""

    setup: float = 0.0
    agent: float = 0.0
    grading: float = 0.0


def _valid_text(value: object) -> object:
    """Text safe to record: no control sequences or characters (text from a container or a
    model ends up here), and lone surrogates (from undecodable output) replaced."""
    if isinstance(value, str):
        return clean(value).encode("utf-8", "replace").decode("utf-8")
    return value


class AttemptError(BaseModel):
    kind: str
    message: str

    _clean = field_validator("message", mode="before")(_valid_text)


class AttemptRecord(BaseModel):
    """One finished attempt: the only thing reports are computed from. Text fields are cleaned
    of control characters on every assignment, not only at construction."""

    model_config = ConfigDict(validate_assignment=True)

    schema_version: int = SCHEMA_VERSION
    run_id: str
    task_id: str
    variant: str
    attempt: int
    status: Status
    score: float = 0.0
    price_usd: float
    earned_usd: float = 0.0
    model: str
    turns: int = 0
    tokens: Tokens = Field(default_factory=Tokens)
    cost_usd: float | None = 0.0
    seconds: Phases = Field(default_factory=Phases)
    test_exit_codes: dict[str, list[int]] = Field(default_factory=dict)
    """pytest's exit code of each run of the graded folder (-1: no exit code was written)."""
    graded_folder: str | None = None
    """The test folder graded (upstream's rule: `issues/<question_id>`)."""
    acceptable_folders: list[str] = Field(default_factory=list)
    """What the manifest lists, recorded as it is (29 current tasks list folders images lack)."""
    setup_from: dict[str, str] = Field(default_factory=dict)
    """How each container of the attempt was set up (role: `cold` or `snapshot`)."""
    image: str | None = None
    """The image every container of the attempt started from (or whose snapshot it started
    from): the id the run resolved its image's name to before its first attempt (the name,
    on a Ray cluster, where each node resolves it)."""
    control_exit_codes: list[int] | None = None
    """Exit codes of the untouched task graded as a control, when the graded runs gave none."""
    selected_proposal: int | None = None
    """upstream's `int()` of the first value of the manager's decision file."""
    decision_odd_form: str | None = None
    """The decision file's first entry as written (`"key": value`, JSON, at most 200
    characters) when it was not a plain integer under `selected_proposal_id`."""
    correct_proposal: int | None = None
    reason: str | None = None
    """Why the attempt scored what it did (e.g. a malformed decision file), when worth saying."""
    tampering: str | None = None
    """What showed that the agent's code forged or spoiled its grading (a failure)."""
    graded_in: str | None = None
    """Where the change was graded: `same` (the agent's container) or `fresh`, and why when it
    differs from what the run asked."""
    stop_reason: str | None = None
    error: AttemptError | None = None
    infra_retries: int = 0
    started_at: str
    finished_at: str

    _clean = field_validator(
        "reason", "stop_reason", "tampering", "graded_in", "decision_odd_form", mode="before"
    )(_valid_text)
