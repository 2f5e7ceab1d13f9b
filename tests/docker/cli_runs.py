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


FIX_101 = (
    "sed -i 's/return int(value \\* 10 \\*\\* places(currency))/"
    "return int(round(value * 10 ** places(currency)))/' expenses/money.py && echo FIXED-101"
)
"""The fix of demo task 101 as one shell command (it prints FIXED-101), for scripted sessions."""


def run_installed(results: Path, run_id: str, agent: str, model: str, keys: dict[str, str],
                  *extra: str, timeout: float = 1500) -> None:  # fmt: skip
    """`swelancer run --agent AGENT --model MODEL` on the demo split, `keys` (the provider's
    key and base URL) added to this process's environment; it must succeed."""
    args = run_args(results, run_id, *extra, "--agent", agent)
    args[args.index("mock/oracle")] = model
    done = subprocess.run(args, env={**os.environ, **keys}, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


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


def metered_as_the_gateway_says(
    run_dir: Path, run_id: str, record: dict, folder: Path, key: str, version: str
) -> list:
    """An installed agent's run kept the gateway's word: the record's tokens and dollars are
    those its calls were metered at, run.json pins the agent's version, the real key is in no
    file of the run, and no container of the run (task or relay) is left. Its metered calls."""
    from swelancer.gateway.ledger import read_records

    calls = [r for r in read_records(folder) if r.metered]
    assert record["tokens"]["input"] == sum(r.usage.input_tokens for r in calls)
    assert record["cost_usd"] == pytest.approx(sum(r.cost_usd or 0 for r in calls))
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["installed_agent"]["version"] == version
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert key not in path.read_text(errors="replace"), path
    assert containers(run_id) == []
    return calls


def own_peak_rss_kb(pid: int) -> int:
    """The process's own peak resident memory so far (`VmHWM`); 0 once it has gone. Not
    wait4's `ru_maxrss`: a process started from this one carries this one's peak in it (exec
    keeps the larger of the old and new memory's peaks), and a test process holds hundreds of
    MB late in a session, so that figure says nothing of the harness."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((ln for ln in status.splitlines() if ln.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1])
