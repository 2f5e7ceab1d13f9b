"""An image's files read on this host, from its overlay2 layers (read-only, the engine's).

`image_copy_out` reads what a container of the image would hold without creating one (a
created container costs about 70 ms, `benchmarks/host_paths.py`); the entries are handed to
the same bounded, inert extraction (`sandbox.archive.extract`) as the engine's archive, entry
for entry as the engine would list them (lexical order, hard links after their first name,
sockets left out). Every path is opened by directory descriptors that never follow a link, a
file is opened without side effects first (`O_PATH`) and reopened only once it is known to be
a regular file, and walks are bounded in depth and in entries; any surprise raises
`NotHosted`, and the caller asks the engine. A running container's own files are never read
here: that was measured to save 0.3 s an attempt (docs/ARCHITECTURE.md) and went.
"""
from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass

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
