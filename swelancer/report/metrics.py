"""The figures of a run, recomputed from attempts.jsonl into a `RunReport`.

A task's pass@1 is the mean score of its graded attempts; it earns `price × pass@1`. Attempts
that ended in an infrastructure error are outside every denominator and listed apart; a task
whose attempts all errored is not counted as available. An attempt whose record names tampering
is a failure with score 0, whatever else its record says, and is listed apart too.

The renderers are `table`, `markdown` and `html` (`render` picks one by format); several runs
are compared in `compare`.
"""

from __future__ import annotations

from collections import defaultdict
from math import comb
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from swelancer.monitor.summary import summarize, without_flagged_passes
from swelancer.records import AttemptRecord, Status
from swelancer.report.intervals import (
    TaskSample,
    dollar_draws,
    earned_interval,
    pass_interval,
    pass_k_interval,
    statistics,
)
from swelancer.report.models import (
    AttemptRow,
    ErroredAttempt,
    ErrorsAsFailures,
    Figures,
    ManifestInfo,
    RunReport,
    Statistics,
    TamperedAttempt,
    TaskRow,
    TaskStatus,
)
from swelancer.run.results import RunDir
from swelancer.tasks.models import PRICE_BUCKETS, VARIANTS, price_bucket


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n graded attempts of which c passed."""
    if n < k:
        return 1.0 if c > 0 else 0.0
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


# -- what an attempt counts as ------------------------------------------------------------


def tampered(r: AttemptRecord) -> bool:
    """Whether the attempt was graded and its grading showed tampering."""
    return bool(r.tampering) and r.status != "error"


def status_of(r: AttemptRecord) -> Status:
    """The attempt's status as scored: a tampered attempt failed."""
    return "failed" if tampered(r) else r.status


def score_of(r: AttemptRecord) -> float:
    return 0.0 if tampered(r) else r.score


def _by_task(records: list[AttemptRecord]) -> dict[str, list[AttemptRecord]]:
    by_task: dict[str, list[AttemptRecord]] = defaultdict(list)
    for r in records:
        by_task[r.task_id].append(r)
    return by_task


# -- figures ------------------------------------------------------------------------------


def samples(
    records: list[AttemptRecord], k: int, *, errors_as_failures: bool = False
) -> list[TaskSample]:
    """Each task's graded tries as the intervals take them (with `errors_as_failures`, every
    task, an errored try scoring 0)."""
    out = []
    for rs in _by_task(records).values():
        tries = rs if errors_as_failures else [r for r in rs if r.status != "error"]
        if not tries:
            continue
        scores = tuple(0.0 if r.status == "error" else score_of(r) for r in tries)
        hits = sum(r.status != "error" and status_of(r) == "passed" for r in tries)
        hit_k = pass_at_k(len(tries), hits, k) if k > 1 else None
        out.append(TaskSample(rs[0].variant, rs[0].price_usd, scores, hit_k))
    return out


def _with_intervals(found: Figures, records: list[AttemptRecord], k: int, stats: Statistics,
                    name: str) -> Figures:  # fmt: skip
    """`found` with its intervals, and its figures with errors as failures when any errored."""
    graded = samples(records, k)
    found.pass_at_1_ci = pass_interval(graded, stats)
    found.pass_at_k_ci = pass_k_interval(graded, stats) if k > 1 else None
    found.earned_usd_ci = earned_interval(dollar_draws(graded, stats, name), graded, stats)
    if found.errors:
        every = samples(records, k, errors_as_failures=True)
        draws = dollar_draws(every, stats, f"{name}:errors_as_failures")
        found.errors_as_failures = ErrorsAsFailures(
            tasks=len(every),
            pass_at_1=round(sum(t.mean for t in every) / len(every), 4) if every else None,
            pass_at_1_ci=pass_interval(every, stats),
            earned_usd=round(sum(t.price * t.mean for t in every), 2),
            earned_usd_ci=earned_interval(draws, every, stats),
            available_usd=round(sum(t.price for t in every), 2),
        )
    return found


def figures(
    records: list[AttemptRecord], k: int, stats: Statistics | None = None, name: str = "run"
) -> Figures:
    """The figures of a group of attempts, with pass@k for `k` tries (none when k is 1), and
    with their intervals when `stats` says how to make them (`name` seeds their draws)."""
    found = _figures(records, k)
    return found if stats is None else _with_intervals(found, records, k, stats, name)


