"""Attacks on the split itself: the app (the agent's code) may look for the judge in its own
network namespace (where the relay to its ports runs for the judge) and try to stall it.
Carried out for real on the demo image by scripted agents that never fix their task (demo
task 101):

- probe: whenever it is imported (the build, the dev server, every copy the test asks for),
  the app lists every socket of its network namespace (`/proc/net/tcp*`, `/proc/net/unix` are
  per network namespace), keeps those no process of its own container holds (the relay's),
  and connects to each to read what it says; it also looks for the judge's pytest among the
  processes it can see. It prints what it found (the dev server's log, kept in the attempt's
  grading folder) and appends it to /tmp, which the agent reads after a user-tool call made
  with `--user-tool-in same` (the app runs in the agent's own container then).
- stall: every copy of the app the test asks for accepts the connection, answers a status line
  and then one byte every few seconds for ever, so the judge's browser never times out and its
  pytest never ends.

The guarantees: the judge offers the app nothing in the app's namespace (no listener, no named
socket, no process to see); a judge stalled for ever ends at the test's deadline, the attempt is
`failed` (the untouched task grades cleanly), recorded once, and no container is left.

And the judge's own namespace: an abstract Unix socket the app side binds (the X display
upstream's headed browser draws on, `:99`, tried first as `@/tmp/.X11-unix/X99`) is not what
the judge reaches under that name, while the app's declared ports are.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cli_runs import unique

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
MARKER = "SWELANCER-HIDDEN" + "-TEST-7c1f0e"

PROBE = r"""
import json, os, socket
def inodes_of_own_processes():
    own = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    own.add(link[8:-1])
        except OSError:
            pass
    return own
own = inodes_of_own_processes()
found = {"pid": os.getpid(), "tcp": [], "unix": [], "pytest_seen": []}
for name in ("tcp", "tcp6"):
    try:
        rows = open(f"/proc/net/{name}").read().splitlines()[1:]
    except OSError:
        continue
    for row in rows:
        cells = row.split()
        if cells[3] != "0A" or cells[9] in own:  # listening, and not ours
            continue
        port = int(cells[1].rsplit(":", 1)[1], 16)
        said = ""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                conn.settimeout(2)
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                said = conn.recv(300).decode("latin-1")
        except OSError as exc:
            said = f"<{type(exc).__name__}>"
        found["tcp"].append({"port": port, "said": said})
for row in open("/proc/net/unix").read().splitlines()[1:]:
    cells = row.split()
    if len(cells) < 8 or cells[6] in own:
        continue
    path = cells[7]
    entry = {"path": path, "connected": False}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(2)
            conn.connect("\0" + path[1:] if path.startswith("@") else path)
            entry["connected"] = True
    except OSError:
        pass
    found["unix"].append(entry)
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        line = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
    except OSError:
        continue
    if "pytest" in line:
        found["pytest_seen"].append(line[:200])
text = "JUDGE-PROBE " + json.dumps(found)
print(text, flush=True)
with open("/tmp/judge-probe.jsonl", "a") as out:
    out.write(text + "\n")
"""

STALL = r"""
import socket, sys, threading, time
if "--port" in sys.argv:  # a copy of the app (python3 -m expenses --port N): never answer
    port = int(sys.argv[sys.argv.index("--port") + 1])
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(16)
    def trickle(conn):
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
            while True:
                time.sleep(5)
                conn.sendall(b".")
        except OSError:
            pass
    while True:
        conn, _ = server.accept()
        threading.Thread(target=trickle, args=(conn,), daemon=True).start()
