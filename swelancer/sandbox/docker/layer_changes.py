"""A container's filesystem changes read from its overlay2 layers on this host.

Docker 20.10 answers `GET /containers/{id}/changes` by mounting the image and walking all of
it and all of the container, whatever the container changed: 0.2 s for a Debian image, 0.5 s
for the demo image and far more for an image with a `node_modules` of its own. Where the engine
runs on this host with overlay2 and a native diff, and this process is root, everything a
container changed is in its upper directory, so only that directory is walked, and each of its
entries is compared with the image's layers. The result is the engine's own listing: the same
entries with the same kinds (0 changed, 1 added, 2 deleted), the parents of a change included.

The upper directory belongs to the container, and its processes may still run: it is walked by
directory descriptors that never follow a link, and it is bounded in entries and in depth. Any
surprise raises `LayersUnreadable`, and the caller asks the engine instead; more entries than
the bound raise `TooManyChanges` (the engine's list would be as long). The walk holds one
folder's descriptor per level and the changes packed (`sandbox.changes.ChangeList`), never a
folder's whole listing.
"""

from __future__ import annotations

import codecs
import os
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from swelancer.sandbox.changes import MAX_CHANGES, ChangeList, PackedMarks

OPAQUE = "trusted.overlay.opaque"
CAPABILITY = "security.capability"
MAX_ENTRIES = MAX_CHANGES
MAX_DEPTH = 200
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

CHANGED, ADDED, DELETED = 0, 1, 2
Mark = tuple[int, int, int, int, int]
"""An upper entry's inode, mode, size, modification and change times (ns): the change time
is the kernel's alone (no call sets it), so an entry written again never keeps its mark."""
RACY_NS = 100_000_000
"""An entry whose change time lies this close to (or after) the start of the walk may be
written again within the same tick of the kernel's clock: it gets no mark."""


