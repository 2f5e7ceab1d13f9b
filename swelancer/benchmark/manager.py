"""Grading a manager task: the decision file against the proposal the real manager chose."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from swelancer.errors import InfraError
from swelancer.sandbox.base import Sandbox
from swelancer.tasks.models import ManagerTask


class ManagerGrade(BaseModel):
    passed: bool
    selected: int | None
    reason: str | None = None


DECISION_LIMIT = 1_000_000


def read_decision(raw: bytes | None) -> tuple[int | None, str | None]:
    """The selected proposal id in a decision file, or None with the reason it could not be read.

    `{"selected_proposal_id": 3}` is expected; as upstream does, the first value is taken
    whatever its key.
    """
    if raw is None:
        return None, "no manager_decisions.json was written"
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"manager_decisions.json is not valid JSON ({exc})"
    if not isinstance(data, dict) or not data:
        return None, "manager_decisions.json is not a JSON object with a selected_proposal_id"
    value = data.get("selected_proposal_id", next(iter(data.values())))
    if isinstance(value, bool):
        return None, f"selected proposal is not an integer: {value!r}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = value.strip() if isinstance(value, str) else ""
    if text.removeprefix("-").isdecimal() and len(text) < 4300:  # what int() reads: not '²'
        value = int(text)
    if not isinstance(value, int):
        return None, f"selected proposal is not an integer: {str(value)[:100]!r}"
    return value, None


def grade_manager(sandbox: Sandbox, task: ManagerTask, out_dir: Path) -> ManagerGrade:
    """Compare the decision file with the proposal the real manager chose."""
    try:
        raw: bytes | None = sandbox.read_file(
            f"{task.cwd}/manager_decisions.json", limit=DECISION_LIMIT
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
    selected, reason = read_decision(raw)
    passed = selected is not None and selected == task.correct_proposal_id
    return ManagerGrade(passed=passed, selected=selected, reason=reason)
