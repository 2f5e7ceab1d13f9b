"""Grading a manager task: the decision file against the proposal the real manager chose.

Upstream (`_grade_swe_manager`) reads `int(list(json.loads(text).values())[0])`, whatever the
first key, and scores 0 on any exception; so does `read_decision`, with Python's own `int()`.
An answer in any other form than `{"selected_proposal_id": <integer>, ...}` is kept as written
(`Decision.odd_form`), so that a report can say how it was read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from swelancer.errors import InfraError
from swelancer.sandbox.base import Sandbox
from swelancer.tasks.models import ManagerTask

DECISION_FILE = "manager_decisions.json"
"""Where, in the repository, the agent writes its choice."""
DECISION_LIMIT = 1_000_000
KEY = "selected_proposal_id"
ODD_FORM_LIMIT = 200
INT_TEXT_LIMIT = 8_599
"""Characters of a string `int()` may read: past 4,300 digits (with `_` between them) Python
refuses it anyway, and this holds even where a process lifted that limit."""


class Decision(BaseModel):
    """What a decision file says, read by upstream's rule."""

    selected: int | None
    reason: str | None = None
    odd_form: str | None = None
    """The file's first entry (`"key": value`, JSON, cut at 200 characters) when it is not a
    plain integer under `selected_proposal_id`."""


class ManagerGrade(BaseModel):
    passed: bool
    selected: int | None
    reason: str | None = None
    odd_form: str | None = None


def upstream_int(value: Any) -> int:
    """`int(value)` as Python computes it, raising what it raises; a string too long for
    Python's own digit limit raises `ValueError` before `int()` sees it."""
    if isinstance(value, str) and len(value.strip()) > INT_TEXT_LIMIT:
        raise ValueError(f"a string of {len(value):,} characters is no integer int() reads")
    return int(value)


def _entry(key: str, value: Any) -> str:
    try:
        text = f"{json.dumps(key)}: {json.dumps(value)}"
    except (ValueError, RecursionError):
        text = f"{json.dumps(key)}: <a deeply nested {type(value).__name__}>"
    return text if len(text) <= ODD_FORM_LIMIT else text[: ODD_FORM_LIMIT - 1] + "…"


def read_decision(raw: bytes | None) -> Decision:
    """The proposal a decision file selects, by upstream's rule, or None with the reason."""
    if raw is None:
        return Decision(selected=None, reason="no manager_decisions.json was written")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return Decision(selected=None, reason=f"manager_decisions.json is not valid JSON ({exc})")
    if not isinstance(data, dict):
        return Decision(
            selected=None,
            reason=f"manager_decisions.json holds a JSON {type(data).__name__}, not an object "
            "(upstream's list(obj.values())[0] fails: scored 0)",
        )
    if not data:
        return Decision(selected=None, reason="manager_decisions.json is an empty JSON object")
    key, value = next(iter(data.items()))
    plain = key == KEY and type(value) is int
    odd = None if plain else _entry(key, value)
    try:
        selected = upstream_int(value)
    except (TypeError, ValueError, OverflowError) as exc:
        return Decision(
            selected=None,
            reason=f"the first value of manager_decisions.json is not an integer to int() "
            f"({type(exc).__name__}: {str(exc)[:100]}): scored 0, as upstream",
            odd_form=odd,
        )
    reason = None
    if odd is not None:
        shown = str(selected)
        shown = shown if len(shown) <= 40 else f"an integer of {len(shown)} digits"
        reason = f"answered in an odd form ({odd}): upstream's int() of the first value is {shown}"
    return Decision(selected=selected, reason=reason, odd_form=odd)


def grade_manager(sandbox: Sandbox, task: ManagerTask, out_dir: Path) -> ManagerGrade:
    """Compare the decision file with the proposal the real manager chose."""
    try:
        raw: bytes | None = sandbox.read_file(
            f"{task.cwd}/{DECISION_FILE}", limit=DECISION_LIMIT
        )
    except FileNotFoundError:
        raw = None
    except IsADirectoryError:
        raw = b"<a directory>"
    except InfraError as exc:
        if exc.kind != "too_large":
            raise
        return ManagerGrade(
            passed=False, selected=None, reason=f"manager_decisions.json is too large ({exc})"
        )
    if raw is not None:
        (out_dir / "decision.json").write_bytes(raw)
    decision = read_decision(raw)
    passed = decision.selected is not None and decision.selected == task.correct_proposal_id
    return ManagerGrade(passed=passed, **decision.model_dump())