def _figures(records: list[AttemptRecord], k: int) -> Figures:
    by_task = _by_task(records)
    graded = {t: [r for r in rs if r.status != "error"] for t, rs in by_task.items()}
    graded = {t: rs for t, rs in graded.items() if rs}
    pass1 = {t: sum(score_of(r) for r in rs) / len(rs) for t, rs in graded.items()}
    price = {t: rs[0].price_usd for t, rs in by_task.items()}
    costs = [r.cost_usd for r in records]
    cost = None if any(c is None for c in costs) else round(sum(costs), 6)  # type: ignore[arg-type]
    earned = round(sum(price[t] * p for t, p in pass1.items()), 2)
    pass_k = None
    if k > 1:
        hits = [
            pass_at_k(len(rs), sum(status_of(r) == "passed" for r in rs), k)
            for rs in graded.values()
        ]
        pass_k = round(sum(hits) / len(hits), 4) if hits else None
    return Figures(
        tasks=len(graded),
        tasks_errored=len(by_task) - len(graded),
        attempts=len(records),
        passed=sum(status_of(r) == "passed" for r in records),
        failed=sum(status_of(r) == "failed" for r in records),
        tampered=sum(tampered(r) for r in records),
        errors=sum(r.status == "error" for r in records),
        pass_at_1=round(sum(pass1.values()) / len(pass1), 4) if pass1 else None,
        pass_at_k=pass_k,
        earned_usd=earned,
        available_usd=round(sum(price[t] for t in graded), 2),
        errored_usd=round(sum(price[t] for t in by_task if t not in graded), 2),
        input_tokens=sum(r.tokens.input for r in records),
        output_tokens=sum(r.tokens.output for r in records),
        cost_usd=cost,
        earned_per_api_usd=round(earned / cost, 2) if cost else None,
    )


def _attempt_row(r: AttemptRecord) -> AttemptRow:
    return AttemptRow(
        attempt=r.attempt,
        status=status_of(r),
        score=score_of(r),
        earned_usd=0.0 if tampered(r) else r.earned_usd,
        turns=r.turns,
        cost_usd=r.cost_usd,
        seconds=round(r.seconds.setup + r.seconds.agent + r.seconds.grading, 1),
        stop_reason=r.stop_reason,
        reason=r.reason,
        decision_odd_form=r.decision_odd_form,
        error=f"{r.error.kind}: {r.error.message}" if r.error else None,
        tampering=r.tampering if tampered(r) else None,
        why=why_not_passed(r),
    )


def why_not_passed(r: AttemptRecord) -> str | None:
    """Why an attempt did not pass, in a line; None when it passed."""
    if r.status == "error":
        return f"{r.error.kind}: {r.error.message}" if r.error else "infrastructure error"
    if tampered(r):
        return f"tampered: {r.tampering}"
    if status_of(r) == "passed":
        return None
    if r.reason:
        said = r.reason
    elif r.variant == "swe_manager":
        said = (
            "no proposal selected"
            if r.selected_proposal is None
            else f"selected proposal {r.selected_proposal}; the manager chose {r.correct_proposal}"
        )
    else:
        runs = r.test_exit_codes.get(r.graded_folder or "") or [
            code for codes in r.test_exit_codes.values() for code in codes
        ]
        said = "the hidden tests failed"
        if runs:
            said += f" (pytest exit {', '.join(map(str, runs))})"
    if r.stop_reason and r.stop_reason != "done":
        said += f"; the agent stopped: {r.stop_reason}"
    return said


def task_rows(records: list[AttemptRecord]) -> list[TaskRow]:
    """One row per task: its attempts and what it earned (the same arithmetic as `figures`)."""
    by_task = _by_task(records)
    rows = []
    for task_id in sorted(by_task):
        attempts = sorted(by_task[task_id], key=lambda r: r.attempt)
        graded = [r for r in attempts if r.status != "error"]
        pass1 = sum(score_of(r) for r in graded) / len(graded) if graded else None
        passed = sum(status_of(r) == "passed" for r in attempts)
        status: TaskStatus
        if not graded:
            status = "error"
        elif passed == len(graded):
            status = "passed"
        elif passed == 0:
            status = "failed"
        else:
            status = "mixed"
        price = attempts[0].price_usd
        rows.append(
            TaskRow(
                task_id=task_id,
                variant=attempts[0].variant,
                price_usd=price,
                price_bucket=price_bucket(price),
                status=status,
                graded=len(graded),
                passed=passed,
                errors=len(attempts) - len(graded),
                tampered=sum(tampered(r) for r in attempts),
                pass_at_1=None if pass1 is None else round(pass1, 4),
                earned_usd=0.0 if pass1 is None else round(price * pass1, 4),
                attempts=[_attempt_row(r) for r in attempts],
            )
        )
    return rows


