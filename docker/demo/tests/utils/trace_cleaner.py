"""Clean a user-tool trace so that it shows only what the user did and saw.

    from utils.trace_cleaner import trace_cleaner
    folder = trace_cleaner("/app/expensify/user_tool/output_<uuid hex>.zip")

The zip is unpacked into a folder of the same name without `.zip`, the zip is deleted, and
`trace.trace` is rewritten without the rows of the test's checks: every `before`, `log` and
`after` row of a call to an assertion (`LocatorAssertions.*` and the like: their parameters
hold the expected values, their results the verdict), and, as upstream's cleaner does, any
such row that mentions `LocatorAssertions` or `waiting for`. Everything else is kept as it
was, including `resources/src@*.txt` (the test's own source, which Playwright saves with
`sources=True`); removing those is the harness's job.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

CALL_ROWS = {"before", "log", "after"}
MARKERS = ("LocatorAssertions", "PageAssertions", "APIResponseAssertions", "waiting for")


def _is_check(row: dict[str, object]) -> bool:
    api = str(row.get("apiName", ""))
    return "Assertions." in api or api.startswith("expect") or row.get("method") == "expect"


def _call_id(row: dict[str, object]) -> object:
    snapshot = row.get("snapshot")
    if isinstance(snapshot, dict):
        return snapshot.get("callId")
    return row.get("callId")


def _unzip(archive_path: Path, folder: Path) -> None:
    with zipfile.ZipFile(archive_path) as archive:
        root = folder.resolve()
        for name in archive.namelist():
            target = (root / name).resolve()
            if target != root and root not in target.parents:
                raise ValueError(f"{archive_path}: member {name!r} would land outside {root}")
        archive.extractall(root)


def trace_cleaner(trace_path: str) -> str:
    """Unpack and clean the trace zip at `trace_path`; returns the folder it now lives in."""
    archive_path = Path(trace_path)
    folder = archive_path.with_suffix("")
    _unzip(archive_path, folder)
    archive_path.unlink()

    trace_file = folder / "trace.trace"
    if not trace_file.is_file():
        raise FileNotFoundError(f"{trace_file}: the trace has no trace.trace")
    rows = [
        json.loads(line)
        for line in trace_file.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    checks = {row.get("callId") for row in rows if row.get("type") == "before" and _is_check(row)}
    kept = []
    for row in rows:
        if _call_id(row) in checks:
            continue
        if row.get("type") in CALL_ROWS and any(m in json.dumps(row) for m in MARKERS):
            continue
        kept.append(row)
    trace_file.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in kept), encoding="utf-8"
    )
    return str(folder)