def _per_byte(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    return "\ufffd" * (error.end - error.start), error.end


codecs.register_error("swelancer.per_byte", _per_byte)


def _as_engine_says(path: str) -> str:
    """A path as the engine's JSON gives it: each byte that is not UTF-8 becomes U+FFFD."""
    raw = os.fsencode(path)
    return raw.decode("utf-8", "swelancer.per_byte")


class LayersUnreadable(Exception):
    """The layers cannot be read here (or are too deep to walk): ask the engine."""


class TooManyChanges(Exception):
    """The container changed more entries than a listing holds."""


@dataclass(frozen=True)
class Layers:
    """Where a container's overlay2 layers are on this host: its upper directory and the
    lower ones, topmost first (its init layer, then the image's)."""

    upper: str
    lowers: tuple[str, ...]


def layers_of(attrs: dict[str, Any], *, native_diff: bool) -> Layers | None:
    """The layers of a container from its inspect data, when they can be walked here: overlay2
    with a native diff (no redirected or metadata-only directories), this process root (the
    whiteout and opaque marks are root's to read) and the directories present."""
    driver = attrs.get("GraphDriver") or {}
    data = driver.get("Data") or {}
    upper, lower = data.get("UpperDir"), data.get("LowerDir")
    if driver.get("Name") != "overlay2" or not native_diff or os.geteuid() != 0:
        return None
    if not isinstance(upper, str) or not isinstance(lower, str) or not lower:
        return None
    lowers = tuple(lower.split(":"))
    if not all(os.path.isabs(p) and os.path.isdir(p) for p in (upper, *lowers)):
        return None  # an engine on another machine, or in a namespace of its own
    return Layers(upper, lowers)


def image_layers(attrs: dict[str, Any]) -> Lowers | None:
    """An image's layers on this host, topmost first, from its inspect data (overlay2, this
    process root, the directories present); None otherwise."""
    driver = attrs.get("GraphDriver") or {}
    data = driver.get("Data") or {}
    upper, lower = data.get("UpperDir"), data.get("LowerDir") or ""
    if driver.get("Name") != "overlay2" or os.geteuid() != 0 or not isinstance(upper, str):
        return None
    found = (upper, *(p for p in str(lower).split(":") if p))
    if not all(os.path.isabs(p) and os.path.isdir(p) for p in found):
        return None
    return Lowers(found)


def layer_changes(
    layers: Layers, *, max_entries: int = MAX_ENTRIES, max_depth: int = MAX_DEPTH
) -> ChangeList:
    """The container's changes, as the engine lists them (see the module's docstring)."""
    walk = _Walk(Lowers(layers.lowers), max_entries, max_depth)
    try:
        fd = os.open(layers.upper, _DIR_FLAGS)
    except OSError as exc:
        raise LayersUnreadable(f"{layers.upper}: {exc}") from exc
    try:
        walk.directory(fd, "", depth=0)
    except OSError as exc:
        raise LayersUnreadable(str(exc)) from exc
    finally:
        os.close(fd)
    walk.changes.marks = walk.marks
    return walk.changes


def _mark(st: os.stat_result) -> Mark:
    return (st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _same_time(a: os.stat_result, b: os.stat_result) -> bool:
    sa, na = divmod(a.st_mtime_ns, 10**9)
    sb, nb = divmod(b.st_mtime_ns, 10**9)
    return sa == sb and (na == nb or na == 0 or nb == 0)


def _dir_bit(st: os.stat_result) -> bool:
    """The engine's test of a directory, `mode & S_IFDIR`: true of sockets and block devices
    too, whose times and sizes it so never compares, and whose image children it lists."""
    return bool(st.st_mode & stat.S_IFDIR)


def _different(old: os.stat_result, new: os.stat_result) -> bool:
    """The engine's test of a changed entry: type and mode, owner, device, and for all but
    directories (by its test, `_dir_bit`) the modification time and the size."""
    if (old.st_mode, old.st_uid, old.st_gid, old.st_rdev) != (
        new.st_mode,
        new.st_uid,
        new.st_gid,
        new.st_rdev,
    ):
        return True
    return not _dir_bit(old) and (not _same_time(old, new) or old.st_size != new.st_size)


def _xattr(path: str | int, name: str) -> bytes | None:
    try:
        if isinstance(path, int):
            return os.getxattr(path, name)
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None


class Lowers:
    """The image's side: the lower layers merged as overlayfs merges them (whiteouts, opaque
    directories, a file or link that hides what lies below its path). Lower layers are the
    engine's and read-only, so paths may be looked up by name; each prefix is checked to be
    a real directory, so no link is followed."""

    def __init__(self, layers: tuple[str, ...]) -> None:
        self.layers = layers
        self._lstat: dict[str, os.stat_result | None] = {}
        self._opaque: dict[str, bool] = {}

    def _lstat_at(self, full: str) -> os.stat_result | None:
        """A folder's entry, kept (folders are few; leaves are looked up once, uncached)."""
        if full not in self._lstat:
            self._lstat[full] = _lstat(full)
        return self._lstat[full]

    def _is_opaque(self, full: str) -> bool:
        if full not in self._opaque:
            self._opaque[full] = _xattr(full, OPAQUE) == b"y"
        return self._opaque[full]

    def _in_layer(self, layer: str, parts: list[str]) -> tuple[str, os.stat_result | None]:
        """("found", stat), ("hidden", None): nothing below this layer shows, or ("absent",
        None): look in the next layer."""
        hides_below = False
        full = layer
        for part in parts[:-1]:
            full = f"{full}/{part}"
            st = self._lstat_at(full)
            if st is None:  # nothing here; below an opaque folder of this layer, nothing lower
                return ("hidden" if hides_below else "absent"), None
            if _whiteout(st) or not stat.S_ISDIR(st.st_mode):
                return "hidden", None
            hides_below = hides_below or self._is_opaque(full)
        st = _lstat(f"{full}/{parts[-1]}")
        if st is not None:
            return ("hidden", None) if _whiteout(st) else ("found", st)
        return ("hidden" if hides_below else "absent"), None

    def _find(self, path: str) -> tuple[str, os.stat_result] | None:
        """The layer that shows the entry at `path` ("/a/b"), and the entry; None when the
        image has none."""
        parts = path.strip("/").split("/")
        for layer in self.layers:
            where, st = self._in_layer(layer, parts)
            if where == "found" and st is not None:
                return layer, st
            if where == "hidden":
                return None
        return None

    def locate(self, path: str) -> tuple[str, os.stat_result] | None:
        """As `_find`, for reading the entry: `LayersUnreadable` when a folder on its way is a
        link in the layer that shows it (the engine would follow it inside the container)."""
        parts = path.strip("/").split("/")
        for layer in self.layers:
            full = layer
            for part in parts[:-1]:
                full = f"{full}/{part}"
                st = self._lstat_at(full)
                if st is not None and stat.S_ISLNK(st.st_mode):
                    raise LayersUnreadable(f"{full} is a link")
                if st is None or not stat.S_ISDIR(st.st_mode) or self._is_opaque(full):
                    break
        return self._find(path)

    def stat(self, path: str) -> os.stat_result | None:
        """The entry at `path` in the image, or None when the image has none."""
        found = self._find(path)
        return found[1] if found else None

    def children(self, path: str) -> set[str]:
        """The names in the image's directory `path`, listed only in the layers where its
        prefixes are real directories (a lower layer's link is never followed)."""
        names: set[str] = set()
        parts = path.strip("/").split("/")
        for layer in self.layers:
            where, st = self._in_layer(layer, parts)
            if where == "hidden" or (st is not None and not stat.S_ISDIR(st.st_mode)):
                break
            if where == "found":
                full = f"{layer}{path}"
                names.update(os.listdir(full))
                if self._is_opaque(full):
                    break
        return {n for n in names if self.stat(f"{path}/{n}") is not None}

    def capability(self, path: str) -> bytes | None:
        found = self._find(path)
        return _xattr(f"{found[0]}{path}", CAPABILITY) if found else None


def _lstat(full: str) -> os.stat_result | None:
    try:
        return os.lstat(full)
    except FileNotFoundError:
        return None


class _Walk:
    """The upper directory, walked by descriptors, compared entry by entry with the image."""

    def __init__(self, lowers: Lowers, max_entries: int, max_depth: int) -> None:
        self.lowers = lowers
        self.max_entries = max_entries
        self.max_depth = max_depth
        self.changes = ChangeList()
        self.marks = PackedMarks(width=5)
        self.settled = time.time_ns() - RACY_NS
        self.seen = 0

    def _add(self, path: str, kind: int) -> None:
        self.changes.append(_as_engine_says(path), kind)

    def _entries(self, fd: int, path: str) -> Iterable[tuple[str, os.stat_result]]:
        """The entries of the folder `fd`, read as they come (never the whole listing), each
        marked unless it may still be written within the tick the walk began in."""
        with os.scandir(fd) as found:
            for entry in found:
                self.seen += 1
                if self.seen > self.max_entries:
                    raise TooManyChanges(f"more than {self.max_entries:,} entries changed")
                st = entry.stat(follow_symlinks=False)
                mark = _mark(st)
                if mark[4] < self.settled:
                    self.marks.add(_as_engine_says(f"{path}/{entry.name}"), mark)
                yield entry.name, st

    def _open(self, fd: int, name: str, depth: int) -> int:
        if depth >= self.max_depth:
            raise LayersUnreadable(f"a changed folder is more than {self.max_depth} deep")
        return os.open(name, _DIR_FLAGS, dir_fd=fd)

    def added(self, fd: int, path: str, depth: int) -> None:
        """Everything under a directory the image does not have: all added."""
        for name, st in self._entries(fd, path):
            child = f"{path}/{name}"
            if _whiteout(st):
                continue
            self._add(child, ADDED)
            if stat.S_ISDIR(st.st_mode):
                self._descend(fd, name, depth, self.added, child)

    def _descend(
        self, fd: int, name: str, depth: int, visit: Callable[[int, str, int], None], path: str
    ) -> None:
        sub = self._open(fd, name, depth + 1)
        try:
            visit(sub, path, depth + 1)
        finally:
            os.close(sub)

    def directory(self, fd: int, path: str, depth: int, cut: bool = False) -> None:
        """A directory the image has too: each entry compared with the image's. `cut`: a
        folder above it is opaque, so the image's entries below show no more."""
        for name, st in self._entries(fd, path):
            child = f"{path}/{name}"
            old = self.lowers.stat(child)
            if _whiteout(st):
                if old is not None:
                    self._add(child, DELETED)
                continue
            if old is None:
                self._add(child, ADDED)
                if stat.S_ISDIR(st.st_mode):
                    self._descend(fd, name, depth, self.added, child)
                continue
            mark = len(self.changes)
            changed = _different(old, st)
            if not changed:  # the engine compares the capability of every kind of entry
                upper_cap = _xattr(f"/proc/self/fd/{fd}/{name}", CAPABILITY)
                changed = upper_cap != self.lowers.capability(child)
            if changed:
                self._add(child, CHANGED)
            if not stat.S_ISDIR(st.st_mode):
                if _dir_bit(st) and stat.S_ISDIR(old.st_mode):  # a socket or block device
                    for gone in sorted(self.lowers.children(child)):  # the engine's quirk
                        self._add(f"{child}/{gone}", DELETED)
                continue
            if stat.S_ISDIR(old.st_mode):
                visit = partial(self._changed_dir, cut=cut)
                self._descend(fd, name, depth, visit, child)
            else:  # a directory where the image has a file or a link
                self._descend(fd, name, depth, self.added, child)
            if not changed and len(self.changes) > mark:
                self._add(child, CHANGED)  # the parent of a change (listed after it)

    def _changed_dir(self, fd: int, path: str, depth: int, cut: bool = False) -> None:
        cut = cut or _xattr(fd, OPAQUE) == b"y"  # made anew, or inside a folder made anew
        self.directory(fd, path, depth, cut)
        if cut:  # what the image had there is gone (overlayfs looks no lower)
            for name in sorted(self.lowers.children(path)):
                if not _here(fd, name):
                    self._add(f"{path}/{name}", DELETED)


def _here(fd: int, name: str) -> bool:
    """Whether the folder `fd` holds an entry `name` (a whiteout too)."""
    try:
        os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True
