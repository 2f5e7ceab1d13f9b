"""The whole pipeline on the demo split, in the real engine, through the real CLI. (The gold
agent's run of the whole split is `test_beside_another_run.py`'s other run.)"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runs import unique

from swelancer.tasks.manifest import load_manifest
from swelancer.tasks.sources import demo_manifest_path

pytestmark = pytest.mark.docker


def swelancer(*args: str, env: dict | None = None, timeout: float = 900):
    return subprocess.run(
        [sys.executable, "-m", "swelancer", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def run_demo(results: Path, run_id: str, model: str, *extra: str) -> dict:
    """A demo run, in `results/<run_id>`; its own run id is unique on the engine (which
    other work may share: another checkout's tests running these at the same time)."""
    own = unique(run_id)
    done = swelancer(
        "run", "--split", "demo", "--model", model, "--results-dir", str(results / "runs"),
        "--run-id", own, "-j", "3", *extra,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (results / run_id).symlink_to(results / "runs" / own)
    shown = swelancer("report", str(results / run_id), "--format", "json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def records(run_dir: Path) -> list[dict]:
    lines = (run_dir / "attempts.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def demo_tasks():
    return load_manifest(demo_manifest_path())


def test_demo_set_is_big_enough(demo_tasks):
    ic = [t for t in demo_tasks if t.variant == "ic_swe"]
    managers = [t for t in demo_tasks if t.variant == "swe_manager"]
    assert len(ic) >= 6 and len(managers) >= 4
    assert all(50 <= t.price_usd <= 8000 for t in demo_tasks)
    answers = {t.correct_proposal_id for t in managers}
    assert 0 in answers and answers - {0}
    assert all(3 <= len(t.proposals) <= 5 for t in managers)


def test_the_oracle_run_goes_to_inspect_and_harbor_and_back_unchanged(tmp_path, demo_tasks):
    """`export --format inspect|atif` and `import` on a real demo run (the oracle's, made
    here): the imported log reports what the run does; one trial folder per attempt."""
    report = run_demo(tmp_path, "oracle", "mock/oracle", "--task", "101", "--task", "110-manager-0")
    log = tmp_path / "oracle.eval"
    done = swelancer("export", str(tmp_path / "oracle"), "--format", "inspect", "-o", str(log))
    assert done.returncode == 0 and log.is_file(), done.stderr
    done = swelancer("export", str(tmp_path / "oracle"), "--format", "atif", "-o",
                     str(tmp_path / "trials"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    trials = sorted(p.parent.parent.name for p in (tmp_path / "trials").rglob("trajectory.json"))
    assert len(trials) == report["attempts"] and all("__" in t for t in trials), trials
    done = swelancer("import", str(log), "--split", "demo", "--results-dir", str(tmp_path / "in"),
                     "--run-id", "back")  # fmt: skip
    assert done.returncode == 0, done.stderr
    again = json.loads(swelancer("report", str(tmp_path / "in" / "back"), "-f", "json").stdout)
    for key in ("earned_usd", "available_usd", "pass_at_1", "tasks", "errors", "attempts"):
        assert again[key] == report[key], key


def test_noop_earns_nothing_and_every_ic_test_fails_on_the_bug(demo_image, demo_tasks, tmp_path):
    """One test run each: that a failing run is tried again, up to three, is the fake
    pipeline's to prove (`tests/run/test_attempt_fake.py`) and the contract image's
    (`test_fixture_errors_and_skips_are_judged_by_their_exit_code`)."""
    report = run_demo(tmp_path, "noop", "mock/noop", "--test-runs", "1")
    assert report["errors"] == 0, report["errored"]
    assert report["earned_usd"] == 0 and report["passed"] == 0
    assert report["failed"] == len(demo_tasks)
    for r in records(tmp_path / "noop"):
        if r["variant"] == "ic_swe":
            assert all(codes == [1] for codes in r["test_exit_codes"].values()), r
            assert r["tampering"] is None, r
        else:
            assert r["reason"] and "no manager_decisions.json" in r["reason"]


def test_first_proposal_earns_exactly_the_managers_answered_zero(demo_image, demo_tasks, tmp_path):
    report = run_demo(tmp_path, "first", "mock/first", "--variant", "swe_manager")
    expected = sum(
        t.price_usd for t in demo_tasks if t.variant == "swe_manager" and t.correct_proposal_id == 0
    )
    assert report["earned_usd"] == expected > 0
    assert report["by_variant"]["ic_swe"]["attempts"] == 0


def test_resume_records_each_attempt_exactly_once(demo_image, demo_tasks, tmp_path):
    run_id = f"resume-{os.getpid()}-{time.monotonic_ns()}"
    args = [
        sys.executable, "-m", "swelancer", "run", "--split", "demo", "--model", "mock/oracle",
        "--results-dir", str(tmp_path), "--run-id", run_id, "-j", "1", "--tries", "2",
        "--task", "101", "--task", "110-manager-0", "--task", "102_1", "--task", "103",
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    attempts = tmp_path / run_id / "attempts.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if attempts.exists() and len(attempts.read_text().splitlines()) >= 2:
            break
        time.sleep(0.5)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=300)
    assert proc.returncode != 0
    part = records(tmp_path / run_id)
    assert 2 <= len(part) < 8
    again = swelancer(*args[3:])
    assert again.returncode == 0, again.stderr[-3000:]
    final = records(tmp_path / run_id)
    keys = [(r["task_id"], r["attempt"]) for r in final]
    assert len(keys) == len(set(keys)) == 8
    assert keys[: len(part)] == [(r["task_id"], r["attempt"]) for r in part]
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=swelancer.run_id={run_id}"],
        capture_output=True,
        text=True,
    )
    assert left.stdout.strip() == "", "interrupted attempts must not leave containers"


def test_grader_fault_is_retried_then_an_error_not_a_failure(demo_image, tmp_path):
    source = demo_manifest_path()
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0].keys())
    faulty = {**next(r for r in rows if r["variant"] == "ic_swe")}
    faulty.update(question_id="90001", acceptable_folders="['90001']", price="100.0")
    manifest = tmp_path / "faulty.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerow(faulty)
    done = swelancer(
        "run", "--manifest", str(manifest), "--model", "mock/noop", "--results-dir",
        str(tmp_path / "runs"), "--run-id", (own := unique("faulty")), "--max-retries", "1",
    )  # fmt: skip
    (tmp_path / "faulty").symlink_to(tmp_path / "runs" / own)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "retry 1 of 1" in done.stderr
    (record,) = records(tmp_path / "faulty")
    assert record["status"] == "error" and record["infra_retries"] == 1
    assert record["error"]["kind"] == "grader" and "exited 3" in record["error"]["message"]
    report = json.loads(swelancer("report", str(tmp_path / "faulty"), "-f", "json").stdout)
    assert (report["errors"], report["failed"], report["tasks"]) == (1, 0, 0)
    assert report["available_usd"] == 0 and report["errored_usd"] == 100
    table = swelancer("report", str(tmp_path / "faulty"))
    assert "infrastructure errors" in table.stdout and "90001" in table.stdout


def test_clear_errors_before_any_container(demo_image, tmp_path):
    unknown = swelancer("run", "--split", "demo", "--model", "mock/noop", "--task", "nope-42")
    assert unknown.returncode == 2 and "nope-42" in unknown.stderr
    missing = swelancer(
        "run", "--split", "demo", "--model", "mock/noop", "--image", "swelancer-no-such:image",
        "--results-dir", str(tmp_path),
    )  # fmt: skip
    assert missing.returncode == 1
    flat = " ".join(missing.stderr.split())
    assert "swelancer-no-such:image" in flat and "not present" in flat
    down = swelancer(
        "run", "--split", "demo", "--model", "mock/noop", "--results-dir", str(tmp_path),
        env={"DOCKER_HOST": "unix:///tmp/no-docker-here.sock"},
    )  # fmt: skip
    assert down.returncode == 1
    assert "/tmp/no-docker-here.sock" in " ".join(down.stderr.split())
    for result in (unknown, missing, down):
        assert "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir()), "nothing is written when a run cannot start"
