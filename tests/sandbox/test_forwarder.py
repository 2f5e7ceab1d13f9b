"""The forwarder, run on this machine as it runs in containers (`python3 -c <its text>`): its
relay end on a Unix socket, its listening end on a loopback address of its own."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from swelancer.sandbox.docker.reach import forwarder_code

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT.parent / "shared/upstream/preparedness_51052ce_swelancer/runtime_scripts"
LISTEN_HOST = "127.0.0.3"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Echo:
    """A served port: answers `echo:<what it read until the end>`, then closes."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            got = b""
            while chunk := conn.recv(65536):
                got += chunk
            conn.sendall(b"echo:" + got)


def _start(tmp: Path, mode: str, ports: list[int], deadline: float = 120, limit: int = 8):
    argv = [sys.executable, "-c", forwarder_code(), mode, str(tmp / "relay.sock"),
            ",".join(map(str, ports)), str(deadline), str(limit)]  # fmt: skip
    if mode == "listen":
        argv.append(LISTEN_HOST)
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE)
    marker = tmp / "relay.sock.relay.ready" if mode == "relay" else None
    for _ in range(200):
        if marker is not None and marker.exists():
            break
        if marker is None and _listening(ports[0]):
            break
        time.sleep(0.05)
    return proc


def _listening(port: int) -> bool:
    try:
        socket.create_connection((LISTEN_HOST, port), timeout=1).close()
        return True
    except OSError:
        return False


def _ask(port: int, data: bytes) -> bytes:
    with socket.create_connection((LISTEN_HOST, port), timeout=10) as conn:
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)  # the end of the request passes through
        got = b""
        while chunk := conn.recv(65536):
            got += chunk
        return got


@pytest.fixture
def pair(tmp_path) -> Iterator[tuple[Echo, int]]:
    echo = Echo()
    closed = _free_port()  # declared, but nothing serves it
    procs = [_start(tmp_path, "relay", [echo.port, closed], limit=2),
             _start(tmp_path, "listen", [echo.port, closed], limit=2)]  # fmt: skip
    yield echo, closed
    for proc in procs:
        proc.kill()
        proc.wait()
    echo.server.close()


def test_a_declared_port_is_reached_both_ways_with_its_end(pair):
    echo, _ = pair
    big = bytes(range(256)) * 4000  # 1 MB: more than one read, back-pressure on both ends
    assert _ask(echo.port, b"GET / HTTP/1.0\r\n\r\n") == b"echo:GET / HTTP/1.0\r\n\r\n"
    assert _ask(echo.port, big) == b"echo:" + big


def test_a_port_nothing_serves_is_closed_and_an_undeclared_one_is_not_listened_on(pair):
    _, closed = pair
    assert _ask(closed, b"hello") == b""
    assert not _listening(_free_port())


def test_connections_past_the_bound_are_closed_on_arrival(pair):
    echo, _ = pair
    held = [socket.create_connection((LISTEN_HOST, echo.port), timeout=10) for _ in range(4)]
    time.sleep(1)  # every one has arrived and been let through or closed
    answers = []
    for conn in held:
        try:  # one closed on arrival may answer with a reset
            conn.sendall(b"held")
            conn.shutdown(socket.SHUT_WR)
            answers.append(b"".join(iter(lambda c=conn: c.recv(65536), b"")))
        except OSError:
            answers.append(b"")
        conn.close()
    assert 1 <= answers.count(b"echo:held") <= 2, answers  # the bound is 2
    assert answers.count(b"") == 4 - answers.count(b"echo:held"), answers
    time.sleep(0.5)
    assert _ask(echo.port, b"again") == b"echo:again", "a freed place is given again"


def test_each_end_exits_at_its_deadline(tmp_path):
    echo = Echo()
    procs = [_start(tmp_path, "relay", [echo.port], deadline=2),
             _start(tmp_path, "listen", [echo.port], deadline=2)]  # fmt: skip
    for proc in procs:
        assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    assert not _listening(echo.port)


def test_no_pattern_the_playbooks_kill_by_matches_the_forwarders_command_line():
    """The judge's part of the playbook kills by command line (`pkill -f mitmdump`), and the
    forwarder's command line is its source: it must match none of them."""
    texts = [(UPSTREAM / "run_tests.yml").read_text(),
             (ROOT / "docker/demo/tests/run_tests.yml").read_text()]  # fmt: skip
    patterns = {m for t in texts for m in re.findall(r"p(?:kill|grep)(?: -\w+)* (\w+)", t)}
    assert {"node", "mitmdump", "ffmpeg"} <= patterns
    code = forwarder_code()
    assert [p for p in patterns if p in code] == []
