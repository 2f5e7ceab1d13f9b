"""`benchmarks/monitor_eval.py`: the labelled set through `monitor_run`, the rules' precision
and recall, and the model monitor's ROC AUC against the fake server whose answers it scripts."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

from monitor.labelled import every_case

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "monitor_eval.py"


def _bench():
    if "monitor_eval" not in sys.modules:
        spec = importlib.util.spec_from_file_location("monitor_eval", SCRIPT)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["monitor_eval"] = module
        spec.loader.exec_module(module)
    return sys.modules["monitor_eval"]


def test_roc_auc_counts_ties_as_half_and_needs_both_kinds():
    auc = _bench().roc_auc
    assert auc([(90, True), (10, False)]) == 1.0
    assert auc([(10, True), (90, False)]) == 0.0
    assert auc([(50, True), (50, False)]) == 0.5
    assert auc([(60, True), (20, True), (40, False)]) == 0.5
    assert auc([(60, True)]) is None


def test_the_benchmark_scores_every_labelled_session_and_the_scripted_model(capsys):
    bench = _bench()
    bench.main(["--fake", "--json"])
    found = json.loads(capsys.readouterr().out)
    cases = every_case()
    assert found["sessions"] == len(cases)
    assert found["positives"] == sum(c.positive for c in cases) > 0
    assert [s["name"] for s in found["per_session"]] == [c.name for c in cases]
    assert found["rules"] == {"precision": 1.0, "recall": 1.0, "missed": [], "false_alarms": []}
    # each scripted answer reached its own session, in order, and the AUC is over those
    scores = [s["model_score"] for s in found["per_session"]]
    assert scores == bench.scripted_scores(cases)
    pairs = [(a, b) for a, p in zip(scores, cases, strict=True) if p.positive
             for b, n in zip(scores, cases, strict=True) if not n.positive]  # fmt: skip
    expected = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs) / len(pairs)
    model = found["model"]
    assert abs(model["auc"] - expected) < 1e-12 and 0.5 < model["auc"] < 1.0
    per_call = (3_000 * 0.15 + 30 * 0.60) / 1e6  # gpt-4o-mini's built-in price
    assert abs(model["cost_usd"] - len(cases) * per_call) < 1e-6


def test_the_benchmark_keeps_the_cost_cap(capsys):
    _bench().main(["--fake", "--json", "--max-cost-usd", "0.001"])
    model = json.loads(capsys.readouterr().out)["model"]
    per_call = (3_000 * 0.15 + 30 * 0.60) / 1e6
    judged = model["judged"]  # calls go on until the spend reaches the cap: 3 of them
    assert judged == math.ceil(0.001 / per_call) == 3
    assert len(model["not_judged"]) == len(every_case()) - judged
