"""Streams of the engine's API: command output kept head and tail, and archives read as files."""

from __future__ import annotations

import contextlib
import io
import socket
import tarfile
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

# ---------------------------------------------------------------------------------------------
# Output that keeps its head and tail only


class _BoundedOutput:
    """Bytes of a stream, keeping at most `limit` of them: the first half and the last half."""

    def __init__(self, limit: int) -> None:
        self.head_limit = limit // 2
        self.tail_limit = limit - self.head_limit
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if not data or self.tail_limit <= 0:
            return
        self.tail.append(data)
        self.tail_size += len(data)
        while self.tail_size - len(self.tail[0]) >= self.tail_limit:
            self.tail_size -= len(self.tail.popleft())

    def text(self) -> tuple[str, bool]:
        """The kept output decoded as UTF-8 (bad bytes replaced), and whether some was dropped."""
        tail = b"".join(self.tail)
        if self.tail_limit > 0:
            tail = tail[-self.tail_limit :]
        dropped = self.total - len(self.head) - len(tail)
        if dropped <= 0:
            return (bytes(self.head) + tail).decode("utf-8", errors="replace"), False
        head = self.head.decode("utf-8", errors="replace")
        note = f"\n[... {dropped} bytes truncated ...]\n"
        return head + note + tail.decode("utf-8", errors="replace"), True


class _StreamReader(threading.Thread):
    """Reads the multiplexed output of one exec into a `_BoundedOutput`, in the background."""

    def __init__(self, sock: Any, output: _BoundedOutput) -> None:
        super().__init__(daemon=True, name="swelancer-exec-reader")
        self.sock = sock
        self.output = output
        self.error: BaseException | None = None

    def run(self) -> None:
        from docker.utils.socket import frames_iter

        try:
            # the stubs leave frames_iter untyped: it yields (stream number, bytes) pairs
            for _stream, data in frames_iter(self.sock, tty=False):  # type: ignore[no-untyped-call]
                self.output.add(data)
        except BaseException as err:  # surfaced by the caller
            self.error = err


def _close_socket(sock: Any, *, shutdown: bool = False) -> None:
    """Close an exec's hijacked socket; `shutdown` also wakes a thread blocked reading it."""
    raw = getattr(sock, "_sock", sock)
    if shutdown:
        with contextlib.suppress(Exception):
            raw.shutdown(socket.SHUT_RDWR)
    for thing in (getattr(sock, "_response", None), sock):
        if thing is not None:
            with contextlib.suppress(Exception):
                thing.close()


class _Archive:
    """Chunks of one archive response; `close()` drops the response."""

    def __init__(self, response: Any, chunk_size: int = 1 << 20) -> None:
        self._response = response
        self._chunk_size = chunk_size

    def __iter__(self) -> Iterator[bytes]:
        yield from self._response.raw.stream(self._chunk_size, decode_content=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._response.close()

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (for streaming tar archives)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info
