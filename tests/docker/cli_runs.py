"""What the run tests of this folder share: `swelancer run` on the demo split as a process,
and what it leaves (records, containers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest


def unique(name: str) -> str:
    return f"{name}-{os.getpid()}-{time.monotonic_ns() % 10**9}"


def run_args(results: Path, run_id: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "swelancer", "run", "--split", "demo", "--model", "mock/oracle",
        "--results-dir", str(results), "--run-id", run_id, "--quiet", *extra,
    ]  # fmt: skip


def records(run_dir: Path) -> list[dict]:
    path = run_dir / "attempts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def containers(run_id: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=swelancer.run_id={run_id}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def start_and_wait(args: list[str], run_dir: Path, at_least: int) -> subprocess.Popen:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if len(records(run_dir)) >= at_least:
            return proc
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"the run ended or stalled before {at_least} records: {proc.stderr.read()}")


SOME = ["--task", "101", "--task", "110-manager-0", "--task", "102_1", "--task", "103"]
