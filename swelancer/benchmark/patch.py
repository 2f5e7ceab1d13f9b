"""The agent's change as a patch, computed on the host from data the agent cannot steer.

Nothing runs inside the agent's container once its turn has begun: the engine says which paths
changed since the container started (`docker diff`), their contents are read through the
engine's archive API, and the patch is made by the host's own git with no configuration,
attributes, hooks or filters of the repository in play. So a `filter.*.clean` in `.git/config`,
a replaced `git` or `sh`, or a deleted `.git` neither runs code nor hides the change.

The base is the repository as the agent received it (after setup and the fresh history):
`capture_baseline` records, before the agent's turn, which files it held (`git ls-files`) and
the content of those setup had changed from the image; unchanged files are read later from a
container created (never started) from the same image.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel

from swelancer.benchmark.reads import copy_all
from swelancer.benchmark.setup import BASE_LIST
from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.archive import CopyLimits, CopyReport

DIFF_TREE = ("diff-tree", "-p", "--binary", "--full-index", "--no-renames", "--no-ext-diff",
             "--no-textconv")  # fmt: skip
EXCLUDED_DIRS = ("user_tool",)
"""Folders of the repository never part of the patch: the user tool's traces."""


class PatchTooLarge(Exception):
    """The change exceeds the caps: a failure of the attempt, with this reason."""


class PatchUnreadable(Exception):
    """The engine could not list or read what the agent left (e.g. a path past the system's
    limits): a control decides whether that is the agent's doing."""


class FileReader(Protocol):
    """Where the patch reads the files of one side: bounded copies out."""

    name: str

    def copy_out(self, src: str, dest: Path, limits: CopyLimits | None = None) -> CopyReport: ...


class FileSource(FileReader, Protocol):
    """What the patch needs of the agent's sandbox: the engine's change list and its files."""

    def changes(self) -> list[tuple[str, int]]: ...


class PatchLimits(BaseModel):
    max_files: int = 5_000
    max_file_bytes: int = 20_000_000
    max_patch_bytes: int = 50_000_000


class Baseline(BaseModel):
    """The repository as the agent received it, kept on the host."""

    cwd: str
    tracked: list[str]
    """Paths (relative to `cwd`) of the files the fresh history committed."""
    store: Path
    """Host folder holding, at their relative paths, the files setup had changed from the
    image and every `.gitignore`."""
    stored: list[str]


def _git(
    args: list[str], cwd: Path, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> bytes:
    """The host's git, with no system or user configuration, no hooks and no fsmonitor."""
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
        **(env or {}),
    }
    base = ["git", "-c", "core.hooksPath=" + os.devnull, "-c", "core.fsmonitor=false"]
    try:
        done = subprocess.run(
            [*base, *args], cwd=cwd, input=stdin, capture_output=True, env=full_env, timeout=600
        )
    except FileNotFoundError:
        raise InfraError(
            "git is not installed on this machine; the harness needs it to compute patches "
            "(install git, then run again).",
            kind=FaultKind.HOST_GIT,
            retryable=False,
        ) from None
    if done.returncode != 0:
        raise _GitFailed(done.returncode, done.stderr.decode("utf-8", "replace")[-500:], args)
    return done.stdout


class _GitFailed(InfraError):
    def __init__(self, code: int, stderr: str, args: list[str]) -> None:
        self.code = code
        super().__init__(
            f"git {' '.join(args[:3])} failed on the host: {stderr}", kind=FaultKind.HOST_GIT
        )


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
    changed = {rel for rel in _relative_changes(listed, cwd) if rel in tracked_set}
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


def _relative_changes(changes: Iterable[tuple[str, int]], cwd: str) -> dict[str, int]:
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


class _Side(BaseModel):
    """One side of a path in the patch: absent, or a blob of a mode."""

    mode: str | None = None
    sha: str | None = None


