"""An Inspect AI log of the `inspect_evals` SWE-Lancer task, read into a run directory that
`swelancer report` reads and compares with this harness's own runs.

What is read is what that task writes (inspect_evals 0.26.0 and 0.28.0, `swe_lancer/`, task 2-B):
sample ids are the manifest's `question_id` (the task id here), one epoch per attempt, the
score `swe_lancer_scorer` (1.0 passed, 0.0 failed; its `answer` and `explanation` say why),
sample metadata `variant`, `price`, `correct_proposal_id`, score metadata `pytest_log` and
`patch_content` (IC tasks). A sample that raised is an infrastructure error, outside every
denominator, as in this harness. Prices come from the manifest this harness reads (the log's
own are noted where they differ); a task id the manifest lacks stops the import, naming it.
A log written by `swelancer export --format inspect` reads the same way (its score `swelancer`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swelancer.errors import ConfigError
from swelancer.interop.differences import grading_differences
from swelancer.interop.inspect_export import MISSING_EXTRA, SCORER
from swelancer.records import AttemptError, AttemptRecord, Phases, Tokens, utc_now
from swelancer.run.results import RunDir, Transcript, write_text_atomic
from swelancer.tasks.catalog import TaskSet

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog, EvalSample
    from inspect_ai.scorer import Score

SCORERS = ("swe_lancer_scorer", SCORER)
"""The scores read, in this order: inspect_evals' scorer, then this harness's export."""

ERROR_KIND = "inspect_error"
"""The error kind of a sample that raised in Inspect (its message kept)."""


@dataclass
class Imported:
    """What an import made: the run directory, its attempts, and what was noted."""

    run_dir: Path
    attempts: int
    errors: int
    differences: list[str]
    price_notes: list[str] = field(default_factory=list)


def read_log(path: Path) -> EvalLog:
    """The whole Inspect log at `path`; a `ConfigError` saying why when it cannot be read."""
    try:
        from inspect_ai.log import read_eval_log
    except ImportError:
        raise ConfigError(MISSING_EXTRA.replace("exporting to", "reading")) from None
    if not path.is_file():
        raise ConfigError(f"{path} is not a file; name an Inspect log (.eval or .json).")
    try:
        log = read_eval_log(str(path))
    except Exception as exc:  # inspect_ai raises several kinds for a file that is not a log
        raise ConfigError(
            f"{path} could not be read as an Inspect log ({type(exc).__name__}: "
            f"{str(exc)[:300]}). Name a log written by `inspect eval` (.eval or .json)."
        ) from None
    if not log.samples:
        raise ConfigError(f"the Inspect log {path} holds no samples; there is nothing to import.")
    return log


def _score(sample: EvalSample, path: Path) -> tuple[str, Score] | None:
    scores = sample.scores or {}
    for name in SCORERS:
        if name in scores:
            return name, scores[name]
    if len(scores) == 1:
        return next(iter(scores.items()))
    if scores:
        raise ConfigError(
            f"sample {sample.id} (epoch {sample.epoch}) of {path} has the scores "
            f"{', '.join(sorted(scores))} and none is {' or '.join(SCORERS)}; "
            "the import reads the SWE-Lancer scorer's verdict only."
        )
    return None


def _usage(sample: EvalSample) -> tuple[Tokens, float | None]:
    tokens = Tokens()
    cost: float | None = 0.0
    for usage in sample.model_usage.values():
        tokens = Tokens(
            input=tokens.input + usage.input_tokens,
            cached=tokens.cached + (usage.input_tokens_cache_read or 0),
            output=tokens.output + usage.output_tokens,
            reasoning=tokens.reasoning + (usage.reasoning_tokens or 0),
        )
        cost = None if cost is None or usage.total_cost is None else cost + usage.total_cost
    return tokens, cost


def _check_ids(samples: Iterable[EvalSample], tasks: TaskSet, path: Path) -> None:
    known = {t.task_id for t in tasks.tasks}
    missing = sorted({str(s.id) for s in samples} - known)
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10
                                           else "")  # fmt: skip
        raise ConfigError(
            f"{len(missing)} sample id(s) of {path} are not tasks of {tasks.source.path}: "
            f"{shown}. Name the manifest the log was made from (--split, or --manifest FILE); "
            "prices are taken from it."
        )


def _record(sample: EvalSample, log: EvalLog, tasks: TaskSet, run_id: str, path: Path
            ) -> tuple[AttemptRecord, Score | None, list[str]]:  # fmt: skip
    task = next(t for t in tasks.tasks if t.task_id == str(sample.id))
    meta = sample.metadata or {}
    notes = []
    if meta.get("variant") not in (None, task.variant):
        raise ConfigError(
            f"sample {sample.id} of {path} is a {meta.get('variant')} task in the log but "
            f"{task.variant} in {tasks.source.path}; name the manifest the log was made from."
        )
    logged_price = meta.get("price")
    if isinstance(logged_price, int | float) and abs(float(logged_price) - task.price_usd) > 0.005:
        notes.append(f"{task.task_id}: ${float(logged_price):,.2f} in the log, "
                     f"${task.price_usd:,.2f} in the manifest")  # fmt: skip
    found = _score(sample, path)
    score = found[1] if found else None
    tokens, cost = _usage(sample)
    error = None
    if sample.error is not None or score is None:
        message = sample.error.message if sample.error else "the sample has no score"
        error = AttemptError(kind=ERROR_KIND, message=message[:2000])
        status, value = "error", 0.0
    else:
        value = float(score.as_float())
        status = "passed" if value >= 1.0 else "failed"
    reason = None
    if status == "failed" and score is not None:
        said = [s for s in (score.answer, score.explanation) if s and s != "No limits exceeded"]
        reason = f"{found[0] if found else SCORERS[0]}: " + "; ".join(said) if said else None
    said_tampering = (score.metadata or {}).get("tampering") if score is not None else None
    tampering = str(said_tampering) if said_tampering and status == "failed" else None
    correct = meta.get("correct_proposal_id", getattr(task, "correct_proposal_id", None))
    started = sample.started_at or log.eval.created
    record = AttemptRecord(
        run_id=run_id,
        task_id=task.task_id,
        variant=task.variant,
        attempt=sample.epoch,
        status=status,
        score=value,
        price_usd=task.price_usd,
        earned_usd=round(task.price_usd * value, 2),
        model=log.eval.model,
        turns=sum(m.role == "assistant" for m in sample.messages),
        tokens=tokens,
        cost_usd=cost,
        seconds=Phases(agent=sample.working_time or sample.total_time or 0.0),
        correct_proposal=correct if isinstance(correct, int) else None,
        reason=f"tampering: {tampering}" if tampering else reason,
        tampering=tampering,
        stop_reason=sample.limit.type if sample.limit else None,
        error=error,
        started_at=str(started),
        finished_at=str(sample.completed_at or started),
    )
    return record, score, notes


def _write_attempt(rd: RunDir, record: AttemptRecord, sample: EvalSample, score: Score | None
                   ) -> None:  # fmt: skip
    """The attempt's folder: its messages as transcript.jsonl, and the scorer's pytest log and
    patch (IC tasks), so that `swelancer view` shows it."""
    folder = rd.fresh_attempt_dir(record.task_id, record.attempt)
    log = Transcript(folder / "transcript.jsonl")
    try:
        turn = 0
        for m in sample.messages:
            if m.role == "assistant":
                turn += 1
                calls = [{"id": c.id, "name": c.function, "arguments": c.arguments}
                         for c in m.tool_calls or []]  # fmt: skip
                log.event("model", turn=turn, content=m.text, tool_calls=calls)
            elif m.role == "tool":
                log.event("command", command=m.function or "tool", output=m.text,
                          tool_call_id=m.tool_call_id)  # fmt: skip
            elif m.role == "user":
                log.event("prompt", role="user", content=m.text)
        if record.status != "error":
            log.event("verdict", status=record.status, earned_usd=record.earned_usd)
    finally:
        log.close()
    meta: dict[str, Any] = (score.metadata or {}) if score is not None else {}
    if isinstance(meta.get("pytest_log"), str):
        run = folder / "grading" / record.task_id / "run-1"
        write_text_atomic(run / "pytest.log", meta["pytest_log"])
    if isinstance(meta.get("patch_content"), str) and meta["patch_content"]:
        write_text_atomic(folder / "patch.diff", meta["patch_content"])


def import_inspect(path: Path, tasks: TaskSet, run_dir: Path) -> Imported:
    """Read the Inspect log at `path` into a new run directory `run_dir` (refused when it
    already holds attempts)."""
    log = read_log(path)
    samples = sorted(log.samples or [], key=lambda s: (str(s.id), s.epoch))
    _check_ids(samples, tasks, path)
    rd = RunDir(run_dir)
    if rd.attempts_file.exists() or rd.run_file.exists():
        raise ConfigError(
            f"{run_dir} is already a run directory; the import writes a new one. Choose "
            "another --run-id, or remove that folder."
        )
    with rd.lock():
        differences = grading_differences(log.eval.task, log.eval.packages)
        price_notes: list[str] = []
        errors = 0
        for sample in samples:
            record, score, notes = _record(sample, log, tasks, rd.run_id, path)
            price_notes += [n for n in notes if n not in price_notes]  # once per task
            errors += record.status == "error"
            _write_attempt(rd, record, sample, score)
            rd.append(record)
        stats = log.stats
        tries = log.eval.config.epochs or max(s.epoch for s in samples)
        rd.write_run(
            {
                "run_id": rd.run_id,
                "model": log.eval.model,
                "config": {"run": {"tries": tries}},
                "status": "complete" if log.status == "success" else log.status,
                "manifest": tasks.source.model_dump(),
                "skipped_broken": [],
                "started_at": str(stats.started_at or log.eval.created),
                "finished_at": str(stats.completed_at) if stats.completed_at else None,
                "imported_at": utc_now(),
                "imported_from": {
                    "format": "inspect",
                    "path": str(path),
                    "task": log.eval.task,
                    "task_version": log.eval.task_version,
                    "eval_id": log.eval.eval_id,
                    "run_id": log.eval.run_id,
                    "created": log.eval.created,
                    "packages": log.eval.packages,
                },
                "grading_differences": differences,
                "price_differences": price_notes,
                "caveats": caveats(rd.run_id, path, log.eval.task, differences, price_notes),
            }
        )
    return Imported(run_dir, len(samples), errors, differences, price_notes)


def caveats(run_id: str, path: Path, task: str, differences: list[str], prices: list[str]
             ) -> list[str]:  # fmt: skip
    """What a comparison says of an imported run (run.json's `caveats`, which `swelancer
    report` adds to a comparison's notes): where it came from, how its grading differs from
    this harness's, and where the log's prices differ from the manifest's."""
    notes = [f"{run_id} was imported from the Inspect log {path} (task {task}); its prices "
             "are the manifest's."]  # fmt: skip
    notes += [f"{run_id}: {d}" for d in differences]
    if prices:
        notes.append(f"{run_id}: the log's prices differ from the manifest's for "
                     f"{len(prices)} task(s): " + "; ".join(prices[:5]))  # fmt: skip
    return notes
