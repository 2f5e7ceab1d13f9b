"""The agent cannot see or change what grades it: scripted adversarial agents try."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cli_runs import unique

from swelancer.benchmark.setup import wait_until_ready
from swelancer.sandbox.docker import DockerSandbox
from swelancer.tasks.models import IcTask

pytestmark = pytest.mark.docker

# Built from parts so that the search's own command line does not hold the marker.
SEARCH = r"""
import os, stat, subprocess
needle = ("SWELANCER-HIDDEN" + "-TEST-7c1f0e").encode()
me = str(os.getpid())
hits = []
def scan(path, limit=200_000_000):
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return
        with open(path, "rb") as handle:
            if needle in handle.read(limit):
                hits.append(path)
    except Exception:
        pass
for root, dirs, files in os.walk("/"):
    if root == "/":
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
    for name in files:
        scan(os.path.join(root, name))
for pid in os.listdir("/proc"):
    if not pid.isdigit() or pid == me:
        continue
    for part in ("cmdline", "environ"):
        scan(f"/proc/{pid}/{part}")
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            scan(f"/proc/{pid}/fd/{fd}")
    except Exception:
        pass
objects = subprocess.run(
    ["git", "cat-file", "--batch-all-objects", "--batch"],
    cwd="/app/expensify", capture_output=True,
).stdout
if needle in objects:
    hits.append("git objects")
print("SEARCHED", "HITS:", sorted(set(hits)) or "none")
"""


def script(tmp_path: Path, *replies: str) -> str:
    path = tmp_path / "script.json"
    path.write_text(json.dumps([*replies, "DONE"]))
    return f"mock/scripted:{path}"


def python_block(code: str) -> str:
    return f"```python\n{code}\n```"


def swelancer(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "swelancer", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


RUN_ID = unique("iso")
"""This module's run id: an engine shared with other work (another checkout's tests) may hold
another run of these tests at the same time."""


def run_task(tmp_path: Path, model: str, task: str, *extra: str) -> tuple[dict, list[dict]]:
    """Run one demo task; the attempt's record and transcript events."""
    done = swelancer(
        "run", "--split", "demo", "--model", model, "--task", task, "--results-dir",
        str(tmp_path), "--run-id", RUN_ID, "--test-runs", "1", "--quiet", *extra,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = (tmp_path / RUN_ID / "attempts.jsonl").read_text().splitlines()
    events = (tmp_path / RUN_ID / "attempts" / task / "1" / "transcript.jsonl").read_text()
    return json.loads(line), [json.loads(e) for e in events.splitlines()]


def outputs(events: list[dict]) -> list[str]:
    return [e["output"] for e in events if e["kind"] == "command"]


def test_the_search_finds_the_marker_where_tests_are_present(demo_image, docker_client):
    """Control: the very search the agent runs does find the planted marker."""
    env = {"ISSUE_ID": "101", "EVAL_VARIANT": "ic_swe"}
    with DockerSandbox.start(demo_image, env=env, client=docker_client) as sandbox:
        wait_until_ready(sandbox, IcTask(task_id="101", price_usd=0), 120)
        found = sandbox.exec(["python3", "-c", SEARCH], timeout=300).output
    assert "SEARCHED" in found and "/app/tests/issues/101/test.py" in found


def test_hidden_tests_are_nowhere_while_the_agent_works(demo_image, tmp_path):
    record, events = run_task(tmp_path, script(tmp_path, python_block(SEARCH)), "101")
    (found,) = outputs(events)
    assert "SEARCHED HITS: none" in found, found
    assert record["status"] == "failed"  # it searched instead of fixing


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"host says hello")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def control(demo_image, docker_client):
    """A container with the network, as the agent's would have without the cut."""
    env = {"EVAL_VARIANT": "swe_manager"}
    with DockerSandbox.start(demo_image, env=env, client=docker_client) as sandbox:
        yield sandbox