def compute_patch(
    sandbox: FileSource,
    reference: FileReader,
    baseline: Baseline,
    workdir: Path,
    limits: PatchLimits | None = None,
    changes: list[tuple[str, int]] | None = None,
) -> str:
    """The agent's change in `sandbox` since `baseline`, as a binary git patch (a/ b/ paths
    relative to the repository). `reference` is a container of the same image, never
    started, for files setup did not touch; `changes`, the engine's list when already read.
    Raises `PatchTooLarge` past the caps, `PatchUnreadable` when the engine cannot read it."""
    try:
        return _compute(sandbox, reference, baseline, workdir, limits or PatchLimits(), changes)
    except InfraError as exc:
        if exc.kind == "host_git":  # this machine's fault, not the container's
            raise
        raise PatchUnreadable(str(exc)) from exc


def _compute(sandbox, reference, baseline, workdir, limits, changes) -> str:
    cwd = baseline.cwd
    changes = _relative_changes(sandbox.changes() if changes is None else changes, cwd)
    tracked = set(baseline.tracked)
    stored = set(baseline.stored)
    candidates = _expand_deleted_dirs(changes, baseline.tracked)
    repo = workdir / "git"
    repo.mkdir(parents=True)
    _git(["init", "-q", "--bare", str(repo)], workdir)
    new_paths = sorted(p for p in candidates if p not in tracked)
    ignored = _ignored(new_paths, baseline, workdir)
    paths = sorted(p for p in candidates if p in tracked or p not in ignored)
    if len(paths) > limits.max_files:
        raise PatchTooLarge(
            f"the change touches {len(paths):,} files, more than the {limits.max_files:,} a "
            "patch may hold"
        )
    base_from_image = [p for p in paths if p in tracked and p not in stored]
    current, base = _read_sides(
        [(sandbox, paths, workdir / "now"), (reference, base_from_image, workdir / "image")],
        cwd,
        limits,
    )
    for p in paths:
        if p in stored:
            base[p] = _host_blob(baseline.store / p)
        elif p not in tracked:
            base[p] = None
    before, after = [], []
    for p in paths:
        old, new = base.get(p), current.get(p)
        if old is not None:
            before.append((old[0], old[1], p))
        if new is not None:
            # a mode change alone is ignored, as upstream's diff (core.fileMode=false) does
            mode = old[0] if old is not None and new[0] != "120000" else new[0]
            after.append((mode, new[1], p))
    if not before and not after:
        return ""
    blobs = [(m, path, p) for m, path, p in before + after]
    shas = _hash(repo, [b[1] for b in blobs])
    sha_of = dict(zip([b[1] for b in blobs], shas, strict=True))
    old_tree = _tree(repo, [(m, sha_of[src], p) for m, src, p in before], "old")
    new_tree = _tree(repo, [(m, sha_of[src], p) for m, src, p in after], "new")
    patch = _git(["--git-dir", str(repo), *DIFF_TREE, old_tree, new_tree], workdir)
    if len(patch) > limits.max_patch_bytes:
        raise PatchTooLarge(
            f"the patch holds {len(patch):,} bytes, more than the {limits.max_patch_bytes:,} "
            "allowed"
        )
    return patch.decode("utf-8", "surrogateescape")


def _expand_deleted_dirs(changes: dict[str, int], tracked: list[str]) -> set[str]:
    """Every candidate path: files the engine lists, and for a deleted folder the tracked
    files that were under it (the engine lists the folder only)."""
    out = set(changes)
    deleted = [p for p, kind in changes.items() if kind == 2]
    for folder in deleted:
        prefix = folder + "/"
        out.update(p for p in tracked if p.startswith(prefix))
    return out


def _ignored(paths: list[str], baseline: Baseline, workdir: Path) -> set[str]:
    """Which new paths the starting `.gitignore` rules ignore (rules the agent added are not
    used: a change cannot hide from the patch by ignoring itself)."""
    if not paths:
        return set()
    tree = workdir / "ignore"
    tree.mkdir()
    for rel in baseline.stored:
        if posixpath.basename(rel) == ".gitignore":
            target = tree / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                shutil.copyfile(baseline.store / rel, target)
    _git(["init", "-q", str(tree)], workdir)
    query = "\0".join(paths).encode("utf-8", "surrogateescape") + b"\0"
    try:
        out = _git(["-C", str(tree), "check-ignore", "--no-index", "-z", "--stdin"], workdir, query)
    except _GitFailed as exc:
        if exc.code == 1:
            return set()  # nothing is ignored
        raise
    return {p for p in out.decode("utf-8", "surrogateescape").split("\0") if p}


