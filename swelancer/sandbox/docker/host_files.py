"""A running container's files read on this host, from its overlay2 merged directory.

Each call of the engine's archive API costs about 50 ms (the engine re-executes itself to tar
the path in a chroot), and an attempt reads some twenty files and folders that way. Where the
engine runs on this host with overlay2 and this process is root, a running container's
filesystem is mounted at its merged directory: its files are read there instead, and handed
to the same bounded, inert extraction (`sandbox.archive.extract`) as the engine's archive,
entry for entry as the engine would list them (lexical order, hard links after their first
name, sockets left out).

The container may be the agent's, and its processes may still run: every path is opened by
directory descriptors that never follow a link, a file is opened without side effects first
(`O_PATH`) and reopened only once it is known to be a regular file, and walks are bounded in
depth and in entries. What the merged directory does not show, or shows differently, is never
read here: paths at, under or above the container's mounts (`/proc`, `/dev`, `/etc/hosts`,
volumes), paths through a link (the engine resolves those inside the container), a container
that is not running. Any of these, or any surprise, raises `NotHosted`, and the caller asks
the engine.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

ENGINE_MOUNTS = ("/proc", "/sys", "/dev", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf",
                 "/sbin/docker-init")  # fmt: skip
"""What the engine mounts into every container (`--init` included): not in its layers."""
MAX_DEPTH = 200
MAX_NAMES = 2_000_000
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK


class NotHosted(Exception):
    """This path of this container cannot be read here: ask the engine."""


@dataclass(frozen=True)
class Link:
    """The path read is a symbolic link; where it points."""

    target: str


@dataclass(frozen=True)
class HostRoot:
    """Where a container's filesystem is mounted on this host, and what it does not show."""

    merged: str
    mounts: tuple[str, ...]

    def shows(self, path: str) -> bool:
        """Whether `path` (absolute, normalized) and everything under it are in the layers."""
        if path == "/":
            return False
        return not any(
            path == m or path.startswith(m + "/") or m.startswith(path + "/") for m in self.mounts
        )

    @contextlib.contextmanager
    def folder_of(self, path: str) -> Iterator[tuple[int, str]]:
        """A descriptor of the folder holding `path`, and its last name. `FileNotFoundError`
        when a folder on the way is missing; `NotHosted` when one is a link or not a folder,
        or when the container's filesystem is not mounted here now."""
        if not self.shows(path):
            raise NotHosted(f"{path} is at or near a mount of the container")
        *folders, name = path.strip("/").split("/")
        fd = _open_root(self.merged)
        try:
            for part in folders:
                held, fd = fd, -1
                fd = _step(held, part)
            yield fd, name
        finally:
            if fd >= 0:
                os.close(fd)

    def read(self, path: str, limit: int | None) -> bytes | Link | int:
        """The bytes of the file `path`, a `Link`, or (when it holds more than `limit` bytes)
        its size. `FileNotFoundError` / `IsADirectoryError` as the engine's archive says."""
        with self.folder_of(path) as (folder, name):
            st = lstat_at(folder, name)
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(path)
            if stat.S_ISLNK(st.st_mode):
                return Link(_readlink(folder, name))
            fd, st = _open_regular(folder, name)
            if fd is None:
                raise FileNotFoundError(f"{path} is not a regular file")
            try:
                if limit is not None and st.st_size > limit:
                    return st.st_size
                return _read_fd(fd, st.st_size)
            finally:
                os.close(fd)

    def members(self, path: str) -> Iterator[tuple[tarfile.TarInfo, int | None]]:
        """The entries of the engine's archive of `path`, each with a descriptor of its content
        (regular files only; valid until the next entry is asked for)."""
        seen: dict[int, str] = {}
        with self.folder_of(path) as (folder, name):
            top = posixpath.basename(path)
            yield from _entry(folder, name, top, seen, depth=0, counted=[0])


def host_root(attrs: dict[str, Any]) -> HostRoot | None:
    """Where the container's filesystem is on this host, from its inspect data: overlay2,
    this process root, and its merged directory here; None otherwise."""
    driver = attrs.get("GraphDriver") or {}
    merged = (driver.get("Data") or {}).get("MergedDir")
    if driver.get("Name") != "overlay2" or os.geteuid() != 0 or not isinstance(merged, str):
        return None
    if not os.path.isabs(merged) or not os.path.isdir(os.path.dirname(merged)):
        return None  # an engine on another machine, or in a namespace of its own
    mounts = set(ENGINE_MOUNTS)
    mounts.update(str(m.get("Destination") or "") for m in attrs.get("Mounts") or [])
    mounts.update(str(k) for k in (attrs.get("HostConfig") or {}).get("Tmpfs") or {})
    clean = {posixpath.normpath(m) for m in mounts if m.startswith("/")}
    return HostRoot(merged, tuple(sorted(clean)))


def _open_root(merged: str) -> int:
    try:
        fd = os.open(merged, DIR_FLAGS)
    except OSError as exc:
        raise NotHosted(f"{merged}: {exc}") from exc
    try:
        mounted = os.fstat(fd).st_dev != os.stat(os.path.dirname(merged)).st_dev
    except OSError as exc:
        os.close(fd)
        raise NotHosted(str(exc)) from exc
    if not mounted:  # the container is not running: its layers are not mounted
        os.close(fd)
        raise NotHosted(f"{merged} is not mounted")
    return fd


