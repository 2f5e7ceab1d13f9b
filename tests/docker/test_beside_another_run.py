"""The README's tour, run as written on an engine that also serves another swelancer run: every
step that needs neither a model key nor the network (the manifest comes from a local copy, as
the README's offline note says) finishes without a traceback, and the other run, the gold agent
on the whole demo split, earns every dollar, each attempt recorded once and none retried: its
report gives every dollar of each variant and pass@1 of 1, each IC attempt kept its patch and
passed its last test run, each manager attempt chose the manager's proposal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from cli_runs import containers, records, run_args, start_and_wait, unique
from upstream_data import CURRENT, need

README = Path(__file__).resolve().parents[2] / "README.md"
NEEDS_MORE = ("--model gpt-4o", "--executor ray", "run-a", "--variant swe_manager")
"""Tour lines left out: a real model's key (the doctor's line too), a Ray cluster, runs the tour
does not make, and runs on the diamond split (hundreds of upstream images)."""


def tour_lines() -> list[list[str]]:
    """The tour's commands as the README writes them (comments dropped)."""
    text = README.read_text()
    block = text.split("## A tour", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = [line.split("#", 1)[0].split() for line in block.splitlines()]
    return [words for words in lines if words and words[0] == "swelancer"]


def test_the_tour_beside_a_live_run_leaves_its_scores_unchanged(demo_image, tmp_path):
    results = tmp_path / "results"
    env = {
        **os.environ,
        "SWELANCER_CACHE_DIR": str(tmp_path / "cache"),
        "SWELANCER_MANIFEST_URL": need(CURRENT).as_uri(),
    }
    other = unique("beside")
    other_dir = tmp_path / "other" / other
    proc = start_and_wait(run_args(tmp_path / "other", other, "-j", "1"), other_dir, 1)
    tour = [w for w in tour_lines() if not any(skip in " ".join(w) for skip in NEEDS_MORE)]
    said = []
    try:
        for words in tour:
            command = " ".join(words)
            if words[1] == "run":  # the tour's own run: two tasks, to keep the test short
                words = [*words, "--task", "101", "--task", "110-manager-0", "-q"]
            if words[1:3] == ["view", "results/<run>"]:
                newest = max(results.iterdir(), key=lambda p: p.stat().st_mtime)
                words = [words[0], "view", str(newest), *words[3:]]
            if words[1] == "cleanup":
                assert proc.poll() is None, "the other run ended before the tour's cleanup"
            done = subprocess.run(
                [sys.executable, "-m", "swelancer", *words[1:]],
                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            said.append(f"$ {command}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
            assert "Traceback" not in done.stdout + done.stderr, said[-1]
            assert done.returncode == 0, said[-1]
    finally:
        code = proc.wait(timeout=1500)
    assert code == 0, proc.stderr.read()[-3000:]
    assert any(w[1] == "cleanup" for w in tour) and any(w[1] == "run" for w in tour)
    found = records(other_dir)
    assert len({r["task_id"] for r in found}) == len(found) == 13, found
    assert all(r["status"] == "passed" and r["infra_retries"] == 0 for r in found), found
    assert sum(r["earned_usd"] for r in found) == sum(r["price_usd"] for r in found) > 0
    assert containers(other) == []
    the_gold_agent_earned_every_dollar(other_dir, found, env)
    tour_run = [p for p in results.iterdir() if re.match(r"\d{8}-", p.name)]
    assert len(tour_run) == 1 and {r["earned_usd"] for r in records(tour_run[0])} == {0}


def the_gold_agent_earned_every_dollar(run_dir: Path, found: list[dict], env: dict) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "swelancer", "report", str(run_dir), "--format", "json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    total = sum(r["price_usd"] for r in found)
    assert (report["errors"], report["tasks"], report["pass_at_1"]) == (0, 13, 1.0), report
    assert report["earned_usd"] == report["available_usd"] == total
    for variant in ("ic_swe", "swe_manager"):
        expected = sum(r["price_usd"] for r in found if r["variant"] == variant)
        assert report["by_variant"][variant]["earned_usd"] == expected > 0
    for r in found:
        folder = run_dir / "attempts" / r["task_id"] / "1"
        assert (folder / "transcript.jsonl").exists()
        if r["variant"] == "ic_swe":
            assert r["test_exit_codes"] and all(c[-1] == 0 for c in r["test_exit_codes"].values())
            assert "diff --git" in (folder / "patch.diff").read_text()
        else:
            assert r["selected_proposal"] == r["correct_proposal"]