def _read_sides(
    sides: list[tuple[FileReader, list[str], Path]], cwd: str, limits: PatchLimits
) -> list[dict[str, tuple[str, Path] | None]]:
    """For each (source, paths, folder): (mode, host file) of each path as `source` holds it;
    None for a path it lacks or that is a folder. Files are read through the engine, bounded,
    several at once (`reads.copy_all`)."""
    copy = CopyLimits(
        max_file_bytes=limits.max_file_bytes, max_total_bytes=limits.max_patch_bytes, max_entries=2
    )
    copies = []
    for source, paths, into in sides:
        into.mkdir(parents=True)
        copies += [(source, f"{cwd}/{rel}", into / str(n)) for n, rel in enumerate(paths)]
    reports = iter(copy_all(copies, copy))
    out: list[dict[str, tuple[str, Path] | None]] = []
    for _source, paths, into in sides:
        side: dict[str, tuple[str, Path] | None] = {}
        for n, rel in enumerate(paths):
            report = next(reports)
            side[rel] = None if report is None else _side(report, into / str(n), rel, limits)
        out.append(side)
    return out


def _side(report: CopyReport, dest: Path, rel: str, limits: PatchLimits):
    """(mode, host file holding the blob) of one copied entry; None for a folder or other."""
    if report.truncated:
        raise PatchTooLarge(
            f"{rel} is larger than the {limits.max_file_bytes:,} bytes a file may be"
        )
    if dest.is_file() and not dest.is_symlink():
        return ("100755" if os.stat(dest).st_mode & 0o111 else "100644"), dest
    if "" in report.links:  # the entry itself is a link: its blob is where it points
        holder = dest.with_name(dest.name + ".link")
        holder.write_bytes(report.links[""].encode("utf-8", "surrogateescape"))
        return "120000", holder
    return None


def _host_blob(path: Path) -> tuple[str, Path] | None:
    if not path.is_file() or path.is_symlink():
        return None
    return ("100755" if os.stat(path).st_mode & 0o111 else "100644"), path


def _hash(repo: Path, files: list[Path]) -> list[str]:
    listing = "\n".join(str(f) for f in files).encode() + b"\n"
    out = _git(
        ["--git-dir", str(repo), "hash-object", "-w", "--no-filters", "--stdin-paths"],
        repo.parent,
        listing,
    )
    return out.decode().split()


def _tree(repo: Path, entries: list[tuple[str, str, str]], name: str) -> str:
    """A tree object of `entries` (mode, blob, path), built in an index of its own."""
    index = repo.parent / f"index-{name}"
    info = "".join(f"{mode} {sha}\t{path}\0" for mode, sha, path in entries)
    env = {"GIT_INDEX_FILE": str(index)}
    git_dir = ["--git-dir", str(repo)]
    _git(
        [*git_dir, "update-index", "-z", "--index-info"],
        repo.parent,
        info.encode("utf-8", "surrogateescape"),
        env,
    )
    return _git([*git_dir, "write-tree"], repo.parent, None, env).decode().strip()


def apply_patch(sandbox, cwd: str, patch: str) -> str | None:
    """Apply an agent's patch in a fresh sandbox (before any agent code runs there); None when
    it applied, else git's complaint."""
    if not patch.strip():
        return None
    sandbox.write_file("/tmp/.swelancer.patch", patch.encode("utf-8", "surrogateescape"))
    result = sandbox.exec(
        [
            "sh",
            "-c",
            "git apply --binary --whitespace=nowarn /tmp/.swelancer.patch; code=$?; "
            "rm -f /tmp/.swelancer.patch; exit $code",
        ],
        workdir=cwd,
        timeout=600,
    )
    return None if result.ok else result.output.strip()[-1000:]
