"""`swelancer export --format inspect`: the log Inspect reads back has every attempt, and its
figures, recomputed from the samples alone, are the report's."""

from __future__ import annotations

import sys

import pytest
from fakes.runs import run_cli
from interop_runs import DEMO_TASKS, demo_like_run, log_figures

from swelancer.report.metrics import compute, score_of, status_of
from swelancer.run.results import RunDir

inspect_log = pytest.importorskip("inspect_ai.log")


@pytest.fixture
def exported(tmp_path, capsys):
    run = demo_like_run(tmp_path / "results")
    code, out, err = run_cli("export", str(run), "--format", "inspect", capsys=capsys)
    assert code == 0, err
    path = run / "inspect" / "ours.eval"
    assert out.strip() == str(path)
    return run, inspect_log.read_eval_log(str(path))


def test_every_attempt_is_a_sample_with_its_score_or_its_error(exported):
    run, log = exported
    records = {(r.task_id, r.attempt): r for r in RunDir(run).records()}
    samples = {(str(s.id), s.epoch): s for s in log.samples}
    assert samples.keys() == records.keys()
    assert len(samples) == sum(len(t[3]) for t in DEMO_TASKS)
    for key, r in records.items():
        s = samples[key]
        assert s.metadata["price"] == r.price_usd and s.metadata["variant"] == r.variant
        if r.status == "error":
            assert s.scores is None, "an infrastructure error is not a zero"
            assert r.error.message in s.error.message
            continue
        assert s.error is None
        score = s.scores["swelancer"]
        assert score.value == score_of(r)
        assert score.answer == status_of(r)
        assert score.metadata["available"] == r.price_usd
        assert score.metadata["earned"] == (0.0 if r.tampering else r.earned_usd)
    tampered = samples[("103", 1)].scores["swelancer"]
    assert tampered.answer == "failed" and tampered.value == 0.0
    assert "tamper" in tampered.explanation


def test_the_log_figures_are_the_reports(exported):
    run, log = exported
    report = compute(run)
    mine = log_figures(log)
    for name, value in mine.items():
        assert getattr(report, name) == pytest.approx(value), name
    metrics = log.results.scores[0].metrics
    assert metrics["earned_usd"].value == report.earned_usd
    assert metrics["accuracy"].value == report.pass_at_1
    assert log.results.total_samples == report.attempts
    assert log.results.completed_samples == report.attempts - report.errors


def test_the_transcript_becomes_messages_with_tool_calls(exported):
    _, log = exported
    s = next(s for s in log.samples if str(s.id) == "101" and s.epoch == 1)
    assert s.input[0].text == "You are working on task 101.\nFix it."
    roles = [m.role for m in s.messages]
    assert roles[:3] == ["user", "assistant", "tool"]
    call = s.messages[1].tool_calls[0]
    assert (call.function, call.arguments) == ("bash", {"command": "cat src/app.js"})
    assert s.messages[2].tool_call_id == call.id
    assert s.messages[2].text.startswith("line 1 of the build log")
    assert "The user tool finished" in s.messages[3].text
    usage = s.model_usage["test/model"]
    assert (usage.input_tokens, usage.output_tokens, usage.total_cost) == (1200, 80, 0.05)


def test_the_eval_spec_carries_the_run_config(exported):
    run, log = exported
    meta = RunDir(run).read_run()
    assert log.eval.run_id == "ours"
    assert log.eval.model == "test/model"
    assert log.eval.task_args == meta["config"]
    assert log.eval.metadata["swelancer_run"]["manifest"]["sha256"] == meta["manifest"]["sha256"]
    assert log.eval.dataset.sample_ids == sorted({t[0] for t in DEMO_TASKS})
    assert log.eval.config.epochs == 2
    assert log.status == "success"


def test_an_unfinished_run_is_not_a_successful_log(tmp_path, capsys):
    run = demo_like_run(tmp_path, status="interrupted")
    target = tmp_path / "out.eval"
    code, _, err = run_cli("export", str(run), "-f", "inspect", "-o", str(target), capsys=capsys)
    assert code == 0, err
    assert inspect_log.read_eval_log(str(target), header_only=True).status != "success"


def test_a_run_with_no_attempt_or_a_bad_format_is_refused_in_a_paragraph(tmp_path, capsys):
    rd = RunDir(tmp_path / "empty")
    rd.create()
    rd.write_run({"run_id": "empty", "status": "running"})
    code, _, err = run_cli("export", str(rd.path), "--format", "inspect", capsys=capsys)
    assert code == 2 and "no recorded attempt" in " ".join(err.split())  # wrapped to the terminal
    code, _, err = run_cli("export", str(rd.path), "--format", "csv", capsys=capsys)
    assert code == 2 and "choose inspect or atif" in " ".join(err.split())


def test_without_inspect_ai_the_export_says_which_extra_to_install(tmp_path, capsys, monkeypatch):
    run = demo_like_run(tmp_path)
    for name in ("inspect_ai", "inspect_ai.log"):
        monkeypatch.setitem(sys.modules, name, None)  # an import of it raises ImportError
    code, _, err = run_cli("export", str(run), "--format", "inspect", capsys=capsys)
    assert code == 2
    assert "pip install 'swelancer[inspect]'" in " ".join(err.split())
    assert not (run / "inspect").exists()
