"""The demo's dev server: starts fresh copies of the app for the tests, on the app's side.

The demo's tests each need an app with fresh data (and some its sample data), so the dev server
run_tests.yml starts on port 8082 is this launcher rather than one copy of the app. The tests
reach it, and the copies it starts, over the network only (as upstream's Playwright tests reach
the Expensify dev server): they never start or import the app themselves, so the app (the code
under test) can run in another container than the tests.

    python3 launcher.py --port 8082 --app-dir /app/expensify

On start it runs one copy of the app as the build check (`python3 -m expenses`); if that copy
exits before it listens, the launcher exits 1 with its log (run_tests.yml's wait then fails,
as upstream's does when the dev server never comes up). Then, on 127.0.0.1:<port>:

    POST /apps          {"args": ["--demo-data"]}  -> 201 {"port": N}   a new copy on port N
                                                                     (N in COPY_PORTS)
                                                   -> 502 {"error": ..., "log": ...}
    DELETE /apps/<N>    stops that copy            -> 204
    GET /               200 "ok"
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

START_TIMEOUT_S = 60.0
ARG = re.compile(r"^--[a-z][a-z0-9-]{0,40}$")


COPY_PORTS = range(8100, 8164)
"""The ports the copies listen on: declared, so that a harness reaching the app's ports from
another network namespace forwards exactly these (swelancer's `benchmark.app_ports`)."""


def free_port() -> int:
    for port in COPY_PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError(f"every port of {COPY_PORTS.start}-{COPY_PORTS.stop - 1} is taken")


class Copy:
    """One copy of the app, started from the repository with `python3 -m expenses`."""

    def __init__(self, app_dir: Path, args: list[str]) -> None:
        self.port = free_port()
        self.output: deque[str] = deque(maxlen=20)
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
        command = [sys.executable, "-m", "expenses", "--port", str(self.port), *args]
        self.process = subprocess.Popen(
            command, cwd=app_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))
            print(f"[app {self.port}] {line.rstrip()}", flush=True)

    def wait_listening(self) -> str | None:
        """None once it listens; else why not (it exited, or took too long)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                time.sleep(0.1)  # let the reader catch the last lines
                tail = "\n".join(self.output)
                return f"the app exited with code {self.process.returncode}\n{tail}"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return None
            except OSError:
                time.sleep(0.05)
        self.stop()
        return f"the app did not start within {START_TIMEOUT_S:.0f} s"

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Launcher(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, app_dir: Path) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.app_dir = app_dir
        self.copies: dict[int, Copy] = {}
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server: Launcher

    def log_message(self, format: str, *args: object) -> None:
        print(f"[launcher] {format % args}", flush=True)

    def _reply(self, status: int, body: dict | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._reply(200, {"ok": True, "copies": sorted(self.server.copies)})

    def do_POST(self) -> None:
        if self.path != "/apps":
            return self._reply(404, {"error": "no such path"})
        length = min(int(self.headers.get("Content-Length") or 0), 10_000)
        try:
            args = json.loads(self.rfile.read(length) or b"{}").get("args") or []
        except (ValueError, AttributeError):
            return self._reply(400, {"error": "the body is not JSON"})
        if not isinstance(args, list) or not all(isinstance(a, str) and ARG.match(a) for a in args):
            return self._reply(400, {"error": f"bad args {args!r}"})
        copy = Copy(self.server.app_dir, args)
        problem = copy.wait_listening()
        if problem is not None:
            return self._reply(502, {"error": problem})
        with self.server.lock:
            self.server.copies[copy.port] = copy
        self._reply(201, {"port": copy.port})

    def do_DELETE(self) -> None:
        found = re.fullmatch(r"/apps/(\d{1,5})", self.path)
        with self.server.lock:
            copy = self.server.copies.pop(int(found[1]), None) if found else None
        if copy is not None:
            copy.stop()
        self._reply(204 if copy is not None else 404)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--app-dir", type=Path, default=Path("/app/expensify"))
    options = parser.parse_args()
    probe = Copy(options.app_dir, [])
    problem = probe.wait_listening()
    probe.stop()
    if problem is not None:
        print(f"[launcher] the build check failed: {problem}", flush=True)
        sys.exit(1)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # the copies stop with it
    server = Launcher(options.port, options.app_dir)
    print(f"[launcher] serving copies of the app on 127.0.0.1:{options.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        for copy in list(server.copies.values()):
            copy.stop()


if __name__ == "__main__":
    main()
