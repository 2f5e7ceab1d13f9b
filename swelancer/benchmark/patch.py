"""The agent's change as a patch, computed on the host from data the agent cannot steer.

Nothing runs inside the agent's container once its turn has begun: the engine says which paths
changed since the container started (`docker diff`), their contents are read through the
engine's archive API, and the patch is made by the host's own git with no configuration,
attributes, hooks or filters of the repository in play. So a `filter.*.clean` in `.git/config`,
a replaced `git` or `sh`, or a deleted `.git` neither runs code nor hides the change.

The base is the repository as the agent received it (`benchmark.patch_base`), the files setup
left untracked included; a path counts only when it changed since then (the engine lists all
setup wrote in a container set up cold, none of it in one from the task's snapshot). Files
setup did not change are read from the image (its layers on this host, or a container of it
that never starts).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel

from swelancer.benchmark.patch_base import (
    PatchBase,
    relative_changes,
    relative_marks,
    same_content,
    since_start,
)
from swelancer.benchmark.reads import copy_all
from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.archive import CopyLimits, CopyReport

DIFF_TREE = ("diff-tree", "-p", "--binary", "--full-index", "--no-renames", "--no-ext-diff",
             "--no-textconv")  # fmt: skip


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

    def changes(self) -> Sequence[tuple[str, int]]: ...


class PatchLimits(BaseModel):
    max_files: int = 5_000
    max_file_bytes: int = 20_000_000
    max_patch_bytes: int = 50_000_000


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


@contextlib.contextmanager
def _unreadable() -> Iterator[None]:
    try:
        yield
    except InfraError as exc:
        if exc.kind == "host_git":  # this machine's fault, not the container's
            raise
        raise PatchUnreadable(str(exc)) from exc


class ReadChange:
    """Both sides of the agent's change, read into host files: `patch()` makes the patch from
    them on the host alone, so it may run while the container does something else."""

    def __init__(self, workdir: Path, limits: PatchLimits, before: list, after: list) -> None:
        self.workdir, self.limits, self.before, self.after = workdir, limits, before, after

    def patch(self) -> str:
        """The patch; the host files it was made from are deleted."""
        try:
            with _unreadable():
                return self._patch()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _patch(self) -> str:
        before, after, workdir = self.before, self.after, self.workdir
        if not before and not after:
            return ""
        repo = workdir / "git"
        repo.mkdir(parents=True)
        _git(["init", "-q", "--bare", str(repo)], workdir)
        blobs = [(m, path, p) for m, path, p in before + after]
        shas = _hash(repo, [b[1] for b in blobs])
        sha_of = dict(zip([b[1] for b in blobs], shas, strict=True))
        old_tree = _tree(repo, [(m, sha_of[src], p) for m, src, p in before], "old")
        new_tree = _tree(repo, [(m, sha_of[src], p) for m, src, p in after], "new")
        patch = _git(["--git-dir", str(repo), *DIFF_TREE, old_tree, new_tree], workdir)
        if len(patch) > self.limits.max_patch_bytes:
            raise PatchTooLarge(
                f"the patch holds {len(patch):,} bytes, more than the "
                f"{self.limits.max_patch_bytes:,} allowed"
            )
        return patch.decode("utf-8", "surrogateescape")


def read_change(
    sandbox: FileSource,
    reference: FileReader,
    patch_base: PatchBase,
    workdir: Path,
    limits: PatchLimits | None = None,
    changes: Sequence[tuple[str, int]] | None = None,
) -> ReadChange:
    """The agent's change in `sandbox` since `patch_base`, its files read now; `patch()` makes
    it a binary git patch (a/ b/ paths relative to the repository). `reference` holds the
    image's files (a container of it that never started, or its layers), for files setup did
    not touch; `changes`, the engine's list when already read. Raises `PatchTooLarge` past
    the caps, `PatchUnreadable` when the engine cannot read it."""
    with _unreadable():
        return _read(sandbox, reference, patch_base, workdir, limits or PatchLimits(), changes)


def _read(sandbox, reference, patch_base, workdir, limits, changes) -> ReadChange:
    workdir.mkdir(parents=True, exist_ok=True)
    cwd = patch_base.cwd
    listing = sandbox.changes() if changes is None else changes
    touched, compare = since_start(
        patch_base, relative_changes(listing, cwd), relative_marks(listing, cwd)
    )
    if compare:  # no marks to tell: what is as it was is no change
        same = same_content(sandbox, patch_base, compare, workdir / "same")
        touched.update((p, 0) for p in compare if p not in same)
    tracked = set(patch_base.tracked)
    stored = set(patch_base.stored)
    candidates = _expand_deleted_dirs(touched, patch_base.tracked)
    new_paths = sorted(p for p in candidates if p not in tracked)
    ignored = _ignored(new_paths, patch_base, workdir)
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
            base[p] = _host_blob(patch_base.store / p)
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
    return ReadChange(workdir, limits, before, after)


def _expand_deleted_dirs(changes: dict[str, int], tracked: list[str]) -> set[str]:
    """Every candidate path: the paths changed since the start, and for a deleted folder the
    tracked files that were under it (the engine lists the folder only)."""
    out = set(changes)
    deleted = [p for p, kind in changes.items() if kind == 2]
    for folder in deleted:
        prefix = folder + "/"
        out.update(p for p in tracked if p.startswith(prefix))
    return out


def _ignored(paths: list[str], patch_base: PatchBase, workdir: Path) -> set[str]:
    """Which new paths the starting `.gitignore` rules ignore (rules the agent added are not
    used: a change cannot hide from the patch by ignoring itself)."""
    if not paths:
        return set()
    tree = workdir / "ignore"
    tree.mkdir()
    for rel in patch_base.stored:
        if posixpath.basename(rel) == ".gitignore":
            target = tree / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                shutil.copyfile(patch_base.store / rel, target)
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
