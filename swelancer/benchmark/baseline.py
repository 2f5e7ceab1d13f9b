"""The patch's base: the repository as the agent received it (after setup and the fresh
history), recorded before the agent's turn: which files it held (`git ls-files`) and the
content of those setup had changed from the image and of every `.gitignore`."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel

from swelancer.benchmark.reads import copy_all
from swelancer.benchmark.setup import BASE_LIST
from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.archive import CopyLimits

EXCLUDED_DIRS = ("user_tool",)
"""Folders of the repository never part of the patch: the user tool's traces."""


class Baseline(BaseModel):
    """The repository as the agent received it, kept on the host."""

    cwd: str
    tracked: list[str]
    """Paths (relative to `cwd`) of the files the fresh history committed."""
    store: Path
    """Host folder holding, at their relative paths, the files setup had changed from the
    image and every `.gitignore`."""
    stored: list[str]


def capture_baseline(
    sandbox, cwd: str, store: Path, changes: list[tuple[str, int]] | None = None
) -> Baseline:
    """Record the agent's starting point: the files the fresh history committed (its list in
    `BASE_LIST`; made here when missing) and the content of those setup changed. Must be
    called before the agent's turn (the container is still the harness's own); the caller
    deletes `BASE_LIST`. `changes`: the engine's list when already read after setup (one
    listing serves the attempt's other start checks)."""
    try:
        raw = sandbox.read_file(BASE_LIST, limit=200_000_000)
    except FileNotFoundError:
        raw = _list_tracked(sandbox, cwd)
    tracked = sorted({p for p in raw.decode("utf-8", "surrogateescape").split("\0") if p})
    tracked_set = set(tracked)
    listed = sandbox.changes() if changes is None else changes
    changed = {rel for rel in relative_changes(listed, cwd) if rel in tracked_set}
    keep = sorted(changed | {p for p in tracked if posixpath.basename(p) == ".gitignore"})
    store.mkdir(parents=True, exist_ok=True)
    _copy_files(sandbox, cwd, keep, store)
    return Baseline(cwd=cwd, tracked=tracked, store=store, stored=keep)


def _list_tracked(sandbox, cwd: str) -> bytes:
    listing = sandbox.exec(["sh", "-c", f"git ls-files -z > {BASE_LIST}"], workdir=cwd, timeout=600)
    if not listing.ok:
        raise InfraError(
            f"could not list the repository: {listing.output[-300:]}", kind=FaultKind.SETUP_FAILED
        )
    return sandbox.read_file(BASE_LIST, limit=200_000_000)


BASE_COPY = CopyLimits(max_file_bytes=2_000_000_000, max_total_bytes=2_000_000_000, max_entries=2)


def _copy_files(sandbox, cwd: str, paths: list[str], store: Path) -> None:
    """Copy files of the repository to `store`, each read through the engine (bounded,
    several at once): a link or a file past the caps cannot be kept whole, nor be a base."""
    copies = [(sandbox, f"{cwd}/{rel}", store / rel) for rel in paths]
    for rel, report in zip(paths, copy_all(copies, BASE_COPY), strict=True):
        if report is None or not report.complete:
            why = "it is missing" if report is None else report.note()
            raise InfraError(
                f"could not keep the starting file {rel}: {why}", kind=FaultKind.SETUP_FAILED
            )


def relative_changes(changes: Iterable[tuple[str, int]], cwd: str) -> dict[str, int]:
    """The changes under `cwd` (outside `.git` and the excluded folders), by relative path."""
    prefix = cwd.rstrip("/") + "/"
    out: dict[str, int] = {}
    for path, kind in changes:
        if not path.startswith(prefix):
            continue
        rel = path[len(prefix) :]
        top = rel.split("/", 1)[0]
        if not rel or top == ".git" or top in EXCLUDED_DIRS:
            continue
        out[rel] = kind
    return out
