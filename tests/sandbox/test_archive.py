"""What comes out of a container is bounded and inert: hostile tar streams (as `docker cp` would
hand them back from a container the agent controls) extracted by `sandbox.archive.extract`."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import tracemalloc
from pathlib import Path

from swelancer.sandbox.archive import CopyLimits, extract


def archive(*members: tuple[tarfile.TarInfo, bytes | None]) -> io.BytesIO:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, body in members:
            tar.addfile(info, io.BytesIO(body) if body is not None else None)
    data.seek(0)
    return data


def entry(name: str, kind: bytes = tarfile.REGTYPE, body: bytes = b"", **extra) -> tuple:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(body) if kind == tarfile.REGTYPE else 0
    info.mode = extra.pop("mode", 0o644)
    for key, value in extra.items():
        setattr(info, key, value)
    return info, body if kind == tarfile.REGTYPE else None


def unpack(stream: io.BytesIO, dest: Path, top: str = "trace", **limits):
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        return extract(tar, tar, dest, top, CopyLimits(**limits))


def test_regular_files_and_folders_come_out_with_sane_modes(tmp_path):
    stream = archive(
        entry("trace", tarfile.DIRTYPE, mode=0o777),
        entry("trace/trace.trace", body=b'{"type": "before"}\n', mode=0o6777),
        entry("trace/resources", tarfile.DIRTYPE, mode=0o700),
        entry("trace/resources/a.jpeg", body=b"jpeg", mode=0o600),
    )
    report = unpack(stream, tmp_path / "out")
    assert report.complete and report.files == 2 and report.folders == 2
    out = tmp_path / "out"
    assert (out / "trace.trace").read_bytes() == b'{"type": "before"}\n'
    assert stat.S_IMODE((out / "trace.trace").stat().st_mode) == 0o755  # no setuid/setgid
    assert stat.S_IMODE((out / "resources" / "a.jpeg").stat().st_mode) == 0o644


def test_links_devices_and_fifos_are_listed_never_made(tmp_path):
    stream = archive(
        entry("trace", tarfile.DIRTYPE),
        entry("trace/passwd", tarfile.SYMTYPE, linkname="/etc/passwd"),
        entry("trace/hard", tarfile.LNKTYPE, linkname="etc/shadow"),
        entry("trace/disk", tarfile.BLKTYPE, devmajor=8, devminor=0, mode=0o666),
        entry("trace/mem", tarfile.CHRTYPE, devmajor=1, devminor=1, mode=0o666),
        entry("trace/pipe", tarfile.FIFOTYPE),
    )
    report = unpack(stream, tmp_path / "out")
    assert sorted(os.listdir(tmp_path / "out")) == []
    assert report.links == {"passwd": "/etc/passwd"}
    kinds = " ".join(report.skipped)
    for word in ("a link to '/etc/passwd'", "a hard link", "a device", "a FIFO"):
        assert word in kinds


def test_names_that_leave_the_destination_are_dropped(tmp_path):
    (tmp_path / "victim").write_text("untouched")
    stream = archive(
        entry("trace", tarfile.DIRTYPE),
        entry("trace/../victim", body=b"overwritten"),
        entry("/etc/cron.d/x", body=b"* * * * * root id"),
        entry("other/file", body=b"not under the copied folder"),
        entry("trace/" + "d/" * 100 + "deep", body=b"too deep"),
        entry("trace/" + "n" * 300, body=b"name too long"),
    )
    report = unpack(stream, tmp_path / "out")
    assert (tmp_path / "victim").read_text() == "untouched"
    assert not any(p.is_file() for p in (tmp_path / "out").rglob("*"))
    assert len(report.skipped) == 5


def test_files_inside_a_link_are_not_written_through_it(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    stream = archive(
        entry("trace", tarfile.DIRTYPE),
        entry("trace/evil", tarfile.SYMTYPE, linkname=str(outside)),
        entry("trace/evil/planted", body=b"through the link"),
    )
    unpack(stream, tmp_path / "out")
    assert list(outside.iterdir()) == []


def test_a_huge_file_is_cut_while_streaming_in_bounded_memory(tmp_path):
    class Zeros(io.RawIOBase):
        """A 3 GB file's worth of zeros, produced as it is read (never held)."""

        def __init__(self, size: int) -> None:
            self.left = size

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            n = min(len(buffer), self.left)
            buffer[:n] = b"\0" * n
            self.left -= n
            return n

    size = 3 * 1024**3
    info = tarfile.TarInfo("big")
    info.size = size
    header = info.tobuf(format=tarfile.GNU_FORMAT)

    class Stream(io.RawIOBase):
        def __init__(self) -> None:
            self.parts = [io.BytesIO(header), Zeros(size)]

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            while self.parts:
                n = self.parts[0].readinto(buffer)
                if n:
                    return n
                self.parts.pop(0)
            return 0

    tracemalloc.start()
    with tarfile.open(fileobj=io.BufferedReader(Stream()), mode="r|") as tar:
        report = extract(tar, tar, tmp_path / "out", "big", CopyLimits(max_file_bytes=10_000_000))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert report.truncated == ["big"] and not report.complete
    assert (tmp_path / "out").stat().st_size == 10_000_000
    assert peak < 50_000_000


