"""Tasks of the benchmark: IC SWE tasks and SWE Manager tasks, discriminated on `variant`."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter, field_validator

Variant = Literal["ic_swe", "swe_manager"]
PriceStyle = Literal["int", "float"]
"""How pandas types a manifest's price column, as upstream's harness reads it: int64 when every
cell is an integer (`500`), else float64 (`500.0` in any cell makes every price `500.0`)."""
VARIANTS: tuple[Variant, ...] = ("ic_swe", "swe_manager")

# Price buckets used wherever tasks or earnings are broken down by price: [low, high) in USD.
PRICE_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("< $250", 0.0, 250.0),
    ("$250–$499", 250.0, 500.0),
    ("$500–$999", 500.0, 1000.0),
    ("$1,000–$1,999", 1000.0, 2000.0),
    ("$2,000–$3,999", 2000.0, 4000.0),
    ("≥ $4,000", 4000.0, float("inf")),
)


# What a manifest may hold in the fields that reach paths, commands and container names; ASCII
# only (no lookalike digits or dashes), whole-string matches. The real ids (upstream's three
# manifests and the demo's) are 3-5 digits, with a suffix of 1-4 digits or `-manager-<1 digit>`.
IC_ID = re.compile(r"[0-9]{1,9}(?:_[0-9]{1,6})?")
"""An IC task id and a test folder name: `12155`, `12155_1`, `28565_1001`."""
MANAGER_ID = re.compile(r"[0-9]{1,9}-manager-[0-9]{1,6}")
"""A manager task id: `15193-manager-0`."""
COMMIT = re.compile(r"[0-9a-fA-F]{7,40}")
"""A git commit (abbreviated or full); a manager task may also have none."""
REPO_DIR = "/app/expensify"
"""The repository in every SWE-Lancer image: the agent's working directory, and the only one."""
PRICE_LIMIT = 1_000_000.0
"""The most a task may pay, in dollars; upstream's tasks pay $50 to $32,000."""


def id_problem(variant: str, task_id: str) -> str | None:
    """Why `task_id` is not a valid id for a task of `variant`, or None when it is."""
    if variant == "ic_swe":
        pattern, shape = IC_ID, "digits with an optional _N suffix, e.g. 12155 or 12155_1"
    else:
        pattern, shape = MANAGER_ID, "<issue>-manager-<n>, e.g. 15193-manager-0"
    if pattern.fullmatch(task_id):
        return None
    return f"task id {task_id[:80]!r} is not a valid {variant} id ({shape})"


def folder_problem(folder: str) -> str | None:
    """Why `folder` is not a valid test folder name (`issues/<folder>`), or None."""
    if IC_ID.fullmatch(folder):
        return None
    return f"test folder {folder[:80]!r} is not a valid folder name (e.g. 12155 or 12155_1)"


def commit_problem(commit: str) -> str | None:
    """Why `commit` is not a git commit id (7-40 hex digits) nor empty, or None."""
    if not commit or COMMIT.fullmatch(commit):
        return None
    return f"manager commit {commit[:80]!r} is not 7 to 40 hex digits"


def cwd_problem(cwd: str) -> str | None:
    """Why `cwd` is not the repository folder of SWE-Lancer images, or None when it is."""
    if cwd == REPO_DIR:
        return None
    return (
        f"working directory {cwd[:80]!r} is not {REPO_DIR}, the repository folder SWE-Lancer "
        "images define (a parent such as /app would put the hidden tests in /app/tests into "
        f"the agent's git history). Write {REPO_DIR} in the cwd cell, or leave it empty."
    )


def _checked(problem: str | None, value: str) -> str:
    if problem:
        raise ValueError(problem)
    return value


def price_bucket(price_usd: float) -> str:
    """The label of the price bucket a price falls in."""
    for label, low, high in PRICE_BUCKETS:
        if low <= price_usd < high:
            return label
    return PRICE_BUCKETS[-1][0]


class Proposal(BaseModel):
    """One freelancer's proposal that a manager task chooses among."""

    id: int
    text: str


class _TaskBase(BaseModel):
    task_id: str
    price_usd: float = Field(ge=0, le=PRICE_LIMIT, allow_inf_nan=False)
    title: str = ""
    description: str = ""
    cwd: str = REPO_DIR
    split: str = "diamond"
    prompt: list[str] | None = None
    """User messages already rendered by the manifest (older upstream schema), sent as they are."""
    broken: str | None = None
    """Why this task is known to be broken upstream, if it is."""

    @field_validator("cwd")
    @classmethod
    def _safe_cwd(cls, value: str) -> str:
        return _checked(cwd_problem(value), value)


class IcTask(_TaskBase):
    """Fix the issue in the repository; graded by the hidden end-to-end tests."""

    variant: Literal["ic_swe"] = "ic_swe"
    test_folders: list[str] = Field(default_factory=list)

    @field_validator("task_id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        return _checked(id_problem("ic_swe", value), value)

    @field_validator("test_folders")
    @classmethod
    def _safe_folders(cls, value: list[str]) -> list[str]:
        for folder in value:
            _checked(folder_problem(folder), folder)
        return value


class ManagerTask(_TaskBase):
    """Pick the proposal the real manager picked."""

    variant: Literal["swe_manager"] = "swe_manager"
    proposals: list[Proposal] = Field(default_factory=list)
    proposals_text: str = ""
    """The proposals as the manifest renders them for the prompt (current schema)."""
    correct_proposal_id: int
    manager_commit: str = ""

    @field_validator("task_id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        return _checked(id_problem("swe_manager", value), value)

    @field_validator("manager_commit")
    @classmethod
    def _safe_commit(cls, value: str) -> str:
        return _checked(commit_problem(value), value)


Task = Annotated[IcTask | ManagerTask, Field(discriminator="variant")]
TASK_ADAPTER: TypeAdapter[IcTask | ManagerTask] = TypeAdapter(Task)
