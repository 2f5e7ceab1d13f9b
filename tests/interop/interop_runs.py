"""Demo-like runs for the interop tests, and figures recomputed from an Inspect log on their own
(not through swelancer's report) so that a round trip is checked figure by figure."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from fakes.runs import make_run

# Task ids and prices of the demo manifest (tasks/demo/manifest.csv), so that a run exported
# and imported back is matched against a real manifest.
DEMO_TASKS = [
    ("101", "ic_swe", 250.0, ["passed", "failed"]),
    ("102_1", "ic_swe", 500.0, ["error", "error"]),
    ("103", "ic_swe", 1000.0, ["tampered", "passed"]),
    ("105", "ic_swe", 2000.0, ["failed", "error"]),
    ("110-manager-0", "swe_manager", 8000.0, ["passed", "failed"]),
    ("111-manager-0", "swe_manager", 250.0, ["failed", "failed"]),
]


def demo_like_run(root: Path, run_id: str = "ours", **kw: Any) -> Path:
    return make_run(root, run_id, DEMO_TASKS, **kw)


def log_figures(log: Any) -> dict[str, Any]:
    """pass@1, dollars and tokens of an Inspect log, from its samples alone: a sample with a
    score is graded (its value the score), one with an error is not; the price is the score's
    `available` (or the sample's `price`)."""
    scores: dict[str, list[float]] = defaultdict(list)
    price: dict[str, float] = {}
    errors = 0
    tokens_in = tokens_out = 0
    cost = 0.0
    for s in log.samples:
        task = str(s.id)
        price[task] = float(s.metadata["price"])
        if s.error is not None:
            errors += 1
        else:
            (score,) = s.scores.values()
            scores[task].append(float(score.value))
            price[task] = float(score.metadata["available"])
        for usage in s.model_usage.values():
            tokens_in += usage.input_tokens
            tokens_out += usage.output_tokens
            cost += usage.total_cost or 0.0
    pass1 = {t: sum(v) / len(v) for t, v in scores.items()}
    return {
        "pass_at_1": round(sum(pass1.values()) / len(pass1), 4),
        "earned_usd": round(sum(price[t] * p for t, p in pass1.items()), 2),
        "available_usd": round(sum(price[t] for t in pass1), 2),
        "errored_usd": round(sum(p for t, p in price.items() if t not in pass1), 2),
        "errors": errors,
        "passed": sum(v == 1.0 for vs in scores.values() for v in vs),
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "cost_usd": round(cost, 6),
    }
