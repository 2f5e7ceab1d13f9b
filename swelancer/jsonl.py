"""A JSON-lines file read leniently: the objects on its lines, and how many lines were not one
(a transcript cut by a crash, or written by something else). A leaf both `report/` and
`monitor/` read transcripts through."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_objects(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects of `path`, one per line (blank lines skipped), and how many lines were
    damaged (not JSON, or JSON but not an object); ([], 0) when there is no such file."""
    if not path.is_file():
        return [], 0
    found: list[dict[str, Any]] = []
    damaged = 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError:
                damaged += 1
                continue
            if isinstance(value, dict):
                found.append(value)
            else:
                damaged += 1
    return found, damaged
