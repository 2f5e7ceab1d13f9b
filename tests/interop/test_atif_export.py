"""`swelancer export --format atif`: one Harbor trial folder per attempt, whose trajectory
Harbor's own pydantic models accept (`harbor_trajectory` in conftest.py), and whose rewards and
metrics are the report's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes.runs import run_cli
from interop_runs import DEMO_TASKS, demo_like_run

from swelancer.interop.atif import SCHEMA_VERSION, Trajectory
from swelancer.report.metrics import compute, score_of
from swelancer.run.results import RunDir, Transcript


@pytest.fixture
def exported(tmp_path, capsys):
    run = demo_like_run(tmp_path / "results")
    # one attempt with what a tool-calling agent leaves: two calls in one reply, one refused
    log = Transcript(RunDir(run).attempt_dir("101", 1) / "transcript.jsonl")
    log.event("model", turn=2, content="Two at once.", usage={"input_tokens": 5},
              tool_calls=[{"id": "a", "name": "bash", "arguments": {"command": "ls"}},
                          {"id": "b", "name": "nope", "arguments": {}}])  # fmt: skip
    log.event("command", command="ls", output="src\n", exit_code=0)
    log.event("tool_error", tool="nope", message="unknown tool nope")
    log.close()
    code, out, err = run_cli("export", str(run), "--format", "atif", capsys=capsys)
    assert code == 0, err
    assert out.strip() == str(run / "atif")
    return run, run / "atif"


def _trajectories(folder: Path) -> dict[str, dict]:
    return {
        p.parent.parent.name: json.loads(p.read_text())
        for p in sorted(folder.glob("*/agent/trajectory.json"))
    }


def test_harbors_own_models_accept_every_trajectory(exported, harbor_trajectory):
    _, folder = exported
    found = _trajectories(folder)
    assert len(found) == sum(len(t[3]) for t in DEMO_TASKS)
    for name, doc in found.items():
        assert doc["schema_version"] == SCHEMA_VERSION
        theirs = harbor_trajectory.model_validate(doc)
        assert theirs.model_dump(mode="json", exclude_none=True)["steps"] == doc["steps"], name


def test_each_trial_has_the_reward_or_the_error_of_its_attempt(exported):
    run, folder = exported
    for r in RunDir(run).records():
        trial = folder / f"{r.task_id}__{r.attempt}"
        doc = Trajectory.model_validate_json((trial / "agent" / "trajectory.json").read_text())
        assert doc.extra["status"] == ("failed" if r.tampering else r.status)
        if r.status == "error":
            assert not (trial / "verifier").exists()
            assert r.error.message in (trial / "exception.txt").read_text()
        else:
            assert not (trial / "exception.txt").exists()
            reward = json.loads((trial / "verifier" / "reward.json").read_text())
            assert reward == {"reward": score_of(r)}


def test_the_trajectories_add_up_to_the_reports_figures(exported):
    run, folder = exported
    report = compute(run)
    docs = [Trajectory.model_validate(d) for d in _trajectories(folder).values()]
    assert sum(d.final_metrics.total_prompt_tokens for d in docs) == report.input_tokens
    assert sum(d.final_metrics.total_completion_tokens for d in docs) == report.output_tokens
    assert sum(d.final_metrics.total_cost_usd for d in docs) == pytest.approx(report.cost_usd)
    earned: dict[str, list[float]] = {}
    for d in docs:
        if d.extra["status"] != "error":
            earned.setdefault(d.extra["task_id"], []).append(d.extra["earned_usd"])
    assert round(sum(sum(v) / len(v) for v in earned.values()), 2) == report.earned_usd


def test_tool_calls_are_answered_by_their_own_results(exported):
    _, folder = exported
    doc = Trajectory.model_validate(_trajectories(folder)["101__1"])
    sources = [s.source for s in doc.steps]
    assert sources[:2] == ["system", "user"], "the sandbox note, then the prompt"
    replies = [s for s in doc.steps if s.source == "agent"]
    first, second = replies[0], replies[1]
    assert [c.function_name for c in first.tool_calls] == ["bash"]
    assert first.observation.results[0].source_call_id == first.tool_calls[0].tool_call_id
    assert first.metrics.prompt_tokens == 1200 and first.metrics.cost_usd == 0.0123
    results = {r.source_call_id: r for r in second.observation.results}
    assert results["a"].content == "src\n"
    assert results["b"].content == "unknown tool nope" and results["b"].extra["error"] is True
    assert doc.steps[-1].source == "system"
    assert doc.steps[-1].message == "outcome: passed, earned $250 of $250"
