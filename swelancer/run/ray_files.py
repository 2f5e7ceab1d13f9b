"""An attempt's files on their way from a Ray worker to the driver: each try's folder packed as
a tar in memory on the worker (bounded), unpacked on the driver into the run directory.

Packing keeps regular files and folders only (what the attempt wrote, which may include what
the agent put in its patch or logs) within `CopyLimits`. Unpacking trusts nothing of the tar: it
goes through `sandbox.archive.extract`, which makes only regular files and folders, keeps every
name under the attempt's folder and caps sizes while it reads.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from swelancer.sandbox.archive import CopyLimits, CopyReport, extract

LEFT_OUT_FILE = "files-left-out.txt"
"""Written in an attempt's folder on the driver when its files did not all come back."""


class TryFiles(BaseModel):
    """One try's folder as a tar (its top entry is `name`), and what packing left out."""

    name: str
    tar: bytes
    left_out: list[str] = Field(default_factory=list)


def pack(folder: Path, name: str, limits: CopyLimits | None = None) -> TryFiles:
    """`folder` as a tar whose top entry is `name`: folders and regular files (never followed
    links), each file cut at `max_file_bytes`, the whole at `max_total_bytes`/`max_entries`."""
    limits = limits or CopyLimits()
    buffer = io.BytesIO()
    left_out: list[str] = []
    total = entries = 0
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.addfile(_dir_info(name))
        for here, dirs, files in os.walk(folder, followlinks=False):
            dirs.sort()
            rel_dir = Path(here).relative_to(folder)
            for entry in [*sorted(dirs), *sorted(files)]:
                path = Path(here) / entry
                arcname = f"{name}/{(rel_dir / entry).as_posix()}"
                entries += 1
                if entries > limits.max_entries:
                    left_out.append(f"more than {limits.max_entries:,} entries: the rest")
                    return TryFiles(name=name, tar=_close(tar, buffer), left_out=left_out)
                mode = os.lstat(path).st_mode
                if stat.S_ISDIR(mode):
                    tar.addfile(_dir_info(arcname))
                    continue
                if not stat.S_ISREG(mode):
                    left_out.append(f"{arcname}: not a regular file")
                    continue
                room = limits.max_total_bytes - total
                if room <= 0:
                    left_out.append(f"{arcname} and later files: past {limits.max_total_bytes:,}")
                    return TryFiles(name=name, tar=_close(tar, buffer), left_out=left_out)
                total += _add_file(tar, path, arcname, min(limits.max_file_bytes, room), left_out)
    return TryFiles(name=name, tar=buffer.getvalue(), left_out=left_out)


def _close(tar: tarfile.TarFile, buffer: io.BytesIO) -> bytes:
    tar.close()
    return buffer.getvalue()


def _dir_info(arcname: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(arcname)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info


def _add_file(tar: tarfile.TarFile, path: Path, arcname: str, cap: int, left_out: list) -> int:
    """Add one file, at most `cap` bytes of it (opened without following a link)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(cap + 1)
    if len(data) > cap:
        data = data[:cap]
        left_out.append(f"{arcname}: cut at {cap:,} bytes")
    info = tarfile.TarInfo(arcname)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))
    return len(data)


def unpack(
    tries: list[TryFiles], new_folder: Callable[[], Path], limits: CopyLimits | None = None
) -> list[str]:
    """Each try's files into a folder of `new_folder()`, in order (so that earlier tries are set
    aside as `RunDir.fresh_attempt_dir` does locally); what was left out, packing included.
    The list is also written to `files-left-out.txt` in the try's folder when not empty."""
    limits = limits or CopyLimits()
    notes: list[str] = []
    for one in tries:
        folder = new_folder()
        report = _extract_one(one, folder, limits)
        left = list(one.left_out)
        if not report.complete:
            left += report.note(limit=200).splitlines()
        if left:
            (folder / LEFT_OUT_FILE).write_text("\n".join(left) + "\n", encoding="utf-8")
        notes.extend(left)
    return notes


def _extract_one(one: TryFiles, folder: Path, limits: CopyLimits) -> CopyReport:
    try:
        with tarfile.open(fileobj=io.BytesIO(one.tar), mode="r:") as tar:
            return extract(tar, tar, folder, one.name, limits)
    except tarfile.TarError as exc:
        return CopyReport(stopped=f"the files of {one.name} did not come back whole ({exc})")