def test_the_whole_copy_is_capped(tmp_path):
    files = [entry(f"trace/f{i}", body=b"x" * 1000) for i in range(50)]
    report = unpack(archive(entry("trace", tarfile.DIRTYPE), *files), tmp_path / "out",
                    max_total_bytes=10_000)  # fmt: skip
    assert report.bytes == 10_000 and report.stopped and report.files == 10


def test_too_many_entries_stop_the_copy(tmp_path):
    files = [entry(f"trace/f{i}") for i in range(100)]
    report = unpack(archive(entry("trace", tarfile.DIRTYPE), *files), tmp_path / "out",
                    max_entries=20)  # fmt: skip
    assert report.stopped and report.files < 20


def test_a_name_that_is_not_utf8_comes_out_as_its_bytes(tmp_path):
    bad = os.fsdecode(b"bad\xff\xfename")  # as tarfile decodes the engine's archive
    stream = archive(entry("trace", tarfile.DIRTYPE), entry(f"trace/{bad}", body=b"x"))
    report = unpack(stream, tmp_path / "out")
    assert report.complete and report.files == 1
    assert os.listdir(os.fsencode(tmp_path / "out")) == [b"bad\xff\xfename"]


def test_a_file_past_its_cap_can_keep_its_end_in_bounded_memory(tmp_path):
    """A log's summary is its last line: with `tail_bytes`, what is kept of a file past its cap
    is its head and its tail, the middle (1 GB here) streamed through and never held."""
    head, tail = b"H" * 3_000_000, b"T" * 2_999_989 + b"\n== end ==\n"
    middle = 1024**3
    info = tarfile.TarInfo("log")
    info.size = len(head) + middle + len(tail)

    class Stream(io.RawIOBase):
        """The archive, made as it is read: header, head, a gigabyte of `m`, tail, padding."""

        def __init__(self) -> None:
            pad = -info.size % tarfile.BLOCKSIZE
            self.parts = [info.tobuf(format=tarfile.GNU_FORMAT) + head, middle,
                          tail + b"\0" * (pad + 2 * tarfile.BLOCKSIZE)]  # fmt: skip

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            while self.parts:
                part = self.parts[0]
                if isinstance(part, int):
                    n = min(len(buffer), part)
                    buffer[:n] = b"m" * n
                    self.parts[0] = part - n
                else:
                    n = min(len(buffer), len(part))
                    buffer[:n] = part[:n]
                    self.parts[0] = part[n:]
                if n:
                    return n
                self.parts.pop(0)
            return 0

    limits = CopyLimits(max_file_bytes=6_000_000, tail_bytes=3_000_000)
    tracemalloc.start()
    with tarfile.open(fileobj=io.BufferedReader(Stream()), mode="r|") as tar:
        report = extract(tar, tar, tmp_path / "log", "log", limits)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert report.truncated == ["log"]
    assert (tmp_path / "log").read_bytes() == head + tail
    assert peak < 50_000_000
    small = unpack(archive(entry("log", body=b"short\n")), tmp_path / "s", top="log",
                   max_file_bytes=6_000_000, tail_bytes=3_000_000)  # fmt: skip
    assert small.complete and (tmp_path / "s").read_bytes() == b"short\n"
