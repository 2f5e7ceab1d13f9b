"""The manager's answer is read by upstream's rule: `int(list(json.loads(text).values())[0])`,
any exception scoring 0; odd forms are recorded as written."""

from __future__ import annotations

import json
import sys

import pytest
from fakes.runs import make_run, run_cli

from swelancer.benchmark.manager import read_decision
from swelancer.records import AttemptRecord
from swelancer.report.layout import notes
from swelancer.report.metrics import compute
from swelancer.run.results import RunDir

CORRECT = 1


def upstream_score(raw: bytes, correct: int = CORRECT) -> tuple[float, int | None]:
    """Upstream's `_grade_swe_manager`, as written there (`eval.py`), on the file's bytes."""
    try:
        manager_decisions_json = json.loads(raw.decode("utf-8"))
        correct_option = int(correct)
        submitted_option = int(list(manager_decisions_json.values())[0])  # noqa: RUF015
    except Exception:
        return 0.0, None
    return (1.0 if submitted_option == correct_option else 0.0), submitted_option


DUPLICATE = b'{"selected_proposal_id": 2, "selected_proposal_id": 1}'  # the last one wins
ODD_FORMS = [
    b'{"selected_proposal_id": 1.7}',
    b'{"selected_proposal_id": 1.0}',
    b'{"selected_proposal_id": 0.9}',
    b'{"selected_proposal_id": -0.0}',
    b'{"selected_proposal_id": true}',
    b'{"selected_proposal_id": false}',
    b'{"selected_proposal_id": "+1"}',
    b'{"selected_proposal_id": " 1\\n"}',
    b'{"selected_proposal_id": "1_0"}',
    b'{"selected_proposal_id": "\\u0661"}',  # ARABIC-INDIC DIGIT ONE: int() reads 1
    b'{"selected_proposal_id": "\\u00b2"}',  # SUPERSCRIPT TWO: a digit to isdigit, not to int
    b'{"selected_proposal_id": "1.0"}',
    b'{"selected_proposal_id": "0x1"}',
    b'{"selected_proposal_id": "one"}',
    b'{"selected_proposal_id": null}',
    b'{"selected_proposal_id": [1]}',
    b'{"selected_proposal_id": {"id": 1}}',
    b'{"selected_proposal_id": 1e400}',
    b'{"selected_proposal_id": NaN}',
    b'{"selected_proposal_id": 1e300}',
    b'{"proposal": 1}',
    b'{"id": 3, "selected_proposal_id": 1}',  # another key first: its value is the answer
    b'{"reasoning": "I pick 1", "selected_proposal_id": 1}',
    DUPLICATE,
    b"[1]",
    b"1",
    b'"1"',
    b"null",
    b"{}",
    b"",
    b"\xef\xbb\xbf" + b'{"selected_proposal_id": 1}',  # a BOM: json.loads refuses it
    b'{"selected_proposal_id": 1',
    b"\xff\xfe",
    b'{"selected_proposal_id": "' + b"9" * 5000 + b'"}',
]


@pytest.mark.parametrize("raw", ODD_FORMS, ids=lambda raw: raw[:40].decode("utf-8", "replace"))
def test_each_odd_form_scores_as_upstream_scores_it(raw):
    score, submitted = upstream_score(raw)
    decision = read_decision(raw)
    assert decision.selected == submitted
    assert (1.0 if decision.selected == CORRECT else 0.0) == score
    if decision.selected is None:
        assert decision.reason
    if decision.selected is not None and raw != DUPLICATE:  # that one parses as plain
        assert decision.odd_form is not None


def test_the_five_answers_scored_differently_before():
    """Each was read through `selected_proposal_id` first, or refused; upstream passes them."""
    for raw in (
        b'{"selected_proposal_id": 1.7}',
        b'{"selected_proposal_id": true}',
        b'{"selected_proposal_id": "+1"}',
        b'{"selected_proposal_id": " 1\\n"}',
    ):
        assert upstream_score(raw) == (1.0, 1)
        decision = read_decision(raw)
        assert decision.selected == 1 and "answered in an odd form" in (decision.reason or "")
    raw = b'{"id": 3, "selected_proposal_id": 1}'
    assert upstream_score(raw) == (0.0, 3) and read_decision(raw).selected == 3


def test_an_odd_form_is_kept_as_written_and_a_plain_one_is_not_odd():
    assert read_decision(b'{"selected_proposal_id": 1.7}').odd_form == '"selected_proposal_id": 1.7'
    assert read_decision(b'{"why": "x", "selected_proposal_id": 1}').odd_form == '"why": "x"'
    long = read_decision(b'{"selected_proposal_id": "' + b"x" * 5000 + b'"}')
    assert long.selected is None and long.odd_form and len(long.odd_form) == 200
    for plain in (b'{"selected_proposal_id": 1}', b'{"selected_proposal_id": 1, "why": "x"}'):
        decision = read_decision(plain)
        assert (decision.selected, decision.reason, decision.odd_form) == (1, None, None)


def test_reading_is_bounded_even_where_the_digit_limit_is_lifted():
    """A million digits would take int() seconds to read with Python's digit limit lifted;
    upstream (limit in place) refuses it, and so do we, either way."""
    raw = b'{"selected_proposal_id": "' + b"7" * 999_000 + b'"}'
    assert upstream_score(raw) == (0.0, None)
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        decision = read_decision(raw)
    finally:
        sys.set_int_max_str_digits(before)
    assert decision.selected is None and "int()" in (decision.reason or "")
    deep = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert read_decision(deep).selected is None


def test_an_old_record_without_the_field_still_loads_and_a_new_one_round_trips(tmp_path):
    old = (
        '{"schema_version": 1, "run_id": "r", "task_id": "1-manager-0", "variant": '
        '"swe_manager", "attempt": 1, "status": "failed", "price_usd": 500.0, "model": "m", '
        '"selected_proposal": 2, "correct_proposal": 1, "started_at": "t", "finished_at": "t"}'
    )
    rd = RunDir(tmp_path / "r")
    rd.create()
    new = AttemptRecord.model_validate_json(old).model_copy(
        update={"decision_odd_form": '"selected_proposal_id": "+2"'}
    )
    rd.attempts_file.write_text(old + "\n" + new.model_dump_json() + "\n")
    first, second = rd.records()
    assert first.decision_odd_form is None and first.selected_proposal == 2
    assert second.decision_odd_form == '"selected_proposal_id": "+2"'


def test_a_report_says_answers_were_in_an_odd_form(tmp_path, capsys):
    run = make_run(tmp_path / "results")
    rd = RunDir(run)
    records = rd.records()
    odd = next(r for r in records if r.variant == "swe_manager")
    odd.decision_odd_form = '"selected_proposal_id": 2.5'
    odd.reason = 'answered in an odd form ("selected_proposal_id": 2.5): upstream\'s int() ...'
    rd.attempts_file.write_text("".join(r.model_dump_json() + "\n" for r in records))
    assert any("1 manager answer(s) were not a plain" in n for n in notes(compute(run)))
    args = ["view", str(run), odd.task_id, "-a", str(odd.attempt)]
    code, out, _ = run_cli(*args, capsys=capsys)
    assert code == 0 and 'answered as:       "selected_proposal_id": 2.5' in out
