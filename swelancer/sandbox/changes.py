"""A container's list of changes, held packed: a million entries cost tens of MB, not hundreds.

The engine's list of what a container changed is as long as the container makes it. It is
held as one buffer of UTF-8 paths (with their kinds) and read back entry by entry as
`(path, kind)` tuples, so that nothing holds a million Python strings at once; past
`MAX_CHANGES` entries a listing stops and the sandbox says "too many changes" (an
`InfraError` of kind `too_large`: the agent's failure where the agent made them).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping, Sequence
from typing import overload

from swelancer.errors import FaultKind, InfraError

MAX_CHANGES = 1_000_000
"""Entries of one listing at most (an upstream setup's `npm install` writes about 100,000)."""


class ChangeList(Sequence[tuple[str, int]]):
    """`(path, kind)` entries (kind 0 changed, 1 added, 2 deleted), packed."""

    marks: PackedMarks | None = None
    """Read from a container's layers: a mark of each entry of its upper directory (see
    `sandbox.docker.layer_changes`); None for the engine's own listing."""

    def __init__(self, entries: Sequence[tuple[str, int]] | None = None) -> None:
        self._data = bytearray()
        self._ends = array("Q")
        self._kinds = bytearray()
        for path, kind in entries or ():
            self.append(path, kind)

    def append(self, path: str, kind: int) -> None:
        self._data += path.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._data))
        self._kinds.append(kind & 0xFF)

    def __len__(self) -> int:
        return len(self._ends)

    def _entry(self, index: int) -> tuple[str, int]:
        start = self._ends[index - 1] if index else 0
        path = self._data[start : self._ends[index]].decode("utf-8", "surrogatepass")
        return path, self._kinds[index]

    @overload
    def __getitem__(self, index: int) -> tuple[str, int]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[str, int]]: ...
    def __getitem__(self, index: int | slice) -> tuple[str, int] | list[tuple[str, int]]:
        if isinstance(index, slice):
            return [self._entry(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._entry(index)

    def __iter__(self) -> Iterator[tuple[str, int]]:
        for index in range(len(self._ends)):
            yield self._entry(index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ChangeList({len(self)} entries)"


class PackedMarks(Mapping[str, tuple[int, ...]]):
    """Path: mark (a few integers) of each entry, packed like `ChangeList`. Made to be read in
    order (`items()`); a lookup by path reads the entries until it finds it."""

    def __init__(self, width: int = 5) -> None:
        self._paths = ChangeList()
        self._values = array("q")
        self._width = width

    def add(self, path: str, mark: tuple[int, ...]) -> None:
        self._paths.append(path, 0)
        self._values.extend(mark)

    def _mark(self, index: int) -> tuple[int, ...]:
        at = index * self._width
        return tuple(self._values[at : at + self._width])

    def items(self) -> Iterator[tuple[str, tuple[int, ...]]]:  # type: ignore[override]
        for index, (path, _kind) in enumerate(self._paths):
            yield path, self._mark(index)

    def __getitem__(self, path: str) -> tuple[int, ...]:
        for index, (found, _kind) in enumerate(self._paths):
            if found == path:
                return self._mark(index)
        raise KeyError(path)

    def __iter__(self) -> Iterator[str]:
        return (path for path, _kind in self._paths)

    def __len__(self) -> int:
        return len(self._paths)


def too_many(where: str, limit: int = MAX_CHANGES) -> InfraError:
    """The fault of a listing past its bound."""
    return InfraError(
        f"too many changes in {where}: more than {limit:,} files and folders were added, "
        "changed or deleted; the harness lists no more",
        kind=FaultKind.TOO_LARGE,
    )