"""

INSTALL = r"""
import pathlib
hook = PARAMS["hook"]
init = pathlib.Path("/app/expensify/expenses/__init__.py")
tail = ", '<planted>', 'exec'), {'__name__': 'planted'})\nexcept BaseException:\n    pass\n"
init.write_text(init.read_text() + "\ntry:\n    exec(compile(" + repr(hook) + tail)
print("hook installed")
"""

SHOW = r"""
import pathlib
path = pathlib.Path("/tmp/judge-probe.jsonl")
print(path.read_text() if path.exists() else "NO PROBE RAN")
print("SHOW DONE")
"""


def block(code: str, **params: object) -> str:
    head = f"import json as _json\nPARAMS = _json.loads({json.dumps(params)!r})\n"
    return f"```python\n{head}{code}\n```"


RUNS = {  # name: (replies, options)
    "probe": (
        [block(INSTALL, hook=PROBE), "<user-tool>", block(SHOW), "DONE"],
        ["--grade-in", "same", "--user-tool-in", "same"],
    ),
    "stall": (
        [block(INSTALL, hook=STALL), "DONE"],
        ["--grade-in", "fresh", "--test-timeout", "150"],
    ),
}


def _run(tmp: Path, name: str, image: str) -> tuple[dict, str]:
    replies, options = RUNS[name]
    script = tmp / f"{name}.json"
    script.write_text(json.dumps(replies))
    done = subprocess.run(
        [sys.executable, "-m", "swelancer", "run", "--split", "demo", "--task", "101",
         "--model", f"mock/scripted:{script}", *options, "--test-runs", "1", "--image", image,
         "--results-dir", str(tmp), "--run-id", (own := unique(f"judge-{name}")), "--quiet"],
        capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (tmp / f"judge-{name}").symlink_to(tmp / own)  # the run's folder under the test's name
    lines = (tmp / own / "attempts.jsonl").read_text().splitlines()
    (record,) = [json.loads(line) for line in lines]  # every attempt recorded once
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=swelancer.run_id={own}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.split() == [], f"containers of {own} left behind"
    return record, (tmp / own / "attempts/101/1/transcript.jsonl").read_text()


@pytest.fixture(scope="module")
def demo_id(docker_client) -> str:
    from swelancer.ops.images import DEMO_IMAGE
    from swelancer.sandbox.docker.images import ensure_images

    ids = ensure_images(docker_client, [DEMO_IMAGE], build_demo=True, on_line=lambda line: None)
    return ids[DEMO_IMAGE]


@pytest.fixture(scope="module")
def runs(demo_id, tmp_path_factory):
    from swelancer.ops.images import DEMO_IMAGE

    # Each run starts every container from the id the demo tag had when it began, so other
    # work on this engine moving `swelancer-demo:latest` meanwhile mixes no images within one.
    tmp = tmp_path_factory.mktemp("judge-attacks")
    with ThreadPoolExecutor(max_workers=len(RUNS)) as pool:
        futures = {name: pool.submit(_run, tmp, name, DEMO_IMAGE) for name in RUNS}
        yield tmp, {name: future.result() for name, future in futures.items()}


def _probes(text: str) -> list[dict]:
    found = []
    for line in text.splitlines():
        at = line.find("JUDGE-PROBE {")
        if at >= 0:
            found.append(json.loads(line[at + len("JUDGE-PROBE ") :]))
    return found


def test_the_judge_offers_the_app_nothing_in_its_network(runs):
    tmp, done = runs
    record, transcript = done["probe"]
    assert (record["status"], record["earned_usd"], record["error"]) == ("failed", 0, None)
    assert record["graded_in"] == "same" and record["test_exit_codes"] == {"101": [1]}, record
    assert record["infra_retries"] == 0, record
    events = [json.loads(line) for line in transcript.splitlines()]
    shown = "\n".join(str(e.get("output", "")) for e in events if e["kind"] != "user_tool")
    assert "SHOW DONE" in shown, transcript[-3000:]
    in_user_tool = _probes(shown)
    app_log = tmp / "judge-probe/attempts/101/1/grading/101/run-1/app.log"
    in_grading = _probes(app_log.read_text())
    # the app ran while the judge's test was reaching it, in the user tool and in grading
    assert len(in_user_tool) >= 2 and len(in_grading) >= 2, (in_user_tool, in_grading)
    for found in in_user_tool + in_grading:
        assert found["tcp"] == [], f"the app reached a listener of the judge's: {found}"
        assert [u for u in found["unix"] if u["path"] != "" and u["connected"]] == [], found
        assert found["pytest_seen"] == [], f"the app saw the judge's pytest: {found}"
    assert MARKER not in transcript


def test_a_judge_stalled_for_ever_ends_at_its_deadline_as_a_failure(runs):
    _, done = runs
    record, _ = done["stall"]
    assert (record["status"], record["earned_usd"], record["error"]) == ("failed", 0, None)
    assert record["infra_retries"] == 0, "the stall caused no fault of the infrastructure"
    assert "did not finish within" in (record["reason"] or ""), record
    assert record["control_exit_codes"] == [1], "the untouched task graded cleanly"


SERVE_DISPLAY = r"""
import os, socket
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind("\0/tmp/.X11-unix/X99")  # the abstract name X clients (libxcb) try first for :99
server.listen(4)
if os.fork() == 0:
    os.setsid()
    while True:
        conn, _ = server.accept()
        conn.sendall(b"the app's display\n")
        conn.close()
print("serving")
"""

SERVE_PORT = r"""
import os, socket, sys
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
if os.fork() == 0:
    os.setsid()
    while True:
        conn, _ = server.accept()
        conn.sendall(b"the app's port\n")
        conn.close()
print("serving")
"""

REACH_PORT = r"""
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30) as conn:
    print(conn.recv(100).decode().strip() or "nothing")
"""

REACH_DISPLAY = r"""
import socket
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    conn.connect("\0/tmp/.X11-unix/X99")
    print(conn.recv(100).decode().strip())
except OSError as exc:
    print(f"no display of the app's: {exc}")
"""


def test_the_judges_display_is_not_one_the_app_serves(runs, demo_id):
    """The app side binds the abstract socket X clients try first for `DISPLAY=:99` and serves
    its port 8082; a judge started as grading starts it (a namespace of its own reaching the
    app's declared ports) reaches the app's 8082 and not the app's display."""
    from swelancer.benchmark.app_ports import APP_PORTS, DEV_SERVER_PORT
    from swelancer.sandbox.base import Reach, SandboxSpec
    from swelancer.sandbox.docker.provider import DockerProvider

    provider = DockerProvider()
    marks = {"swelancer.run_id": (run_id := unique("judge-x11")), "swelancer.role": "app"}
    spec = SandboxSpec(image=demo_id, labels=marks, env={"EVAL_VARIANT": "swe_manager"})
    app = provider.start(spec)
    try:
        reach = Reach(of=app.name, ports=APP_PORTS, deadline_s=600)
        judge = provider.start(
            spec.model_copy(update={"reach": reach, "labels": {**marks, "swelancer.role":
                                                                 "judge"}})
        )  # fmt: skip
        try:
            assert "serving" in app.exec(["python3", "-c", SERVE_DISPLAY], timeout=60).output
            served = app.exec(["python3", "-c", SERVE_PORT, str(DEV_SERVER_PORT)], timeout=60)
            assert "serving" in served.output, served.output
            reached = judge.exec(["python3", "-c", REACH_DISPLAY], timeout=60).output
            port = judge.exec(["python3", "-c", REACH_PORT, str(DEV_SERVER_PORT)], timeout=60)
        finally:
            judge.remove()
    finally:
        app.remove()
    assert "the app's port" in port.output, port.output  # the judge does reach the app
    assert "the app's display" not in reached, reached
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=swelancer.run_id={run_id}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    volumes = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"label=swelancer.run_id={run_id}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert (left, volumes) == ([], []), "the forwarder's container and volume go with the judge"
