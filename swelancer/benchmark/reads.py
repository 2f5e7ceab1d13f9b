"""Many bounded copies out of sandboxes at once: each copy of a patch's files mostly waits on
the engine, so a few run side by side. Results and errors come back in the order asked."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from swelancer.sandbox.archive import CopyLimits, CopyReport

READERS = 4
"""Copies in flight at once for one patch (the engine's connection pool holds ten)."""


class Source(Protocol):
    def copy_out(self, src: str, dest: Path, limits: CopyLimits | None = None) -> CopyReport: ...


Copy = tuple[Source, str, Path]
"""(sandbox, path in it, host path the copy will have)."""


def copy_all(copies: Sequence[Copy], limits: CopyLimits) -> list[CopyReport | None]:
    """The report of each copy, None where the path does not exist. The first copy (in the
    order given) that raised raises, once every copy has ended."""
    if len(copies) <= 1:
        return [_one(source, src, dest, limits) for source, src, dest in copies]
    with ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="swelancer-copy") as pool:
        futures = [pool.submit(_one, source, src, dest, limits) for source, src, dest in copies]
    return [future.result() for future in futures]  # every copy has ended here


def _one(source: Source, src: str, dest: Path, limits: CopyLimits) -> CopyReport | None:
    try:
        return source.copy_out(src, dest, limits)
    except FileNotFoundError:
        return None
