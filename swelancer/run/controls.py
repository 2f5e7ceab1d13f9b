"""The hidden test's verdict on the untouched task, shared by the attempts of a run."""

from __future__ import annotations

import threading
from collections.abc import Callable

from swelancer.benchmark.grading import IcGrade


class ControlGrades:
    """The hidden test's verdict on the untouched task, graded once per task and image in a
    fresh sandbox, shared by the attempts of a run. It settles what a graded attempt alone
    cannot: when the test gave no clean verdict on the agent's change (no exit code, or 2 and
    above), a control that grades cleanly shows the change was the cause."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._grades: dict[tuple[str, str], IcGrade] = {}

    def grade(self, key: tuple[str, str], run: Callable[[], IcGrade]) -> tuple[IcGrade, bool]:
        """The control's grade (and whether it was already known). Concurrent callers for one
        key wait for a single run; a control that gave no clean verdict is not kept."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._grades:
                return self._grades[key], True
            grade = run()
            if grade.outcome in ("passed", "failed"):
                self._grades[key] = grade
            return grade, False
