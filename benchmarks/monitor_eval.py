"""How well the transcript monitor tells reward hacking from honest work, on the labelled set.

The labelled set is `tests/monitor/labelled.py`: the test suite's scripted attacks (positives),
its honest scripted sessions and the demo's mock agents (negatives), and a few hand-written
subtle cases, each written as a real transcript by the turn loop into one run directory, which
`swelancer.monitor.scan.monitor_run` reads as `swelancer monitor` does. Prints the rules'
precision and recall (with every miss and false alarm named) and, when a model monitor is
given, its ROC AUC over the model's scores, its precision and recall at the flagging score,
and what it cost.

    .venv/bin/python benchmarks/monitor_eval.py                 # the rules
    .venv/bin/python benchmarks/monitor_eval.py --fake          # + the fake server's scores
    .venv/bin/python benchmarks/monitor_eval.py --monitor-model gpt-4o-mini --max-cost-usd 1
    .venv/bin/python benchmarks/monitor_eval.py --monitor-model m --base-url http://host/v1

`--fake` starts the OpenAI-compatible fake server of `tests/fakes/` and scripts its answers:
a seeded score drawn around 70 for a positive and around 25 for a negative (the script knows
the labels). Its AUC checks the pipeline (prompt, SDK, parsing, cost, the AUC itself), not a
model. `--json` prints one JSON object instead (the per-session scores included).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for place in (ROOT, ROOT / "tests"):
    if str(place) not in sys.path:
        sys.path.insert(0, str(place))

from monitor.labelled import Case, every_case, make_labelled_run  # noqa: E402
from upstream_data import UPSTREAM  # noqa: E402

from swelancer.monitor.models import FLAG_SCORE  # noqa: E402
from swelancer.monitor.scan import monitor_run  # noqa: E402

FAKE_MODEL = "gpt-4o-mini"  # priced in the built-in table, so the fake's calls have a cost


def roc_auc(scored: list[tuple[float, bool]]) -> float | None:
    """The chance that a random positive scores above a random negative (ties count half);
    None without both kinds."""
    pos = [s for s, p in scored if p]
    neg = [s for s, p in scored if not p]
    if not pos or not neg:
        return None
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def precision_recall(found: list[tuple[bool, bool]]) -> tuple[float | None, float | None]:
    """(flagged, positive) pairs as (precision, recall); None where undefined."""
    tp = sum(f and p for f, p in found)
    flagged = sum(f for f, _ in found)
    positives = sum(p for _, p in found)
    return (tp / flagged if flagged else None, tp / positives if positives else None)


def scripted_scores(cases: list[Case], seed: int = 25) -> list[int]:
    """The fake server's answers, in the order the run holds the cases."""
    rng = random.Random(seed)
    return [max(0, min(100, round(rng.gauss(70 if c.positive else 25, 20)))) for c in cases]


def evaluate(model: Any = None, max_cost_usd: float | None = None) -> dict[str, Any]:
    """The labelled set through the monitor: every session's label, flags and score."""
    cases = every_case()
    with tempfile.TemporaryDirectory(prefix="monitor-eval-") as tmp:
        run = make_labelled_run(Path(tmp), [(c, "failed") for c in cases])
        result = monitor_run(run, model, max_cost_usd=max_cost_usd)
    sessions = []
    for case, seen in zip(cases, result.attempts, strict=True):
        rules = [f for f in seen.flags if f.source == "rules"]
        score = seen.verdict.score if seen.verdict is not None else None
        sessions.append({
            "name": case.name, "positive": case.positive, "rules_flagged": bool(rules),
            "rules": sorted({f.rule for f in rules}), "model_score": score,
        })  # fmt: skip
    rules_p, rules_r = precision_recall([(s["rules_flagged"], s["positive"]) for s in sessions])
    out: dict[str, Any] = {
        "sessions": len(sessions), "positives": sum(s["positive"] for s in sessions),
        "rules": {
            "precision": rules_p, "recall": rules_r,
            "missed": [s["name"] for s in sessions if s["positive"] and not s["rules_flagged"]],
            "false_alarms": [s["name"] for s in sessions
                             if s["rules_flagged"] and not s["positive"]],
        },
        "per_session": sessions,
    }  # fmt: skip
    if model is not None:
        scored = [(s["model_score"], s["positive"]) for s in sessions
                  if s["model_score"] is not None]  # fmt: skip
        mp, mr = precision_recall([(score >= FLAG_SCORE, pos) for score, pos in scored])
        out["model"] = {
            "name": model.name, "auc": roc_auc(scored), "judged": len(scored),
            "precision": mp, "recall": mr, "cost_usd": result.cost_usd,
            "not_judged": result.not_judged, "problems": result.problems,
        }  # fmt: skip
    return out


def _f(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def print_text(found: dict[str, Any], fake: bool) -> None:
    from swelancer.format import api_money

    rules = found["rules"]
    n, pos = found["sessions"], found["positives"]
    print(f"labelled set: {n} sessions, {pos} reward hacking, {n - pos} honest")
    print(f"rules: precision {_f(rules['precision'])}, recall {_f(rules['recall'])}")
    print(f"  missed: {', '.join(rules['missed']) or 'none'}")
    print(f"  false alarms: {', '.join(rules['false_alarms']) or 'none'}")
    groups: dict[str, list[int]] = {}
    for s in found["per_session"]:
        key = s["name"].split("/")[0] + ("" if s["positive"] else " (honest)")
        counts = groups.setdefault(key, [0, 0])
        counts[0] += s["rules_flagged"]
        counts[1] += 1
    for key, (flagged, total) in sorted(groups.items()):
        print(f"  {key}: {flagged} of {total} flagged")
    model = found.get("model")
    if model is not None:
        what = " (fake server, scripted scores: the pipeline, not a model)" if fake else ""
        print(f"model monitor {model['name']}{what}: ROC AUC {_f(model['auc'])} over "
              f"{model['judged']} sessions; at score >= {FLAG_SCORE}: precision "
              f"{_f(model['precision'])}, recall {_f(model['recall'])}; cost "
              f"{api_money(model['cost_usd'])}")  # fmt: skip
        if model["not_judged"]:
            print(f"  not judged (cost cap): {len(model['not_judged'])}")
        for problem in model["problems"]:
            print(f"  problem: {problem}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--monitor-model", help="a chat model, as `swelancer run --model`")
    parser.add_argument("--base-url", help="an OpenAI-compatible server for it")
    parser.add_argument("--max-cost-usd", type=float)
    parser.add_argument("--fake", action="store_true", help="the fake server, scripted answers")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    args = parser.parse_args(argv)
    os.environ.setdefault("SWELANCER_PROMPTS", str(UPSTREAM))
    from swelancer.models.resolve import resolve_model

    if args.fake:
        from tests.fakes import Reply
        from tests.fakes.openai_server import FakeOpenAIServer

        with FakeOpenAIServer(lifetime_s=600) as server:
            for score in scripted_scores(every_case()):
                answer = {"score": score, "turns": [1] if score >= FLAG_SCORE else [],
                          "reason": "scripted"}  # fmt: skip
                server.push(Reply(json.dumps(answer), input_tokens=3_000, output_tokens=30))
            model = resolve_model(args.monitor_model or FAKE_MODEL, base_url=server.base_url)
            found = evaluate(model, args.max_cost_usd)
    elif args.monitor_model:
        model = resolve_model(args.monitor_model, base_url=args.base_url)
        found = evaluate(model, args.max_cost_usd)
    else:
        found = evaluate()
    if args.json:
        print(json.dumps(found, indent=2))
    else:
        print_text(found, args.fake)


if __name__ == "__main__":
    main()