def _step(fd: int, name: str) -> int:
    """The folder `name` in `fd`; `fd` is closed either way."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        raise
    except OSError as exc:  # a link (ELOOP) or a file (ENOTDIR): the engine resolves it
        raise NotHosted(f"{name}: {exc}") from exc
    finally:
        os.close(fd)


def lstat_at(folder: int, name: str) -> os.stat_result:
    try:
        return os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise NotHosted(f"{name}: {exc}") from exc


def _readlink(folder: int, name: str) -> str:
    try:
        return os.readlink(name, dir_fd=folder)
    except OSError as exc:  # swapped since its stat
        raise NotHosted(f"{name}: {exc}") from exc


def _open_regular(folder: int, name: str) -> tuple[int | None, os.stat_result]:
    """A readable descriptor of `name` when it is a regular file (opened first with `O_PATH`,
    which opens no device and waits on no FIFO, then reopened by that descriptor, so a swap
    between the check and the open cannot matter); else None, and what it is."""
    try:
        held = os.open(name, _PATH, dir_fd=folder)
    except OSError as exc:
        raise NotHosted(f"{name}: {exc}") from exc
    try:
        st = os.fstat(held)
        if not stat.S_ISREG(st.st_mode):
            return None, st
        return os.open(f"/proc/self/fd/{held}", _READ), st
    except OSError as exc:
        raise NotHosted(f"{name}: {exc}") from exc
    finally:
        os.close(held)


def _read_fd(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


_TYPES = (
    (stat.S_ISCHR, tarfile.CHRTYPE),
    (stat.S_ISBLK, tarfile.BLKTYPE),
    (stat.S_ISFIFO, tarfile.FIFOTYPE),
)


def _entry(
    folder: int, name: str, shown: str, seen: dict[int, str], depth: int, counted: list[int]
) -> Iterator[tuple[tarfile.TarInfo, int | None]]:
    """The archive entries of `name` in `folder` (named `shown`), and all below it."""
    st = lstat_at(folder, name)
    info = tarfile.TarInfo(shown)
    info.mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISSOCK(st.st_mode):
        return  # the engine's archive leaves sockets out
    if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1 and st.st_ino in seen:
        info.type, info.linkname = tarfile.LNKTYPE, seen[st.st_ino]
        yield info, None
        return
    if stat.S_ISDIR(st.st_mode):
        yield from _folder(folder, name, info, seen, depth, counted)
        return
    if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
        seen[st.st_ino] = shown
    if stat.S_ISLNK(st.st_mode):
        info.type, info.linkname = tarfile.SYMTYPE, _readlink(folder, name)
        yield info, None
        return
    if stat.S_ISREG(st.st_mode):
        fd, st = _open_regular(folder, name)
        if fd is not None:
            info.size = st.st_size
            try:
                yield info, fd
            finally:
                os.close(fd)
            return
    info.type = next((kind for test, kind in _TYPES if test(st.st_mode)), tarfile.FIFOTYPE)
    yield info, None


def _folder(
    folder: int,
    name: str,
    info: tarfile.TarInfo,
    seen: dict[int, str],
    depth: int,
    counted: list[int],
) -> Iterator[tuple[tarfile.TarInfo, int | None]]:
    if depth >= MAX_DEPTH:
        raise NotHosted(f"a folder more than {MAX_DEPTH} deep")
    info.type = tarfile.DIRTYPE
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=folder)
    except OSError as exc:  # swapped for a link or a file since its stat
        raise NotHosted(f"{name}: {exc}") from exc
    try:
        try:
            names = sorted(os.listdir(fd), key=os.fsencode)
        except OSError as exc:
            raise NotHosted(f"{name}: {exc}") from exc
        counted[0] += len(names)
        if counted[0] > MAX_NAMES:
            raise NotHosted(f"more than {MAX_NAMES:,} entries")
        yield info, None
        for child in names:
            try:
                yield from _entry(fd, child, f"{info.name}/{child}", seen, depth + 1, counted)
            except FileNotFoundError:
                continue  # removed while the folder was read: the engine skips it too
    finally:
        os.close(fd)


def layer_members(full: str, shown: str) -> Iterator[tuple[tarfile.TarInfo, int | None]]:
    """The archive entries of the entry `full` of an image layer (a path on this host the
    engine owns, read-only), named `shown`: what the engine's archive of it holds."""
    try:
        folder = os.open(os.path.dirname(full), DIR_FLAGS)
    except OSError as exc:
        raise NotHosted(f"{full}: {exc}") from exc
    try:
        yield from _entry(folder, os.path.basename(full), shown, {}, depth=0, counted=[0])
    finally:
        os.close(folder)


class HostTar:
    """What `archive.extract` reads members' contents from: the descriptor of the entry the
    walk is at."""

    def __init__(self, members: Iterator[tuple[tarfile.TarInfo, int | None]]) -> None:
        self._members = members
        self._fd: int | None = None

    def __iter__(self) -> Iterator[tarfile.TarInfo]:
        for info, fd in self._members:
            self._fd = fd
            yield info
        self._fd = None

    def extractfile(self, member: tarfile.TarInfo) -> _Reader | None:
        return _Reader(self._fd, member.size) if self._fd is not None else None

    def close(self) -> None:
        close = getattr(self._members, "close", None)
        if close is not None:
            close()


class _Reader:
    """At most `size` bytes of a descriptor, as a file."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.left = fd, size

    def read(self, n: int = -1) -> bytes:
        want = self.left if n < 0 else min(n, self.left)
        if want <= 0:
            return b""
        try:
            chunk = os.read(self.fd, want)
        except OSError as exc:
            raise NotHosted(str(exc)) from exc
        self.left -= len(chunk)
        return chunk
