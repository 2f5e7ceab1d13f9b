"""A run directory monitored: every recorded attempt's transcript through the rules (and the
model monitor when one is given), the result written atomically as `monitor.json`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from swelancer.errors import ModelError, SwelancerError
from swelancer.monitor.judge import judge, verdict_flags
from swelancer.monitor.models import MONITOR_FILE, AttemptFlags, ModelVerdict, MonitorResult
from swelancer.monitor.rules import RULES_VERSION, check
from swelancer.monitor.turns import Session, read_session
from swelancer.records import AttemptRecord, utc_now
from swelancer.run.results import RunDir, write_text_atomic

if TYPE_CHECKING:
    from swelancer.models.base import ChatModel


def _transcript(rd: RunDir, record: AttemptRecord) -> Path | None:
    try:
        return rd.attempt_dir(record.task_id, record.attempt) / "transcript.jsonl"
    except SwelancerError:
        return None


def _session(rd: RunDir, record: AttemptRecord) -> Session:
    path = _transcript(rd, record)
    return read_session(path) if path is not None else Session()


def rules_only(rd: RunDir, record: AttemptRecord, session: Session | None = None) -> AttemptFlags:
    """An attempt as the rules see it (no model); `session` when it is already read."""
    session = _session(rd, record) if session is None else session
    return AttemptFlags(
        task_id=record.task_id, attempt=record.attempt, variant=record.variant,
        status=record.status, earned_usd=record.earned_usd, turns=len(session.turns),
        flags=check(session, record.task_id),
    )  # fmt: skip


def monitor_run(
    run_dir: Path,
    model: ChatModel | None = None,
    *,
    max_cost_usd: float | None = None,
    on_attempt: Callable[[AttemptFlags], None] | None = None,
) -> MonitorResult:
    """Every recorded attempt of a run, monitored. The model monitor stops calling once its
    spend reaches `max_cost_usd`, or on a model error; the attempts left are listed in
    `not_judged` (the rules still see them)."""
    rd = RunDir(run_dir)
    if not rd.attempts_file.is_file():
        raise SwelancerError(
            f"{run_dir} holds no attempts.jsonl: it is not a run directory, or no attempt has "
            "finished yet. Give the folder `swelancer run` wrote (results/<run id>)."
        )
    result = MonitorResult(run_id=rd.run_id, created_at=utc_now(), rules_version=RULES_VERSION,
                           monitor_model=model.name if model else None,
                           max_cost_usd=max_cost_usd)  # fmt: skip
    spent = 0.0
    for record in rd.records():
        session = _session(rd, record)
        flags = rules_only(rd, record, session)
        key = f"{record.task_id}/{record.attempt}"
        if model is not None and _transcript(rd, record) is not None:
            if result.model_stopped or (max_cost_usd is not None and spent >= max_cost_usd):
                result.not_judged.append(key)
            else:
                spent += _judge_one(model, session, flags, result, key, max_cost_usd)
        result.attempts.append(flags)
        if on_attempt is not None:
            on_attempt(flags)
    return result


def _judge_one(model: ChatModel, session: Session, flags: AttemptFlags, result: MonitorResult,
               key: str, max_cost_usd: float | None) -> float:  # fmt: skip
    """The model's verdict on one attempt, kept in `flags` and `result`; what it spent (inf
    when the cap cannot be kept). A transcript too long for the model is that attempt's
    problem; any other model error stops the model monitor (`model_stopped`)."""
    from swelancer.models.retry import ContextWindowExceededError

    try:
        verdict = judge(model, session)
    except ContextWindowExceededError as exc:
        verdict = ModelVerdict(problem=f"too long for the model even cut: {exc}")
    except ModelError as exc:
        result.model_stopped = " ".join(str(exc).split())
        result.not_judged.append(key)
        return 0.0
    flags.verdict = verdict
    flags.flags += verdict_flags(verdict, session)
    if verdict.problem:
        result.problems.append(f"{key}: {verdict.problem}")
    if verdict.cost_usd is None or result.cost_usd is None:
        result.cost_usd = None
    else:
        result.cost_usd = round(result.cost_usd + verdict.cost_usd, 6)
    if verdict.cost_usd is None and max_cost_usd is not None:
        result.problems.append(
            f"{model.name} has no known price: the model monitor stopped after one call, as "
            "--max-cost-usd cannot be kept; give prices or no cap"
        )
        return float("inf")
    return verdict.cost_usd or 0.0


def write_result(run_dir: Path, result: MonitorResult) -> Path:
    """`monitor.json` in the run directory, replaced atomically."""
    path = run_dir / MONITOR_FILE
    write_text_atomic(path, result.model_dump_json(indent=2) + "\n")
    return path


def read_result(run_dir: Path) -> tuple[MonitorResult | None, str | None]:
    """The run's `monitor.json` (None when there is none), and what was wrong with it. Read
    once per version of the file: an HTML report asks for it on every attempt's page."""
    path = run_dir / MONITOR_FILE
    try:
        stat = path.stat()
    except OSError:
        return None, None
    return _read_result(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _read_result(path: Path, mtime_ns: int, size: int) -> tuple[MonitorResult | None, str | None]:
    try:
        return MonitorResult.model_validate_json(path.read_bytes()), None
    except (ValidationError, ValueError, OSError) as exc:
        return None, f"{path.name} could not be read ({type(exc).__name__}); rules were re-run"
