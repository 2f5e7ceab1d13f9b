"""The harness's overhead on one demo IC attempt with the gold patch (needs a Docker engine).

Times, in turns, `Runner.run()` of `mock/oracle` on one demo IC task (`--test-runs 1`, grading
in the agent's container) and the same container steps with the bare docker CLI: `docker run`,
wait for /setup_done.txt, reverse the bug patch, run upstream's grading command as the harness
does (`bash -i -c 'export ISSUE_ID=...; ansible-playbook ... run_tests.yml'`), read the exit
code, `docker rm`. Both ways cold (`--no-snapshots`) and from the task's snapshot. Prints the
median of each and the ratio harness / bare (target: at most 1.1).

    .venv/bin/python benchmarks/overhead.py [--task 101] [--rounds 5]
"""

from __future__ import annotations

import argparse
import io
import json
import secrets
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from swelancer.benchmark import setup
from swelancer.config import (
    AgentSection,
    GradingSection,
    RunConfig,
    RunSection,
    SandboxSection,
    Selection,
)
from swelancer.ops.images import DEMO_IMAGE
from swelancer.run.runner import Runner
from swelancer.run.spec import AttemptSettings, container_env, sandbox_spec
from swelancer.sandbox.docker import docker_client, remove_containers
from swelancer.sandbox.docker.images import ensure_images
from swelancer.sandbox.docker.provider import DockerProvider
from swelancer.sandbox.docker.snapshot_index import list_snapshots
from swelancer.sandbox.docker.snapshots import SnapshotStore
from swelancer.tasks.catalog import TaskQuery, load_tasks

PLAYBOOK = 'ansible-playbook -i "localhost," --connection=local /app/tests/run_tests.yml'


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def bare(image: str, task, label: str) -> float:
    """The attempt's container steps with the docker CLI; seconds."""
    env = [a for k, v in container_env(task).items() for a in ("-e", f"{k}={v}")]
    logs = f"/app/tests/logs/{task.task_id}"
    began = time.monotonic()
    cid = docker("run", "-d", "--init", "--label", f"swelancer.run_id={label}", *env, image)
    cid = cid.strip()
    marker = ["exec", cid, "sh", "-c", "cat /setup_done.txt 2>/dev/null || true"]
    try:
        while docker(*marker) != "done\n":
            time.sleep(0.05)
        patch = f"/app/tests/issues/{task.task_id}/bug_reintroduce.patch"
        docker("exec", "-w", task.cwd, cid, "git", "apply", "-R", "--whitespace=nowarn", patch)
        docker("exec", cid, "sh", "-c", f"mkdir -p {logs} && rm -rf {logs}/*")
        grade = f"export ISSUE_ID={task.task_id}; {PLAYBOOK}"
        subprocess.run(["docker", "exec", "-w", task.cwd, cid, "bash", "-i", "-c", grade],
                       capture_output=True, check=True)  # fmt: skip
        code = docker("exec", cid, "cat", f"{logs}/pytest_exit_code").strip()
        assert code == "0", f"the gold patch did not pass in the bare run: {code}"
    finally:
        docker("rm", "-f", cid)
    return time.monotonic() - began


def harness(image: str, task_id: str, snapshots: bool, run_id: str) -> tuple[float, dict]:
    """One `Runner.run()` of mock/oracle on the task; seconds, and the record's phases."""
    with tempfile.TemporaryDirectory() as tmp:
        config = RunConfig(
            agent=AgentSection(model="mock/oracle"),
            selection=Selection(split="demo", task_ids=[task_id]),
            run=RunSection(results_dir=Path(tmp), run_id=run_id, concurrency=1),
            sandbox=SandboxSection(image=image, snapshots=snapshots, keep_snapshots=True),
            grading=GradingSection(test_runs=1),
        )
        began = time.monotonic()
        summary = Runner(config, say=lambda line: None).run()
        seconds = time.monotonic() - began
        (line,) = (Path(tmp) / run_id / "attempts.jsonl").read_text().splitlines()
        record = json.loads(line)
    assert summary.passed == 1, record
    want = "snapshot" if snapshots else "cold"
    assert record["setup_from"] == {"agent": want}, record["setup_from"]
    return seconds, record["seconds"]


def private_image(client, tag: str) -> str:
    """The demo image under an id of its own, so that the snapshot made here is ours alone."""
    ensure_images(client, [DEMO_IMAGE])
    dockerfile = f"FROM {DEMO_IMAGE}\nLABEL swelancer.benchmark.run={tag}\n".encode()
    image, _ = client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True)
    return str(image.id)


def make_snapshot(client, image: str, task, run_id: str) -> str:
    store = SnapshotStore(client, run_id=run_id, budget_bytes=10**10, keep=True)
    spec = sandbox_spec(task, 1, AttemptSettings(run_id=run_id, model="bench", image=image))
    box = DockerProvider(client).start(spec)
    try:
        setup.wait_until_ready(box, task, 600)
        made = store.commit(box, image, task.task_id)
    finally:
        box.remove()
    assert made.name, made.refused
    return made.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="101")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    client = docker_client()
    nonce = secrets.token_hex(3)
    tag = f"swelancer-overhead:bench-{nonce}"
    image_id = private_image(client, tag)
    (task,) = load_tasks(TaskQuery(split="demo", task_ids=[args.task])).tasks
    label = f"bench-overhead-{nonce}"
    times: dict[str, list[float]] = {"bare cold": [], "harness cold": [],
                                     "bare snapshot": [], "harness snapshot": []}  # fmt: skip
    phases: dict[str, list[dict]] = {"cold": [], "snapshot": []}
    try:
        snapshot = make_snapshot(client, tag, task, label)
        harness(tag, args.task, False, f"{label}-warm")  # imports and caches, not timed
        for n in range(args.rounds):
            times["bare cold"].append(bare(tag, task, label))
            seconds, split = harness(tag, args.task, False, f"{label}-c{n}")
            times["harness cold"].append(seconds)
            phases["cold"].append(split)
            times["bare snapshot"].append(bare(snapshot, task, label))
            seconds, split = harness(tag, args.task, True, f"{label}-s{n}")
            times["harness snapshot"].append(seconds)
            phases["snapshot"].append(split)
        for name, values in times.items():
            shown = ", ".join(f"{v:.2f}" for v in values)
            print(f"{name:17s} median {statistics.median(values):5.2f} s  ({shown})")
        for start in ("cold", "snapshot"):
            ratio = statistics.median(times[f"harness {start}"]) / statistics.median(
                times[f"bare {start}"]
            )
            split = {k: statistics.median(p[k] for p in phases[start]) for k in phases[start][0]}
            parts = ", ".join(f"{k} {v:.2f} s" for k, v in split.items())
            verdict = "met" if ratio <= 1.1 else "NOT met"
            print(f"{start:8s} harness/bare {ratio:.2f}x (target <= 1.1x: {verdict}); {parts}")
    finally:
        remove_containers(client, run_id=label)
        for found in list_snapshots(client):
            if found.base_id == image_id:
                client.images.remove(found.image_id, force=True)
        client.images.remove(tag, force=True)


if __name__ == "__main__":
    main()
