"""The patch's base: the repository as the agent received it (after setup and the fresh
history, which commits the files setup left untracked too), recorded before the agent's turn:
which files it held (`git ls-files`), the content of those setup had changed from the image
and of every `.gitignore`, and what the engine listed as setup's changes then, with each
entry's mark where the listing was read from the container's layers.

A container set up cold lists every file setup wrote as changed, one from the task's
snapshot lists none of them: the patch counts a path only when it changed since this record
(`since_start`), so the same change gives the same patch either way."""

from __future__ import annotations

import filecmp
import posixpath
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel

from swelancer.benchmark.reads import copy_all
from swelancer.benchmark.setup import BASE_LIST
from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.archive import CopyLimits, extract

EXCLUDED_DIRS = ("user_tool",)
"""Folders of the repository never part of the patch: the user tool's traces."""


class PatchBase(BaseModel):
    """The repository as the agent received it, kept on the host."""

    cwd: str
    tracked: list[str]
    """Paths (relative to `cwd`) of the files the fresh history committed."""
    store: Path
    """Host folder holding, at their relative paths, the files setup had changed from the
    image and every `.gitignore`."""
    stored: list[str]
    start: dict[str, int] = {}
    """What the engine listed under `cwd` when the agent got the container (setup's changes
    since the container's image), by relative path: (kind)."""
    marks: dict[str, tuple[int, ...]] | None = None
    """The mark of each entry of that listing (by relative path) where it was read from the
    container's layers (`sandbox.changes.ChangeList.marks`); None otherwise."""


def capture_patch_base(
    sandbox, cwd: str, store: Path, changes: Sequence[tuple[str, int]] | None = None
) -> PatchBase:
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
    start = relative_changes(listed, cwd)
    changed = {rel for rel in start if rel in tracked_set}
    keep = sorted(changed | {p for p in tracked if posixpath.basename(p) == ".gitignore"})
    store.mkdir(parents=True, exist_ok=True)
    _copy_files(sandbox, cwd, keep, store)
    marks = relative_marks(listed, cwd)
    # built without validation: its lists may hold every file setup wrote (100,000 or more)
    return PatchBase.model_construct(
        cwd=cwd, tracked=tracked, store=store, stored=keep, start=start, marks=marks
    )


def _list_tracked(sandbox, cwd: str) -> bytes:
    listing = sandbox.exec(["sh", "-c", f"git ls-files -z > {BASE_LIST}"], workdir=cwd, timeout=600)
    if not listing.ok:
        raise InfraError(
            f"could not list the repository: {listing.output[-300:]}", kind=FaultKind.SETUP_FAILED
        )
    return sandbox.read_file(BASE_LIST, limit=200_000_000)


BASE_COPY = CopyLimits(max_file_bytes=2_000_000_000, max_total_bytes=2_000_000_000, max_entries=2)
BATCH_AT = 64
"""From this many files on, they are copied as one archive made in the container (one read
through the engine instead of one each: 5,500 files took minutes one by one)."""
BATCH_DIR = "/tmp/.swelancer-base"
"""The container's scratch folder for that archive and its list of names, removed at once."""
BATCH_COPY = CopyLimits(max_file_bytes=4_000_000_000, max_total_bytes=4_000_000_000, max_entries=2)
"""The archive itself; each file in it is bounded as `BASE_COPY` bounds it."""


def _copy_files(sandbox, cwd: str, paths: list[str], store: Path) -> None:
    """Copy files of the repository to `store`, read through the engine (bounded): many as one
    archive, else each on its own, several at once. A link or a file past the caps cannot be
    kept whole, nor be a base."""
    if len(paths) >= BATCH_AT and _copy_as_one(sandbox, cwd, paths, store):
        return
    copies = [(sandbox, f"{cwd}/{rel}", store / rel) for rel in paths]
    for rel, report in zip(paths, copy_all(copies, BASE_COPY), strict=True):
        if report is None or not report.complete:
            why = "it is missing" if report is None else report.note()
            raise InfraError(
                f"could not keep the starting file {rel}: {why}", kind=FaultKind.SETUP_FAILED
            )


def _copy_as_one(sandbox, cwd: str, paths: list[str], store: Path) -> bool:
    """Copy `paths` as one tar archive the image's own `tar` makes in the container (still the
    harness's own: before the agent's turn), extracted on the host as any copy is (inert,
    bounded), keeping only the members asked for. False, with nothing kept, when that could
    not give every file whole (no tar, a link, a missing file): the caller copies them one by
    one, which says which file and why."""
    names = "\0".join(paths).encode("utf-8", "surrogateescape") + b"\0"
    archive, listed = f"{BATCH_DIR}/base.tar", f"{BATCH_DIR}/names"
    made = sandbox.exec(["mkdir", "-m", "700", BATCH_DIR], timeout=60)
    if not made.ok:
        return False
    try:
        sandbox.write_file(listed, names, mode=0o600)
        packed = sandbox.exec(
            ["tar", "-cf", archive, "--hard-dereference", "--no-recursion", "--null", "-T",
             listed],
            workdir=cwd, timeout=1800,
        )  # fmt: skip
        if not packed.ok:
            return False
        with tempfile.TemporaryDirectory(prefix="swelancer-base-") as scratch:
            local = Path(scratch) / "base.tar"
            report = sandbox.copy_out(archive, local, BATCH_COPY)
            if not report.complete or report.files != 1:
                return False
            kept = _extract_asked(local, set(paths), store)
        if kept == len(paths):
            return True
        shutil.rmtree(store, ignore_errors=True)
        store.mkdir(parents=True)
        return False
    finally:
        sandbox.exec(["rm", "-rf", BATCH_DIR], timeout=60)