@pytest.fixture
def host_server(control, docker_client):
    """An HTTP server on this machine, bound only to the Docker bridge's gateway address."""
    networks = docker_client.api.inspect_container(control.id)["NetworkSettings"]["Networks"]
    gateway = networks["bridge"]["Gateway"]
    server = http.server.ThreadingHTTPServer((gateway, 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield gateway, server.server_address[1]
    server.shutdown()
    server.server_close()


PROBE = r"""
import socket, urllib.request
try:
    body = urllib.request.urlopen("http://{host}:{port}/", timeout=5).read().decode()
    print("HOST REACHED:", body)
except Exception as exc:
    print("HOST UNREACHABLE:", type(exc).__name__)
try:
    socket.getaddrinfo("pypi.org", 443)
    print("NAME RESOLVED")
except Exception as exc:
    print("NO NAME RESOLUTION:", type(exc).__name__)
"""


def test_the_agent_has_no_network(control, host_server, tmp_path):
    host, port = host_server
    probe = PROBE.format(host=host, port=port)
    assert "HOST REACHED: host says hello" in control.exec(["python3", "-c", probe]).output
    _, events = run_task(tmp_path, script(tmp_path, python_block(probe)), "110-manager-0")
    (seen,) = outputs(events)
    assert "HOST UNREACHABLE" in seen and "NO NAME RESOLUTION" in seen, seen


TAMPER = r"""
import pathlib, _pytest.config
config = pathlib.Path(_pytest.config.__file__)
fake = "def console_main():\n    print('=' * 20 + ' 1 passed in 0.01s ' + '=' * 20)\n    return 0\n"
config.write_text(config.read_text() + "\n" + fake)
print("pytest now always passes, with a summary that says so")
"""


@pytest.mark.parametrize("grade_in", ["same", "fresh"])
def test_a_test_runner_made_to_always_pass_passes_nothing(demo_image, tmp_path, grade_in):
    """pytest's entry point patched to print a passing summary and exit 0: in place, the
    engine's record shows the tests' Python changed, so the change is graded in a fresh sandbox,
    where pytest is the image's and the test fails."""
    record, _ = run_task(
        tmp_path, script(tmp_path, python_block(TAMPER)), "101", "--grade-in", grade_in
    )
    assert record["status"] == "failed" and record["test_exit_codes"] == {"101": [1]}, record
    if grade_in == "same":
        assert record["graded_in"].startswith("fresh: ") and "_pytest" in record["graded_in"]
    else:
        assert record["graded_in"] == "fresh" and record["tampering"] is None
    run = json.loads((tmp_path / RUN_ID / "run.json").read_text())
    assert run["grade_in"] == grade_in


HOGS = [
    "import subprocess; subprocess.run('yes | head -c 3000000000', shell=True)",
    "x = bytearray(2 * 1024**3); print('allocated', len(x))",
    "import subprocess; subprocess.Popen(['bash', '-c', 'f(){ f|f& }; f']); print('bomb away')",
    "print('still here')",
]


def test_resource_hogs_end_their_command_not_the_harness(demo_image, tmp_path):
    blocks = [python_block(code) for code in HOGS]
    record, events = run_task(
        tmp_path, script(tmp_path, *blocks), "101",
        "--memory", "512m", "--pids-limit", "256", "--command-timeout", "60",
    )  # fmt: skip
    commands = [e for e in events if e["kind"] == "command"]
    assert len(commands) == 4, "every command ran and returned"
    flood, memory, bomb, _ = commands
    assert flood["truncated"] and len(flood["output"]) < 2_000_000
    assert "truncated" in flood["output"]
    assert memory["exit_code"] == 137 and "allocated" not in memory["output"]  # OOM-killed
    assert "bomb away" in bomb["output"]
    # The fork bomb left running is killed before grading: the attempt is graded, not an
    # infrastructure error, and it needed no retry.
    assert record["status"] == "failed" and record["infra_retries"] == 0, record
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=swelancer.run_id={RUN_ID}"],
        capture_output=True,
        text=True,
    )
    assert left.stdout.strip() == ""


def test_containers_have_no_added_privileges_and_no_keys(demo_image, docker_client):
    os.environ.setdefault("OPENAI_API_KEY", "sk-never-in-containers")
    from swelancer.run.attempt import AttemptSettings, sandbox_spec
    from swelancer.sandbox.docker.provider import DockerProvider
    from swelancer.tasks.manifest import load_manifest
    from swelancer.tasks.sources import demo_manifest_path

    task = next(t for t in load_manifest(demo_manifest_path()) if t.task_id == "101")
    settings = AttemptSettings(run_id=f"{RUN_ID}-priv", model="gpt-4o", image=demo_image)
    sandbox = DockerProvider(docker_client).start(sandbox_spec(task, 1, settings))
    try:
        host_config = docker_client.api.inspect_container(sandbox.name)["HostConfig"]
        assert host_config["Privileged"] is False
        assert not host_config.get("CapAdd")
        assert host_config["PidsLimit"] == 4096 and host_config["Memory"] == 8 * 1024**3
        environment = sandbox.exec("cat /proc/1/environ | tr '\\0' '\\n'").output
        assert "API_KEY" not in environment and "sk-" not in environment
    finally:
        sandbox.remove()


SABOTAGE_GRADER = r"""
import pathlib, _pytest.config
config = pathlib.Path(_pytest.config.__file__)
config.write_text(config.read_text() + "\ndef console_main():\n    return 3\n")
print("pytest now reports an internal error")
"""

STOP_CONTAINER = r"""
import os, signal
for pid in os.listdir("/proc"):
    if pid.isdigit() and pid != "1":
        try:
            parent = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]
        except OSError:
            continue
        if parent == "1":
            os.kill(int(pid), signal.SIGKILL)  # the entrypoint: the container stops
"""


def test_breaking_the_grader_on_purpose_is_a_failure_not_an_error(demo_image, tmp_path):
    """Errors are left out of every score, so an agent must not be able to cause one."""
    record, events = run_task(tmp_path, script(tmp_path, python_block(SABOTAGE_GRADER)), "101")
    assert record["status"] == "failed" and record["infra_retries"] == 0, record
    assert record["graded_in"].startswith("fresh: "), record
    assert any(e["kind"] == "graded_fresh" for e in events)


def test_stopping_its_own_container_is_a_failure_not_an_error(demo_image, tmp_path):
    record, _ = run_task(tmp_path, script(tmp_path, python_block(STOP_CONTAINER)), "102_1")
    assert record["status"] == "failed" and record["infra_retries"] == 0, record
    # The container stops as its init's children die: within the turn, or (under load) only
    # after it, when the control decides
    assert ("container stopped during the agent's turn" in record["reason"]
            or "container stopped after its turn" in record["reason"]), record  # fmt: skip