# -- the run ------------------------------------------------------------------------------


def _read_meta(rd: RunDir) -> tuple[dict[str, Any], list[str]]:
    try:
        meta = rd.read_run() or {}
    except (OSError, ValueError) as exc:
        return {}, [f"run.json could not be read ({exc}); the run's context is unknown."]
    return (meta, []) if isinstance(meta, dict) else ({}, ["run.json is not a JSON object."])


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _manifest(value: Any, problems: list[str]) -> ManifestInfo | None:
    if value is None:
        return None
    try:
        return ManifestInfo.model_validate(value)
    except ValidationError:
        problems.append("run.json's manifest could not be read; the tasks' source is unknown.")
        return None


def _tries(meta: dict[str, Any], records: list[AttemptRecord]) -> int:
    config = meta.get("config")
    planned = None
    if isinstance(config, dict):  # sections ([run] tries) since config schema 2; flat before
        section = config.get("run")
        planned = section.get("tries") if isinstance(section, dict) else config.get("tries")
    try:
        return max(int(planned), 1) if planned else max((r.attempt for r in records), default=1)
    except (TypeError, ValueError):
        return max((r.attempt for r in records), default=1)


def _prompts(meta: dict[str, Any]) -> str | None:
    prompts = meta.get("prompts")
    kind = prompts.get("kind") if isinstance(prompts, dict) else None
    return None if kind is None else str(kind)


def compute(run_dir: Path, stats: Statistics | None = None) -> RunReport:
    """Every figure of a run, from its attempts.jsonl (and run.json for the context), with
    intervals made as `stats` says (95 %, 2,000 resamples, seed 0 by default)."""
    stats = stats or statistics()
    rd = RunDir(run_dir)
    meta, problems = _read_meta(rd)
    records = rd.records()
    k = _tries(meta, records)
    skipped = meta.get("skipped_broken")
    manifest = _manifest(meta.get("manifest"), problems)
    monitor = summarize(run_dir, records)
    unflagged = without_flagged_passes(records, monitor) if monitor.flagged_passes else []
    return RunReport(
        run_id=str(meta.get("run_id") or rd.run_id),
        model=_text(meta.get("model") or (records[0].model if records else None)),
        status=_text(meta.get("status")),
        manifest=manifest,
        skipped_broken=[str(s) for s in skipped] if isinstance(skipped, list) else [],
        tries=k,
        started_at=_text(meta.get("started_at") or meta.get("created_at")),
        finished_at=_text(meta.get("finished_at")),
        problems=problems,
        prompts=_prompts(meta),
        statistics=stats,
        **figures(records, k, stats).model_dump(),
        by_variant={v: figures([r for r in records if r.variant == v], k, stats) for v in VARIANTS},
        by_price_bucket={
            label: figures([r for r in records if price_bucket(r.price_usd) == label], k)
            for label, _, _ in PRICE_BUCKETS
        },
        errored=[
            ErroredAttempt(
                task_id=r.task_id, attempt=r.attempt, kind=r.error.kind, message=r.error.message
            )
            for r in records
            if r.status == "error" and r.error
        ],
        tampered_attempts=[
            TamperedAttempt(task_id=r.task_id, attempt=r.attempt, tampering=r.tampering or "")
            for r in records
            if tampered(r)
        ],
        per_task=task_rows(records),
        monitor=monitor,
        excluding_flagged={
            v: figures([r for r in unflagged if v == "all" or r.variant == v], k)
            for v in ("all", *VARIANTS)
        }
        if unflagged
        else {},
    )


# -- finding runs -------------------------------------------------------------------------


def is_run_dir(path: Path) -> bool:
    return (path / "attempts.jsonl").is_file() or (path / "run.json").is_file()


def run_dirs_in(results_dir: Path) -> list[Path]:
    """The run directories directly inside a results directory, by name."""
    if not results_dir.is_dir():
        return []
    return sorted(p for p in results_dir.iterdir() if p.is_dir() and is_run_dir(p))


def newest_run(results_dir: Path) -> Path | None:
    runs = list(results_dir.glob("*/run.json")) if results_dir.exists() else []
    return max(runs, key=lambda p: p.stat().st_mtime).parent if runs else None