def _extract_asked(archive: Path, asked: set[str], store: Path) -> int:
    """Write the regular files of `archive` named in `asked` under `store`, by the inert,
    bounded extraction of any copy; how many were written whole (-1 when any member asked
    for is not a whole regular file)."""
    with tarfile.open(archive, mode="r:") as tar:
        members = [m for m in tar if m.name in asked]
        if any(not m.isfile() for m in members) or len(members) != len(asked):
            return -1
        top = store.name
        for member in members:
            member.name = f"{top}/{member.name}"
        whole = {"max_entries": len(members) + 1, "max_total_bytes": BATCH_COPY.max_total_bytes}
        limits = BASE_COPY.model_copy(update=whole)
        report = extract(members, tar, store, top, limits)
    return report.files if report.complete else -1


def relative_changes(changes: Iterable[tuple[str, int]], cwd: str) -> dict[str, int]:
    """The changes under `cwd` (outside `.git` and the excluded folders), by relative path."""
    prefix = cwd.rstrip("/") + "/"
    out: dict[str, int] = {}
    for path, kind in changes:
        rel = _relative(path, prefix)
        if rel is not None:
            out[rel] = kind
    return out


def relative_marks(listing: object, cwd: str) -> dict[str, tuple[int, ...]] | None:
    """The marks of a listing (`ChangeList.marks`) under `cwd`, as `relative_changes` keeps
    paths; None when the listing has none (the engine's own)."""
    marks = getattr(listing, "marks", None)
    if marks is None:
        return None
    prefix = cwd.rstrip("/") + "/"
    out: dict[str, tuple[int, ...]] = {}
    for path, mark in marks.items():
        rel = _relative(path, prefix)
        if rel is not None:
            out[rel] = mark
    return out


def _relative(path: str, prefix: str) -> str | None:
    if not path.startswith(prefix):
        return None
    rel = path[len(prefix) :]
    top = rel.split("/", 1)[0]
    if not rel or top == ".git" or top in EXCLUDED_DIRS:
        return None
    return rel


def since_start(
    patch_base: PatchBase, now: dict[str, int], marks: dict[str, tuple[int, ...]] | None
) -> tuple[dict[str, int], list[str]]:
    """Which paths may differ from the repository the agent received: ({path: kind now, -1
    when the engine no longer lists it}, the stored paths to compare by content). A path
    the engine listed at the start too is left out when both listings hold the same mark
    for it (nothing wrote it since); one setup wrote that is listed no more (deleted, in a
    container set up cold) is in; without marks a stored path is compared by content."""
    start, before = patch_base.start, patch_base.marks
    stored = set(patch_base.stored)
    out: dict[str, int] = {}
    compare: list[str] = []
    for path in now.keys() | start.keys():
        kind = now.get(path, -1)
        if path in start:
            mark = before.get(path) if before is not None and marks is not None else None
            same = mark is not None and marks is not None and mark == marks.get(path)
            if same and kind == start[path]:
                continue
            if mark is None and path in stored:
                compare.append(path)
                continue
        out[path] = kind
    return out, sorted(compare)


def same_content(sandbox, patch_base: PatchBase, paths: list[str], into: Path) -> set[str]:
    """Which of `paths` (stored ones) the sandbox still holds as a regular file with the
    content it had at the start, read through the engine (bounded by the largest stored
    copy: a file grown past it differs)."""
    kept = {rel: patch_base.store / rel for rel in paths}
    kept = {rel: f for rel, f in kept.items() if f.is_file() and not f.is_symlink()}
    if not kept:
        return set()
    into.mkdir(parents=True, exist_ok=True)
    largest = max(1, *(f.stat().st_size for f in kept.values()))
    limits = CopyLimits(max_file_bytes=largest, max_total_bytes=largest, max_entries=2)
    rels = sorted(kept)
    copies = [(sandbox, f"{patch_base.cwd}/{rel}", into / str(n)) for n, rel in enumerate(rels)]
    same: set[str] = set()
    for n, (rel, report) in enumerate(zip(rels, copy_all(copies, limits), strict=True)):
        now = into / str(n)
        if report is None or not report.complete or not now.is_file() or now.is_symlink():
            continue
        if filecmp.cmp(kept[rel], now, shallow=False):
            same.add(rel)
    return same
