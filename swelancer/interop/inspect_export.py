"""A run as an Inspect AI eval log (`.eval`), written with `inspect_ai.log`'s public API.

One sample per attempt (id: the task id, epoch: the attempt number): the prompt as input, the
transcript as messages (tool calls and their outputs, or upstream's code blocks and outputs),
the score as the report counts it (`value` the score, `answer` the status, metadata `earned` and
`available` dollars as the `inspect_evals` SWE-Lancer scorer writes them), an infrastructure
error as the sample's error with no score (never a zero), tokens and cost as its model usage.
The eval spec holds run.json (the run's configuration, manifest, prompts, versions); the results
hold the report's figures, from `report.metrics.compute`, so both tools show the same numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from swelancer import __version__
from swelancer.errors import ConfigError
from swelancer.interop.conversation import Step, read_conversation
from swelancer.records import AttemptRecord, utc_now
from swelancer.report.metrics import compute, score_of, status_of, tampered, why_not_passed
from swelancer.report.models import RunReport
from swelancer.run.results import RunDir

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog, EvalSample
    from inspect_ai.model import ChatMessage, ModelUsage

SCORER = "swelancer"
"""The name of the score every exported sample carries."""

NO_PROMPT = "(no prompt was sent: the agent of this attempt calls no model)"

MISSING_EXTRA = (
    "exporting to Inspect needs the `inspect_ai` package, which is an optional extra: "
    "`pip install 'swelancer[inspect]'` (or `pip install inspect-ai`), then run the same command."
)


def _inspect_available() -> None:
    try:
        import inspect_ai.log  # noqa: F401
    except ImportError:
        raise ConfigError(MISSING_EXTRA) from None


# -- messages ---------------------------------------------------------------------------------


def _messages(steps: list[Step], model: str) -> list[ChatMessage]:
    from inspect_ai.model import (
        ChatMessageAssistant,
        ChatMessageTool,
        ChatMessageUser,
    )
    from inspect_ai.tool import ToolCall, ToolCallError

    out: list[ChatMessage] = []
    for step in steps:
        if step.kind == "user":
            out.append(ChatMessageUser(content=step.text, source="input"))
            continue
        if step.kind not in ("model", "action"):
            continue
        meta: dict[str, Any] = {"scripted": True} if step.kind == "action" else {"turn": step.turn}
        if step.kind == "model":
            meta["cost_usd"] = step.cost_usd
            meta["tokens"] = step.tokens.model_dump() if step.tokens else None
        calls = [ToolCall(id=c.id, function=c.name, arguments=c.arguments) for c in step.calls]
        out.append(
            ChatMessageAssistant(
                content=step.text,
                tool_calls=calls or None,
                model=model if step.kind == "model" else None,
                source="generate" if step.kind == "model" else None,
                metadata=meta,
            )
        )
        for result in step.results:
            if result.call_id is None:  # upstream's protocol: the output goes back as a user turn
                out.append(ChatMessageUser(content=result.output, metadata={"of": result.name}))
                continue
            out.append(
                ChatMessageTool(
                    content=result.output,
                    tool_call_id=result.call_id,
                    function=result.name,
                    error=ToolCallError("parsing", result.output) if result.error else None,
                    metadata={"exit_code": result.exit_code} if result.exit_code else None,
                )
            )
    return out


def _usage(r: AttemptRecord) -> ModelUsage:
    from inspect_ai.model import ModelUsage

    t = r.tokens
    return ModelUsage(
        input_tokens=t.input,
        output_tokens=t.output,
        total_tokens=t.input + t.output,
        input_tokens_cache_read=t.cached or None,
        reasoning_tokens=t.reasoning or None,
        total_cost=r.cost_usd,
    )


# -- samples ----------------------------------------------------------------------------------


def _score_metadata(r: AttemptRecord) -> dict[str, Any]:
    return {
        "earned": 0.0 if tampered(r) else r.earned_usd,
        "available": r.price_usd,
        "variant": r.variant,
        "issue_id": r.task_id,
        "status": status_of(r),
        "tampering": r.tampering if tampered(r) else None,
    }


def sample_of(rd: RunDir, r: AttemptRecord) -> EvalSample:
    """One attempt as an Inspect sample."""
    from inspect_ai.log import EvalError, EvalSample
    from inspect_ai.model import ChatMessageUser, ModelOutput
    from inspect_ai.scorer import Score

    steps, damaged = read_conversation(rd.attempt_dir(r.task_id, r.attempt) / "transcript.jsonl")
    first_act = next((i for i, s in enumerate(steps) if s.kind in ("model", "action")), None)
    head = steps if first_act is None else steps[:first_act]
    prompt = [ChatMessageUser(content=s.text, source="input") for s in head if s.kind == "user"]
    messages = _messages(steps, r.model)
    last = next((s.text for s in reversed(steps) if s.kind == "model"), "")
    error = None
    scores = None
    if r.status == "error":
        said = f"{r.error.kind}: {r.error.message}" if r.error else "infrastructure error"
        error = EvalError(message=said, traceback=said, traceback_ansi=said)
    else:
        scores = {
            SCORER: Score(
                value=score_of(r),
                answer=status_of(r),
                explanation=why_not_passed(r) or "passed",
                metadata=_score_metadata(r),
            )
        }
    seconds = r.seconds
    return EvalSample(
        id=r.task_id,
        epoch=r.attempt,
        input=list(prompt) if prompt else NO_PROMPT,
        target=str(r.correct_proposal) if r.correct_proposal is not None else "",
        messages=messages if messages else list(prompt),
        output=ModelOutput.from_content(model=r.model, content=last),
        scores=scores,
        error=error,
        metadata={
            "price": r.price_usd,
            "variant": r.variant,
            "issue_id": r.task_id,
            "correct_proposal_id": r.correct_proposal,
            "swelancer": r.model_dump(mode="json"),
            "harness_notes": [s.text for s in steps if s.kind == "note"],
            "transcript_damaged_lines": damaged,
        },
        model_usage={r.model: _usage(r)},
        started_at=r.started_at,
        completed_at=r.finished_at,
        total_time=round(seconds.setup + seconds.agent + seconds.grading, 3),
        working_time=round(seconds.agent, 3),
    )


# -- the log ----------------------------------------------------------------------------------


def _metrics(report: RunReport) -> dict[str, float | int | None]:
    """The report's figures of the whole run, under Inspect's metric names where it has one."""
    return {
        "accuracy": report.pass_at_1,
        "pass_at_k": report.pass_at_k,
        "earned_usd": report.earned_usd,
        "available_usd": report.available_usd,
        "errored_usd": report.errored_usd,
        "passed": report.passed,
        "failed": report.failed,
        "tampered": report.tampered,
        "errors": report.errors,
        "cost_usd": report.cost_usd,
    }


def _status(run_status: str | None) -> Literal["started", "success", "cancelled"]:
    if run_status == "complete":
        return "success"
    return "started" if run_status == "running" else "cancelled"


def _total_usage(records: Sequence[AttemptRecord]) -> dict[str, ModelUsage]:
    from inspect_ai.model import ModelUsage

    totals: dict[str, ModelUsage] = {}
    for r in records:
        totals[r.model] = totals.get(r.model, ModelUsage()) + _usage(r)
    return totals


def eval_log(run_dir: Path) -> EvalLog:
    """The Inspect eval log of a run directory (not yet written)."""
    _inspect_available()
    import inspect_ai
    from inspect_ai.log import (
        EvalConfig,
        EvalDataset,
        EvalLog,
        EvalMetric,
        EvalPlan,
        EvalPlanStep,
        EvalResults,
        EvalScore,
        EvalSpec,
        EvalStats,
    )

    rd = RunDir(run_dir)
    report = compute(run_dir)
    meta = rd.read_run() or {}
    records = sorted(rd.records(), key=lambda r: (r.task_id, r.attempt))
    if not records:
        raise ConfigError(f"run {rd.run_id} ({run_dir}) has no recorded attempt to export yet.")
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    agent = (config or {}).get("agent") or {}
    manifest = report.manifest
    created = report.started_at or records[0].started_at or utc_now()
    digest = hashlib.sha256(f"{report.run_id}\0{created}".encode()).hexdigest()
    metrics = {
        name: EvalMetric(name=name, value=value)
        for name, value in _metrics(report).items()
        if value is not None
    }
    model = report.model or records[0].model
    spec = EvalSpec(
        eval_id=digest[:22],
        run_id=report.run_id,
        created=created,
        task="swelancer",
        task_id=digest[22:44],
        task_version=0,
        task_display_name=f"SWE-Lancer ({manifest.source() if manifest else 'unknown tasks'})",
        task_args=config or {},
        solver=f"swelancer/{agent.get('mode', 'upstream')}" if agent else "swelancer",
        dataset=EvalDataset(
            name=manifest.source() if manifest else None,
            location=(manifest.url or manifest.path) if manifest else None,
            samples=len({r.task_id for r in records}),
            sample_ids=sorted({r.task_id for r in records}),
        ),
        model=model,
        config=EvalConfig(epochs=report.tries),
        packages={"swelancer": __version__, "inspect_ai": inspect_ai.__version__},
        metadata={"swelancer_run": meta},
    )
    graded = [r for r in records if r.status != "error"]
    return EvalLog(
        version=2,
        status=_status(report.status),
        eval=spec,
        plan=EvalPlan(name="swelancer", steps=[EvalPlanStep(solver=spec.solver or "swelancer")]),
        results=EvalResults(
            total_samples=len(records),
            completed_samples=len(graded),
            scores=[
                EvalScore(
                    name=SCORER,
                    scorer=SCORER,
                    scored_samples=len(graded),
                    unscored_samples=len(records) - len(graded),
                    metrics=metrics,
                )
            ],
        ),
        stats=EvalStats(
            started_at=created,
            completed_at=report.finished_at or records[-1].finished_at,
            model_usage=_total_usage(records),
        ),
        samples=[sample_of(rd, r) for r in records],
    )


def export_inspect(run_dir: Path, target: Path) -> Path:
    """Write the run as an Inspect `.eval` log at `target` (a file, or a folder to put
    `<run id>.eval` in); the path written."""
    log = eval_log(run_dir)
    from inspect_ai.log import write_eval_log

    if target.is_dir() or not target.suffix:
        target = target / f"{RunDir(run_dir).run_id}.eval"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_eval_log(log, location=str(target), format="eval")
    return target
