"""The whole pipeline on the contract images (upstream's own runtime scripts, verbatim): the gold
agent earns every dollar on both setup paths, a broken build is a failure, an agent that fixes
nothing fails cleanly (no error, no tampering: the user-tool tests' agents), the user tool
yields a trace without the test's assertions, a manager attempt is ready in seconds, and test
runs whose fixtures error or whose test is skipped are judged by their exit code as upstream
judges them.

The gold agent's run on the unified image sets every IC task up cold, as upstream's runtime does
(unless other work on the engine kept a snapshot of it), and keeps its snapshots; the module's
later runs start from them (the same verdicts either way are `tests/docker/test_snapshots.py`'s to
prove), and those the module made are removed when it ends."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from contract.build import IMAGE_PREFIX, IMAGE_TAG, MANIFEST, MONOLITH_IMAGE

from swelancer.sandbox.docker.snapshot_index import list_snapshots, remove_snapshot

pytestmark = pytest.mark.docker

PRICES = {"91342": 1000, "92018_1": 500, "94317_1207": 250, "96120-manager-0": 2000,
          "96455-manager-0": 1250}  # fmt: skip
"""The tasks the gold agent can earn whole; the rest of the manifest (`VERDICT_TASKS`) tests
how a test run's verdict is read."""
VERDICT_TASKS = ("91350", "91351", "91352")
"""A fixture that errors on its first run only; one that errors on every run; a skipped test."""
MARKER = "CONTRACT-ASSERTION"


RUNS = f"contract-{secrets.token_hex(3)}"
"""The prefix of this module's run ids: the snapshots they keep carry it, and only those are
removed (other work on the engine may keep snapshots of the same contract images)."""


@pytest.fixture(scope="module", autouse=True)
def snapshots_before(contract_images, docker_client) -> set[tuple[str, str]]:
    """(base image id, task) of the contract images' snapshots that were there before this
    module (another run's, kept): a task with one is set up from it, not cold. The module's
    own are removed when it ends."""
    assert MONOLITH_IMAGE in contract_images
    bases = set(contract_images.values())
    before = {(s.base_id, s.task_id) for s in list_snapshots(docker_client) if s.base_id in bases}
    yield before
    for found in list_snapshots(docker_client):
        if found.run_id.startswith(RUNS + "-"):
            remove_once_unused(docker_client, found.image_id)


def remove_once_unused(client, image_id: str, wait_s: float = 900) -> None:
    """Remove a snapshot this module kept, never by force: a run of other work may have
    found it (a kept snapshot serves any run of its base image) and still use it."""
    deadline = time.monotonic() + wait_s
    while (refused := remove_snapshot(client, image_id)) is not None:
        assert time.monotonic() < deadline, f"snapshot {image_id} still in use: {refused}"
        time.sleep(2)


def only(tasks) -> list[str]:
    return [arg for task in tasks for arg in ("--task", task)]


