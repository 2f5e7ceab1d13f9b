"""Extract a tar stream that came out of a sandbox onto the host, bounded and inert.

What a container hands back is written by whoever controls it (the agent, or the app it
wrote). Only regular files and folders are made; links, devices, FIFOs and anything else are
never created on the host but listed in the report; names are checked to stay under the
destination and within sane lengths; modes are reduced to 0644/0755; and sizes are capped per
file and per copy while the stream is read, so that a sparse 3 GB file or a million small
ones cost no more than the caps. Nothing is read whole into memory.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field

CHUNK = 1 << 20
MAX_NAME = 255
MAX_PATH = 1024
MAX_DEPTH = 64


class CopyLimits(BaseModel):
    """Caps of one copy out of a sandbox."""

    max_file_bytes: int = 50_000_000
    max_total_bytes: int = 500_000_000
    max_entries: int = 100_000
    tail_bytes: int = 0
    """Of a file past its cap, keep this many of its last bytes after its first
    `cap - tail_bytes` (what a log ends with is what says how it ended); the whole file is
    streamed through, never held."""


class CopyReport(BaseModel):
    """What one copy wrote, and what it left out and why."""

    files: int = 0
    folders: int = 0
    bytes: int = 0
    skipped: list[str] = Field(default_factory=list)
    """One line per entry not made: `path: why` (a link shows where it pointed)."""
    truncated: list[str] = Field(default_factory=list)
    """Files cut at the per-file cap."""
    links: dict[str, str] = Field(default_factory=dict)
    """Symbolic links found (path inside the copy: where it points), none of them made."""
    stopped: str | None = None
    """Why the copy stopped before the end of the stream (a cap of the whole copy)."""

    @property
    def complete(self) -> bool:
        return not (self.skipped or self.truncated or self.stopped)

    def note(self, limit: int = 20) -> str:
        """A short text of what was left out, for a log or the model."""
        lines = [*self.skipped, *(f"{p}: cut at the size cap" for p in self.truncated)]
        if self.stopped:
            lines.append(self.stopped)
        more = f"\n... and {len(lines) - limit} more" if len(lines) > limit else ""
        return "\n".join(lines[:limit]) + more


def _safe_name(name: str) -> str | None:
    """`name` as a relative POSIX path inside the archive, or None when it is not one."""
    if not name or "\x00" in name or name.startswith("/"):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    # a name that is not UTF-8 comes as tarfile decodes it (surrogates): counted as its bytes
    if not parts or any(p == ".." or len(os.fsencode(p)) > MAX_NAME for p in parts):
        return None
    joined = "/".join(parts)
    if len(os.fsencode(joined)) > MAX_PATH or len(parts) > MAX_DEPTH:
        return None
    return joined


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"a link to {member.linkname[:200]!r}"
    if member.islnk():
        return f"a hard link to {member.linkname[:200]!r}"
    if member.ischr() or member.isblk():
        return "a device"
    if member.isfifo():
        return "a FIFO"
    return "not a regular file or folder"


class _Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class MemberFiles(Protocol):
    """Where `extract` reads the contents of members from: a streamed `tarfile.TarFile`, or
    entries read on the host (`HostTar`)."""

    def extractfile(self, member: tarfile.TarInfo) -> _Readable | None: ...


def extract(
    members: Iterable[tarfile.TarInfo],
    tar: MemberFiles,
    dest: Path,
    top: str,
    limits: CopyLimits,
) -> CopyReport:
    """Write the members of a streamed archive whose top entry is `top` to `dest` (the path
    `top` gets). `dest` must not exist yet; its parent is created."""
    report = CopyReport()
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    root = Path(os.path.realpath(dest.parent)) / dest.name
    entries = 0
    for member in members:
        entries += 1
        if entries > limits.max_entries:
            report.stopped = f"more than {limits.max_entries:,} entries: the rest was left out"
            break
        name = _safe_name(member.name)
        inside = _relative_to_top(name, top) if name is not None else None
        shown = (member.name or "?")[:300]
        if inside is None:
            report.skipped.append(f"{shown}: a name outside the copied folder or too long")
            continue
        target = root / inside if inside else root
        if not _parents_are_folders(root, target):
            report.skipped.append(f"{shown}: its folder could not be made")
            continue
        if member.isdir():
            with contextlib.suppress(FileExistsError):
                target.mkdir(mode=0o755)
            if target.is_dir() and not target.is_symlink():
                report.folders += 1
            else:
                report.skipped.append(f"{shown}: a folder where a file was")
            continue
        if not member.isfile():
            if member.issym():
                report.links[inside] = member.linkname[:4096]
            report.skipped.append(f"{shown}: {_kind(member)}")
            continue
        room = limits.max_total_bytes - report.bytes
        if room <= 0:
            report.stopped = f"the copy reached its cap of {limits.max_total_bytes:,} bytes"
            break
        cap = min(limits.max_file_bytes, room)
        written = _write_file(tar, member, target, cap, min(limits.tail_bytes, cap))
        if written is None:
            report.skipped.append(f"{shown}: a file where a folder was")
            continue
        report.files += 1
        report.bytes += written
        if member.size > cap:
            report.truncated.append(shown)
    return report


def _relative_to_top(name: str, top: str) -> str | None:
    if name == top:
        return ""
    if name.startswith(top + "/"):
        return name[len(top) + 1 :]
    return None


def _parents_are_folders(root: Path, target: Path) -> bool:
    """Make the folders from `root` down to `target`'s parent, refusing any that is a link or
    a file (the archive may list a link and then files 'inside' it)."""
    current = root.parent
    for part in target.parent.relative_to(root.parent).parts:
        current = current / part
        if current.is_symlink():
            return False
        if not current.exists():
            current.mkdir(mode=0o755)
        elif not current.is_dir():
            return False
    return True


def _write_file(
    tar: MemberFiles, member: tarfile.TarInfo, target: Path, cap: int, tail: int = 0
) -> int | None:
    """Stream one member to `target`, at most `cap` bytes; None when `target` is a folder. A
    member past `cap` keeps its first `cap - tail` bytes and its last `tail`."""
    mode = 0o755 if member.mode & 0o111 else 0o644
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags, mode)
    except IsADirectoryError:
        return None
    head = cap - tail if member.size > cap else cap
    written = 0
    try:
        handle = tar.extractfile(member)
        while handle is not None and written < head:
            chunk = handle.read(min(CHUNK, head - written))
            if not chunk:
                break
            os.write(fd, chunk)
            written += len(chunk)
        if handle is not None and member.size > cap and tail > 0:
            last = _last_bytes(handle, tail)
            os.write(fd, last)
            written += len(last)
    finally:
        os.close(fd)
    os.chmod(target, mode)
    return written


def _last_bytes(handle: _Readable, keep: int) -> bytes:
    """The last `keep` bytes of what is left in `handle`, read through in chunks."""
    kept = bytearray()
    while chunk := handle.read(CHUNK):
        kept += chunk
        if len(kept) > keep:
            del kept[: len(kept) - keep]
    return bytes(kept)


def top_name(path: str) -> str:
    """The name Docker gives the top entry of an archive of `path`."""
    return posixpath.basename(posixpath.normpath(path)) or "/"
