"""Run-directory records and the figures computed from them."""

from __future__ import annotations

import pytest

from swelancer.benchmark.manager import read_decision
from swelancer.records import AttemptError, AttemptRecord
from swelancer.report.markdown import render_run
from swelancer.report.metrics import compute, pass_at_k
from swelancer.run.results import RunDir


def record(task_id, attempt, status, price, variant="ic_swe", cost=0.0, **extra) -> AttemptRecord:
    score = 1.0 if status == "passed" else 0.0
    return AttemptRecord(
        run_id="r",
        task_id=task_id,
        variant=variant,
        attempt=attempt,
        status=status,
        score=score,
        price_usd=price,
        earned_usd=price * score,
        model="m",
        cost_usd=cost,
        error=AttemptError(kind="grader", message="exit 3") if status == "error" else None,
        started_at="t",
        finished_at="t",
        **extra,
    )


def test_append_survives_a_truncated_last_line(tmp_path):
    rd = RunDir(tmp_path / "run")
    rd.append(record("a", 1, "passed", 100))
    with rd.attempts_file.open("ab") as handle:
        handle.write(b'{"run_id": "r", "task_id": "b", "vari')  # a crash mid-write
    assert [r.task_id for r in rd.records()] == ["a"]
    rd.append(record("c", 1, "failed", 50))
    assert [r.task_id for r in rd.records()] == ["a", "c"]
    lines = rd.attempts_file.read_bytes().split(b"\n")
    assert lines[1].startswith(b'{"run_id": "r", "task_id": "b"')  # kept apart, ignored


def test_figures_keep_errors_out_of_denominators(tmp_path):
    rd = RunDir(tmp_path / "run")
    rd.create()
    rd.write_run({"run_id": "run", "model": "m", "config": {"tries": 2}, "status": "complete"})
    for r in [
        record("a", 1, "passed", 1000),
        record("a", 2, "failed", 1000),
        record("b", 1, "passed", 500, variant="swe_manager"),
        record("b", 2, "passed", 500, variant="swe_manager"),
        record("c", 1, "error", 2000),
        record("c", 2, "error", 2000),
        record("d", 1, "failed", 250),
        record("d", 2, "error", 250),
    ]:
        rd.append(r)
    figures = compute(rd.path)
    assert figures.tasks == 3 and figures.tasks_errored == 1
    assert figures.attempts == 8 and figures.errors == 3
    assert figures.passed == 3 and figures.failed == 2
    assert figures.earned_usd == 1000 * 0.5 + 500
    assert figures.available_usd == 1000 + 500 + 250
    assert figures.errored_usd == 2000
    assert figures.pass_at_1 == pytest.approx((0.5 + 1 + 0) / 3, abs=1e-4)
    assert figures.tries == 2
    assert figures.pass_at_k == pytest.approx((1 + 1 + 0) / 3, abs=1e-4)
    ic = figures.by_variant["ic_swe"]
    assert (ic.tasks, ic.earned_usd, ic.available_usd) == (2, 500, 1250)
    assert {e.task_id for e in figures.errored} == {"c", "d"}
    text = render_run(figures)
    assert "Earned $1,000 (95% CI $" in text and ") of $1,750" in text
    assert "infrastructure errors" in text


def test_unknown_cost_is_never_zero(tmp_path):
    rd = RunDir(tmp_path / "run")
    rd.append(record("a", 1, "passed", 100, cost=0.5))
    rd.append(record("b", 1, "passed", 100, cost=None))
    assert compute(rd.path).cost_usd is None


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"), [(1, 1, 1, 1.0), (4, 1, 1, 0.25), (4, 1, 2, 0.5), (3, 0, 2, 0.0)]
)
def test_pass_at_k(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("raw", "selected", "reason"),
    [
        (b'{"selected_proposal_id": 2}', 2, None),
        (b'{"proposal": 3}', 3, "odd form"),
        (b'{"selected_proposal_id": "1"}', 1, "odd form"),
        (b"{}", None, "an empty JSON object"),
        (b"[1]", None, "not an object"),
        (b'{"selected_proposal_id": true}', 1, "odd form"),
        (b'{"selected_proposal_id": "two"}', None, "not an integer"),
        (b"\xff\xfe", None, "not valid JSON"),
        (None, None, "no manager_decisions.json"),
    ],
)
def test_decision_files(raw, selected, reason):
    decision = read_decision(raw)
    assert decision.selected == selected
    why = decision.reason
    assert (why is None) if reason is None else (reason in why)


def test_readme_test_command_is_what_ci_runs():
    from upstream_data import REPO

    readme = (REPO / "README.md").read_text()
    blocks = readme.split("```bash\n")
    test_command = blocks[2].split("```")[0].strip()
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert test_command in ci, f"{test_command!r} is not a line of .ci/run"
    assert "\n" not in test_command, "one command line"


def test_spend_of_cut_short_tries_is_added_to_the_record(tmp_path):
    from swelancer.run.job import _with_spend
    from swelancer.run.results import Transcript, transcript_spend

    log = Transcript(tmp_path / "transcript.jsonl")
    usage = {"input_tokens": 1000, "cached_input_tokens": 200, "output_tokens": 50}
    log.event("model", turn=1, usage=usage, cost_usd=0.25)
    log.event("command", command="ls", output="x")
    log.event("model", turn=2, usage=usage, cost_usd=0.5)
    log.close()
    with (tmp_path / "transcript.jsonl").open("a") as handle:
        handle.write('{"kind": "model", "usage": {"input_tok')  # cut short by a crash
    spent = transcript_spend(tmp_path / "transcript.jsonl")
    assert (spent.tokens.input, spent.tokens.cached, spent.tokens.output) == (2000, 400, 100)
    assert spent.cost_usd == 0.75
    final = record("a", 1, "passed", 100, cost=0.1)
    final.tokens.input = 10
    merged = _with_spend(final, spent)
    assert merged.tokens.input == 2010 and merged.cost_usd == pytest.approx(0.85)
    unknown = transcript_spend(tmp_path / "missing.jsonl")
    assert unknown.cost_usd == 0.0 and unknown.tokens.input == 0
    log = Transcript(tmp_path / "unpriced.jsonl")
    log.event("model", turn=1, usage=usage, cost_usd=None)
    log.close()
    assert _with_spend(record("b", 1, "failed", 1), transcript_spend(log.path)).cost_usd is None