def swelancer(tmp_path: Path, run_id: str, model: str, *extra: str) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", "swelancer", "run", "--manifest", str(MANIFEST),
         "--model", model, "--image-prefix", IMAGE_PREFIX, "--image-tag", IMAGE_TAG,
         "--results-dir", str(tmp_path / "runs"), "--run-id", f"{RUNS}-{run_id}", "--quiet",
         "-j", "3",
         "--keep-snapshots", *extra],
        capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    if not (tmp_path / run_id).exists():  # the run's folder under the name the test gave
        (tmp_path / run_id).symlink_to(tmp_path / "runs" / f"{RUNS}-{run_id}")
    lines = (tmp_path / run_id / "attempts.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def scripted(tmp_path: Path, *replies: str) -> str:
    path = tmp_path / "script.json"
    path.write_text(json.dumps([*replies, "DONE"]))
    return f"mock/scripted:{path}"


def block(code: str) -> str:
    return f"```python\n{code}\n```"


@pytest.mark.parametrize(("setup", "grade_in"), [("monolith", "same"), ("per-task", "fresh")])
def test_the_gold_agent_earns_every_dollar_on_both_setup_paths(
    contract_images, tmp_path, setup, grade_in, snapshots_before
):
    """Both setup paths and both grading modes; the app's part of upstream's playbook runs
    where the app is, its judge's part (pytest) in a judge container of the untouched task."""
    extra = ("--per-task-images",) if setup == "per-task" else ()
    records = swelancer(tmp_path, setup, "mock/oracle", "--grade-in", grade_in, *extra,
                        *only(PRICES))  # fmt: skip
    assert {r["task_id"]: r["status"] for r in records} == dict.fromkeys(PRICES, "passed")
    assert sum(r["earned_usd"] for r in records) == sum(PRICES.values()) == 5000
    by_id = {r["task_id"]: r for r in records}
    # upstream's rule: the graded folder is issues/<question_id>, whatever the manifest lists
    assert by_id["92018_1"]["graded_folder"] == "92018_1"
    assert by_id["92018_1"]["acceptable_folders"] == ["92018", "92018_1"]
    assert by_id["94317_1207"]["acceptable_folders"] == ["94317_1180"]
    for task in ("96120-manager-0", "96455-manager-0"):  # no marker to wait for
        assert by_id[task]["seconds"]["setup"] < 15, by_id[task]["seconds"]
    for task in ("91342", "92018_1", "94317_1207"):  # upstream's own setup, in the container
        image = MONOLITH_IMAGE if setup == "monolith" else f"{IMAGE_PREFIX}_{task}:{IMAGE_TAG}"
        kept = (contract_images[image], task) in snapshots_before  # kept by other work
        assert by_id[task]["setup_from"]["agent"] == ("snapshot" if kept else "cold"), by_id[task]
        assert by_id[task]["graded_in"] == grade_in
        run1 = tmp_path / setup / f"attempts/{task}/1/grading/{task}/run-1"
        assert (
            "TASK [Start npm server in the background]" in (run1 / "app-playbook.log").read_text()
        )
        judged = (run1 / "playbook.log").read_text()
        assert "TASK [Run pytest tests]" in judged and "npm server" not in judged
        assert (tmp_path / setup / f"attempts/{task}/1/grading-judge-sandbox.log").exists()
        transcript = (tmp_path / setup / f"attempts/{task}/1/transcript.jsonl").read_text()
        stopped = [e for e in map(json.loads, transcript.splitlines())
                   if e["kind"] == "viewers_stopped"]  # fmt: skip
        assert [e["killed"] for e in stopped] == [2], stopped  # x11vnc and websockify, run.sh's
    run = json.loads((tmp_path / setup / "run.json").read_text())
    images = set(run["images"])
    if setup == "per-task":
        assert f"{IMAGE_PREFIX}_91342:{IMAGE_TAG}" in images
    assert f"{IMAGE_PREFIX}_monolith:{IMAGE_TAG}" in images


def test_an_agent_that_breaks_the_build_fails_and_is_no_error(contract_images, tmp_path):
    breaks = block(
        "import glob\n"
        "path = sorted(glob.glob('/app/expensify/src/**/*.py', recursive=True))[0]\n"
        "open(path, 'a').write('\\ndef broken(:\\n')\n"
        "print('broke', path)"
    )
    (record,) = swelancer(tmp_path, "broken", scripted(tmp_path, breaks), "--task", "91342",
                          "--test-runs", "1")  # fmt: skip
    assert record["status"] == "failed" and record["error"] is None, record
    assert record["test_exit_codes"] == {"91342": [-1]}
    assert record["control_exit_codes"] == [1]
    assert "the change is the cause" in record["reason"]


@pytest.mark.parametrize("where", ["fresh", "same"])
def test_the_user_tool_gives_a_trace_and_no_assertion_reaches_the_agent(
    contract_images, tmp_path, where
):
    look = block(
        "import glob, os, subprocess\n"
        "needle = 'CONTRACT-' + 'ASSERTION'\n"
        "found = subprocess.run(['grep', '-rlI', needle, '/', '--exclude-dir=proc',\n"
        "    '--exclude-dir=sys', '--exclude-dir=dev'], capture_output=True, text=True).stdout\n"
        "print('HITS:', found.split() or 'none')\n"
        "for d in glob.glob('/app/expensify/user_tool/output_*'):\n"
        "    print('TRACE', d, sorted(os.listdir(d)))\n"
        "    print('SOURCES', [f for f in os.listdir(d + '/resources') if f.startswith('src@')])"
    )
    model = scripted(tmp_path, "<user-tool>", look)
    (record,) = swelancer(tmp_path, where, model, "--task", "91342", "--user-tool-in", where,
                          "--test-runs", "1")  # fmt: skip
    transcript = tmp_path / where / "attempts/91342/1/transcript.jsonl"
    events = [json.loads(line) for line in transcript.read_text().splitlines()]
    (tool,) = [e for e in events if e["kind"] == "user_tool"]
    assert "The user tool finished" in tool["output"] and "trace.trace" in tool["output"]
    (seen,) = [e["output"] for e in events if e["kind"] == "command"]
    assert "HITS: none" in seen, seen
    assert "TRACE /app/expensify/user_tool/output_" in seen and "'trace.trace'" in seen
    assert "SOURCES []" in seen
    kept = tmp_path / where / "attempts/91342/1/user_tool"
    traces = list(kept.rglob("trace.trace"))
    assert traces and not list(kept.rglob("src@*"))
    assert not any(MARKER in p.read_text(errors="replace") for p in kept.rglob("*") if p.is_file())
    # it fixes nothing: a clean failure of upstream's test, no error, nothing called tampering
    assert record["status"] == "failed" and record["test_exit_codes"] == {"91342": [1]}
    assert record["error"] is None and record["tampering"] is None and record["earned_usd"] == 0


def test_fixture_errors_and_skips_are_judged_by_their_exit_code(contract_images, tmp_path):
    """As upstream's `_grade_swe_ic`: a run that exits 1 with `1 error` (a fixture's setup
    failed) is a failed run and the next one is tried; exit 0 with `1 skipped` passes. No
    honest run is called tampering, and every run `--test-runs` allows is tried."""
    records = swelancer(tmp_path, "verdicts", "mock/oracle", "--test-runs", "2",
                        *only(VERDICT_TASKS))  # fmt: skip
    by_id = {r["task_id"]: r for r in records}
    assert {t: (r["status"], r["error"], r["tampering"]) for t, r in by_id.items()} == {
        "91350": ("passed", None, None),
        "91351": ("failed", None, None),
        "91352": ("passed", None, None),
    }, records
    assert by_id["91350"]["test_exit_codes"] == {"91350": [1, 0]}
    assert by_id["91351"]["test_exit_codes"] == {"91351": [1, 1]}
    assert by_id["91352"]["test_exit_codes"] == {"91352": [0]}
    assert sum(r["earned_usd"] for r in records) == 400 + 200
    grading = tmp_path / "verdicts" / "attempts"
    for task, run, summary in (("91350", 1, "1 error"), ("91351", 2, "1 error"),
                               ("91352", 1, "1 skipped")):  # fmt: skip
        log = (grading / task / "1" / "grading" / task / f"run-{run}" / "pytest.log").read_text()
        assert f"== {summary} in" in log, log[-2000:]
