"""`run.log`: plain, flushed lines of what a run showed, safe to print to a terminal."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from swelancer.textsafe import clean


class RunLog:
    """Plain lines appended to the run directory's `run.log`, each flushed at once. Lines written
    before a path is known are kept and written when `attach` gives one."""

    def __init__(self, path: Path | None) -> None:
        self.path: Path | None = None
        self._pending: list[str] = []
        self._handle: TextIO | None = None
        self._lock = threading.Lock()
        if path is not None:
            self.attach(path)

    def attach(self, path: Path) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
            path.parent.mkdir(parents=True, exist_ok=True)
            self.path = path
            self._handle = path.open("a", encoding="utf-8")
            for line in self._pending:
                self._handle.write(line + "\n")
            self._pending.clear()
            self._handle.flush()

    def write(self, line: str) -> None:
        with self._lock:
            if self._handle is None:
                self._pending.append(line)
                return
            self._handle.write(line + "\n")
            self._handle.flush()

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


def log_line(text: str) -> str:
    """Text as one line of `run.log` and of the plain display: cleaned of what a terminal acts
    on, with any newline in it shown as ⏎, so that no text can forge a line of its own."""
    return " ⏎ ".join(clean(text).splitlines())


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
