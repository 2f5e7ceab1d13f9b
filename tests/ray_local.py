"""A throwaway Ray cluster on this machine, for the Ray tests and benchmark: a head and more
raylets, each offering `docker_slots`, with a temporary directory and ports of its own so that it
never meets another cluster here. `stop()` kills exactly its own processes (each `ray start` runs
in a session of its own; every process of that session goes), never `ray stop`, which would end
every Ray cluster on the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
START_WAIT_S = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Raylet:
    leader: int
    """The pid of its `ray start --block`, the leader of the session all its processes are in."""
    node_manager_port: int
    out: Path

    def raylet_pid(self) -> int | None:
        """The raylet process itself (found by its node manager port)."""
        flag = f"--node_manager_port={self.node_manager_port}"
        for pid, args in _processes():
            if args and args[0].endswith("raylet/raylet") and flag in args:
                return pid
        return None

    def node_id(self) -> str | None:
        pid = self.raylet_pid()
        if pid is None:
            return None
        for arg in _cmdline(pid):
            if arg.startswith("--node_id="):
                return arg.split("=", 1)[1]
        return None


class LocalRayCluster:
    """`with LocalRayCluster(nodes=2) as cluster: cluster.address …`"""

    def __init__(self, nodes: int = 2, slots: int = 1) -> None:
        self.temp_dir = Path(f"/tmp/swlr-{secrets.token_hex(4)}")  # short: Ray's sockets live here
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.slots = slots
        self.want = nodes
        self.raylets: list[Raylet] = []

    def __enter__(self) -> LocalRayCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.temp_dir.mkdir(parents=True)
        for k in range(self.want):
            self._start_raylet(head=k == 0)
        self.wait_for_nodes(self.want)

    def _start_raylet(self, *, head: bool) -> Raylet:
        for attempt in range(3):  # a busy machine can make a raylet miss Ray's start deadline
            raylet = self._spawn(head=head, name=f"{len(self.raylets)}-{attempt}")
            if _wait_started(raylet):
                self.raylets.append(raylet)
                return raylet
            _kill_session(raylet.leader)
        raise RuntimeError(f"a raylet would not start; see {raylet.out}")

    def _spawn(self, *, head: bool, name: str) -> Raylet:
        nm_port = free_port()
        args = [
            RAY, "start", "--block", "--disable-usage-stats", "--num-cpus=1",
            f"--resources={json.dumps({'docker_slots': self.slots})}",
            f"--temp-dir={self.temp_dir}", "--object-store-memory=100000000",
            f"--node-manager-port={nm_port}", f"--object-manager-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}", f"--metrics-export-port={free_port()}",
        ]  # fmt: skip
        if head:
            args += [
                "--head", f"--port={self.port}", "--include-dashboard=false",
                f"--dashboard-port={free_port()}",
            ]  # fmt: skip
        else:
            args += [f"--address={self.address}"]
        out = self.temp_dir / f"raylet-{name}.out"
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        with out.open("wb") as handle:
            proc = subprocess.Popen(
                args, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True, env=env
            )
        return Raylet(leader=proc.pid, node_manager_port=nm_port, out=out)

    def add_raylet(self) -> Raylet:
        raylet = self._start_raylet(head=False)
        self.wait_for_nodes(len(self.raylets))
        return raylet

    def nodes(self) -> list[dict]:
        """The live nodes, as Ray lists them (asked from a short-lived driver)."""
        code = (
            "import json, logging, ray; "
            f"ray.init(address={self.address!r}, logging_level=logging.ERROR, "
            "log_to_driver=False); "
            "print(json.dumps([{'id': n['NodeID'], 'port': n['NodeManagerPort'], "
            "'slots': n['Resources'].get('docker_slots', 0)} for n in ray.nodes() "
            "if n['Alive']]))"
        )
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        return json.loads(done.stdout.strip().splitlines()[-1])

    def wait_for_nodes(self, count: int) -> list[dict]:
        deadline = time.monotonic() + START_WAIT_S
        while True:
            nodes = self.nodes()
            if len(nodes) >= count or time.monotonic() > deadline:
                if len(nodes) < count:
                    raise RuntimeError(f"{len(nodes)} of {count} raylets joined {self.address}")
                return nodes
            time.sleep(1)

    def stop(self) -> None:
        for raylet in self.raylets:
            _kill_session(raylet.leader)
        self.raylets.clear()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _wait_started(raylet: Raylet) -> bool:
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        text = raylet.out.read_text(errors="replace") if raylet.out.exists() else ""
        if "Ray runtime started" in text:
            return True
        if not _alive(raylet.leader):
            return False
        time.sleep(0.5)
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # a zombie has exited
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    return True


def _kill_session(leader: int) -> None:
    """SIGKILL every process of the session `leader` leads (its raylet, GCS, workers, …)."""
    for pid, _ in _processes():
        with contextlib.suppress(OSError):
            if os.getsid(pid) == leader:
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(leader, 0)


def _processes() -> list[tuple[int, list[str]]]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found.append((int(entry.name), _cmdline(int(entry.name))))
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
