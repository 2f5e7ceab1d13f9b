"""A run's attempts as Harbor ATIF trajectories, laid out as Harbor lays out a trial.

For each attempt, `<out>/<task id>__<attempt>/`: `agent/trajectory.json` (the ATIF trajectory),
`verifier/reward.json` (`{"reward": score}`, the score as the report counts it) for a graded
attempt, and `exception.txt` (the infrastructure error) for one that was not. The trajectory's
steps: the prompt (user), each model reply with its tool calls, its metrics and what its
actions gave back (agent), a mock agent's actions (agent, no model call), and the harness's own
events (system); its `extra` holds the attempt's status, score and dollars.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swelancer import __version__
from swelancer.errors import ConfigError
from swelancer.format import money
from swelancer.interop.atif import (
    Agent,
    FinalMetrics,
    Metrics,
    Observation,
    ObservationResult,
    Step,
    ToolCall,
    Trajectory,
)
from swelancer.interop.conversation import Step as Turn
from swelancer.interop.conversation import read_conversation
from swelancer.records import AttemptRecord
from swelancer.report.metrics import score_of, status_of, tampered, why_not_passed
from swelancer.run.results import RunDir, write_text_atomic


def _observation(turn: Turn) -> Observation | None:
    if not turn.results:
        return None
    return Observation(
        results=[
            ObservationResult(
                source_call_id=r.call_id,
                content=r.output,
                extra={
                    k: v
                    for k, v in (("tool", r.name), ("exit_code", r.exit_code), ("error", r.error))
                    if v not in (None, False)
                },
            )
            for r in turn.results
        ]
    )


def _step(n: int, turn: Turn, model: str) -> Step:
    if turn.kind == "user":
        return Step(step_id=n, timestamp=turn.t, source="user", message=turn.text)
    if turn.kind == "note":
        return Step(step_id=n, timestamp=turn.t, source="system", message=turn.text)
    calls = [ToolCall(tool_call_id=c.id, function_name=c.name, arguments=c.arguments)
             for c in turn.calls]  # fmt: skip
    metrics = None
    if turn.kind == "model" and turn.tokens is not None:
        metrics = Metrics(
            prompt_tokens=turn.tokens.input,
            completion_tokens=turn.tokens.output,
            cached_tokens=turn.tokens.cached,
            cost_usd=turn.cost_usd,
            extra={"reasoning_tokens": turn.tokens.reasoning} if turn.tokens.reasoning else None,
        )
    return Step(
        step_id=n,
        timestamp=turn.t,
        source="agent",
        model_name=model if turn.kind == "model" else None,
        message=turn.text,
        tool_calls=calls or None,
        observation=_observation(turn),
        metrics=metrics,
        llm_call_count=1 if turn.kind == "model" else 0,
    )


def _outcome(r: AttemptRecord) -> dict[str, Any]:
    return {
        "run_id": r.run_id,
        "task_id": r.task_id,
        "attempt": r.attempt,
        "variant": r.variant,
        "status": status_of(r),
        "score": score_of(r) if r.status != "error" else None,
        "price_usd": r.price_usd,
        "earned_usd": 0.0 if tampered(r) else r.earned_usd,
        "why": why_not_passed(r),
        "error": r.error.model_dump() if r.error else None,
        "stop_reason": r.stop_reason,
        "turns": r.turns,
        "seconds": r.seconds.model_dump(),
    }


def trajectory(rd: RunDir, r: AttemptRecord, mode: str | None = None) -> Trajectory:
    """The ATIF trajectory of one attempt."""
    turns, damaged = read_conversation(rd.attempt_dir(r.task_id, r.attempt) / "transcript.jsonl")
    steps = [_step(n, turn, r.model) for n, turn in enumerate(turns, start=1)]
    earned = 0.0 if tampered(r) else r.earned_usd
    said = why_not_passed(r)
    outcome = f"outcome: {status_of(r)}, earned {money(earned)} of {money(r.price_usd)}"
    steps.append(
        Step(
            step_id=len(steps) + 1,
            timestamp=r.finished_at,
            source="system",
            message=outcome + (f" ({said})" if said else ""),
        )
    )
    t = r.tokens
    return Trajectory(
        session_id=f"{r.run_id}/{r.task_id}/{r.attempt}",
        trajectory_id=f"{r.task_id}__{r.attempt}",
        agent=Agent(
            name="swelancer",
            version=__version__,
            model_name=r.model,
            extra={"mode": mode} if mode else None,
        ),
        steps=steps,
        notes=f"{damaged} damaged line(s) of transcript.jsonl were skipped" if damaged else None,
        final_metrics=FinalMetrics(
            total_prompt_tokens=t.input,
            total_completion_tokens=t.output,
            total_cached_tokens=t.cached,
            total_cost_usd=r.cost_usd,
            total_steps=len(steps),
            extra={"reasoning_tokens": t.reasoning, "model_calls": r.turns},
        ),
        extra=_outcome(r),
    )


def export_atif(run_dir: Path, target: Path) -> list[Path]:
    """Write every recorded attempt of the run as a Harbor trial folder under `target`; the
    trajectory files written, in order."""
    rd = RunDir(run_dir)
    records = sorted(rd.records(), key=lambda r: (r.task_id, r.attempt))
    if not records:
        raise ConfigError(f"run {rd.run_id} ({run_dir}) has no recorded attempt to export yet.")
    meta = rd.read_run() or {}
    agent = (meta.get("config") or {}).get("agent") if isinstance(meta.get("config"), dict) else {}
    mode = agent.get("mode") if isinstance(agent, dict) else None
    written = []
    for r in records:
        trial = target / f"{r.task_id}__{r.attempt}"
        doc = trajectory(rd, r, mode).model_dump(mode="json", exclude_none=True)
        path = trial / "agent" / "trajectory.json"
        write_text_atomic(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        if r.status == "error":
            said = f"{r.error.kind}: {r.error.message}" if r.error else "infrastructure error"
            write_text_atomic(trial / "exception.txt", said + "\n")
        else:
            reward = {"reward": score_of(r)}
            write_text_atomic(trial / "verifier" / "reward.json", json.dumps(reward) + "\n")
        written.append(path)
    return written
