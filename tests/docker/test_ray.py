"""`--executor ray` on a real Ray cluster started here: a head and a second raylet on this
machine, each with one docker_slots, sharing this machine's Docker engine. A subset of the demo
split runs on it and must give what a local run gives; then the second raylet is killed in the
middle of a run, and every attempt must still be recorded exactly once and no container left."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from cli_runs import containers

pytestmark = pytest.mark.docker

TASKS = ["101", "102_1", "103", "104", "110-manager-0", "111-manager-0"]
KEY_ENV = "OPENAI_API_KEY"


def _ray_or_unavailable() -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("ray is not installed (CI is set: `pip install '.[test]'`)", pytrace=False)
        pytest.skip("ray is not installed (`pip install 'swelancer[ray]'`)")


def swelancer_cmd(results: Path, run_id: str, *extra: str) -> list[str]:
    tasks = [arg for task in TASKS for arg in ("--task", task)]
    return [
        sys.executable, "-m", "swelancer", "run", "--split", "demo", "--model", "mock/oracle",
        "--results-dir", str(results), "--run-id", run_id, "-j", "2", "-q", *tasks, *extra,
    ]  # fmt: skip


def run_swelancer(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def records(run_dir: Path) -> list[dict]:
    lines = (run_dir / "attempts.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def outcome(run_dir: Path) -> dict[str, tuple[str, float]]:
    return {r["task_id"]: (r["status"], r["earned_usd"]) for r in records(run_dir)}


def assert_once_each(run_dir: Path) -> None:
    counts = Counter((r["task_id"], r["attempt"]) for r in records(run_dir))
    assert counts == Counter({(task, 1): 1 for task in TASKS}), counts


@pytest.fixture(scope="module")
def cluster(demo_image):
    _ray_or_unavailable()
    from ray_local import LocalRayCluster

    with LocalRayCluster(nodes=2, slots=1) as local:
        yield local


@pytest.fixture(scope="module")
def local_run(demo_image, tmp_path_factory) -> Path:
    results = tmp_path_factory.mktemp("local")
    run_swelancer(swelancer_cmd(results, "local"))
    return results / "local"


def test_demo_on_two_raylets_gives_the_local_report(cluster, local_run, tmp_path):
    token = f"sk-test-{secrets.token_hex(12)}"
    run_id = f"ray-{secrets.token_hex(3)}"
    args = swelancer_cmd(tmp_path, run_id, "--executor", "ray", "--ray-address", cluster.address)
    run_swelancer(args, env={KEY_ENV: token})
    run_dir = tmp_path / run_id

    assert_once_each(run_dir)
    assert outcome(run_dir) == outcome(local_run)
    assert all(status == "passed" for status, _ in outcome(run_dir).values())
    executor = json.loads((run_dir / "run.json").read_text())["executor"]
    assert executor["name"] == "ray" and executor["address"] == cluster.address
    assert sorted(n["docker_slots"] for n in executor["nodes"]) == [1.0, 1.0]
    log = (run_dir / "run.log").read_text()
    for node in executor["nodes"]:  # -j 2 on two nodes of one slot: both took attempts
        # "started on" or, when the start was not polled before the end (a loaded machine),
        # the outcome line "passed on" names the node
        assert re.search(rf"(started|passed) on {re.escape(node['ip'])}/{node['node_id'][:8]}", log)
    local_files = sorted(p.relative_to(local_run) for p in local_run.glob("attempts/**/*"))
    assert sorted(p.relative_to(run_dir) for p in run_dir.glob("attempts/**/*")) == local_files
    assert containers(run_id) == []

    leaks = [
        str(path)
        for root in (run_dir, cluster.temp_dir, Path("/tmp/ray/session_latest"))
        for path in (root.rglob("*") if root.exists() else [])
        if path.is_file() and not path.is_symlink() and token.encode() in _bytes(path)
    ]
    assert leaks == [], f"the API key was written to {leaks}"


def test_a_raylet_lost_mid_run_retries_its_attempt_elsewhere(cluster, local_run, tmp_path):
    second = cluster.raylets[1]
    node_id = second.node_id()
    assert node_id is not None
    label = node_id[:8]
    run_id = f"ray-kill-{secrets.token_hex(3)}"
    args = swelancer_cmd(tmp_path, run_id, "--executor", "ray", "--ray-address", cluster.address)
    run_dir = tmp_path / run_id
    output = tmp_path / "output.txt"
    with output.open("w") as sink, subprocess.Popen(args, stdout=sink, stderr=sink) as run:
        killed = _kill_when_busy(run, run_dir / "run.log", label, second.raylet_pid())
        run.wait(timeout=600)
    err = output.read_text(errors="replace")
    assert killed, f"no attempt was seen on node {label}:\n{err[-3000:]}"
    assert run.returncode == 0, err[-4000:]

    assert_once_each(run_dir)
    mine = records(run_dir)
    retried = [r for r in mine if r["infra_retries"] >= 1]
    lost = [r for r in mine if r["status"] == "error" and r["error"]["kind"] == "node_lost"]
    assert retried or lost, [(r["task_id"], r["status"], r["infra_retries"]) for r in mine]
    passed = sum(r["status"] == "passed" for r in mine)
    assert passed + len(lost) == sum(s == "passed" for s, _ in outcome(local_run).values())
    for r in retried:  # the lost try's folder was set aside, saying why
        folder = run_dir / "attempts" / r["task_id"]
        notes = [p.read_text() for p in folder.glob("1.unfinished-*/error.txt")]
        assert any("node_lost" in note for note in notes), notes
    assert containers(run_id) == []


def _kill_when_busy(run: subprocess.Popen, log: Path, label: str, raylet: int | None) -> bool:
    """SIGKILL the raylet once an attempt of an IC task is in its setup there."""
    assert raylet is not None
    while run.poll() is None:
        text = log.read_text(errors="replace") if log.exists() else ""
        busy = [line for line in text.splitlines() if f"/{label}: setup" in line]
        if any("manager" not in line for line in busy):
            os.kill(raylet, signal.SIGKILL)
            return True
        time.sleep(0.2)
    return False


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""
