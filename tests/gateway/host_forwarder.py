"""The forwarder's listening end run on this machine, in front of a gateway's socket: the same
way in as a container's (`python3 -c <forwarder> listen`), on a free loopback port here."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from swelancer.sandbox.docker.reach import forwarder_code


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def loopback(sock: Path) -> Iterator[str]:
    """`http://127.0.0.1:PORT`, relayed to `sock` while the block runs."""
    port = free_port()
    argv = [
        sys.executable,
        "-c",
        forwarder_code(),
        "listen",
        str(sock),
        str(port),
        "600",
        "64",
        "127.0.0.1",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()
