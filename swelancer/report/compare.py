"""Several runs side by side (`Comparison`) and the leaderboard of a results directory
(`Leaderboard`), as data computed from `RunReport`s.

Each run's figures come from `metrics.compute` (so from its attempts.jsonl); nothing here adds
arithmetic of its own beyond putting them next to each other. The renderers are in `table`,
`markdown` and `html`.

Schema 2 (schema 1 was the same data as a plain dict): every run has `tampered`, and
`common_earned_usd`, `common_available_usd` (comparisons) and `rank` (leaderboards) are always
present, null where schema 1 left them out; tasks' states have `tampered`. Schema 3: a run's
`pass_at_1` is null when it graded no task. Schema 4: every run has its intervals
(`pass_at_1_ci`, `earned_usd_ci`), the report how they were made (`statistics`), and `paired`
holds each run against the baseline (a comparison's first run; a leaderboard's `--baseline`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from swelancer.format import money
from swelancer.report.intervals import statistics
from swelancer.report.metrics import compute, run_dirs_in
from swelancer.report.models import (
    Interval,
    ReportModel,
    RunReport,
    Statistics,
    TaskRow,
    TaskStatus,
)
from swelancer.report.paired import Paired, pair
from swelancer.run.results import RunDir

COMPARISON_SCHEMA = 4


class RunSummary(ReportModel):
    """The figures of one run that a comparison or a leaderboard shows."""

    run_id: str
    path: str
    model: str | None
    status: str | None
    tries: int
    tasks: int
    attempts: int
    pass_at_1: float | None
    pass_at_1_ci: Interval | None = None
    earned_usd: float
    earned_usd_ci: Interval | None = None
    available_usd: float
    ic_swe_earned_usd: float
    swe_manager_earned_usd: float
    errors: int
    errored_usd: float
    tampered: int
    cost_usd: float | None
    earned_per_api_usd: float | None
    flagged: int = 0
    """Attempts the transcript monitor flagged (`RunReport.monitor`)."""
    flagged_passes: int = 0
    common_earned_usd: float | None = None
    """Earned on the tasks every compared run graded (set when the runs' tasks differ)."""
    common_available_usd: float | None = None
    rank: int | None = None
    """Place on a leaderboard (1: earned the most)."""

    @classmethod
    def of(cls, report: RunReport, path: Path) -> RunSummary:
        def earned(variant: str) -> float:
            group = report.by_variant.get(variant)
            return group.earned_usd if group else 0.0

        return cls(
            run_id=report.run_id,
            path=str(path),
            model=report.model,
            status=report.status,
            tries=report.tries,
            tasks=report.tasks,
            attempts=report.attempts,
            pass_at_1=report.pass_at_1,
            pass_at_1_ci=report.pass_at_1_ci,
            earned_usd=report.earned_usd,
            earned_usd_ci=report.earned_usd_ci,
            available_usd=report.available_usd,
            ic_swe_earned_usd=earned("ic_swe"),
            swe_manager_earned_usd=earned("swe_manager"),
            errors=report.errors,
            errored_usd=report.errored_usd,
            tampered=report.tampered,
            cost_usd=report.cost_usd,
            earned_per_api_usd=report.earned_per_api_usd,
            flagged=report.monitor.flagged if report.monitor else 0,
            flagged_passes=report.monitor.flagged_passes if report.monitor else 0,
        )


class TaskState(ReportModel):
    """How one run did on one task."""

    status: TaskStatus
    pass_at_1: float | None
    earned_usd: float
    attempts: int
    tampered: int = 0

    @classmethod
    def of(cls, row: TaskRow | None) -> TaskState | None:
        if row is None:
            return None
        return cls(
            status=row.status,
            pass_at_1=row.pass_at_1,
            earned_usd=row.earned_usd,
            attempts=len(row.attempts),
            tampered=row.tampered,
        )

    def outcome(self) -> tuple[str, float | None]:
        """What two runs must share to have done the same on the task."""
        return self.status, self.pass_at_1


class TaskOutcomes(ReportModel):
    """One task across the compared runs: a state per run, None where a run lacks the task."""

    task_id: str
    price_usd: float
    runs: list[TaskState | None]


class Comparison(ReportModel):
    """The runs side by side; the tasks every run has on which they differ (most expensive
    first); and the tasks only some runs have."""

    schema_version: int = COMPARISON_SCHEMA
    kind: Literal["comparison"] = "comparison"
    runs: list[RunSummary]
    tasks: int
    """Tasks in any of the runs."""
    tasks_in_common: int
    same: int
    """Tasks in common on which every run did the same."""
    differences: list[TaskOutcomes] = Field(default_factory=list)
    only_in_some: list[TaskOutcomes] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    statistics: Statistics = Field(default_factory=statistics)
    paired: list[Paired] = Field(default_factory=list)
    """Each run after the first against the first, on the tasks both graded."""


class Leaderboard(ReportModel):
    """Every run in a results directory, by dollars earned (then pass@1, then name)."""

    schema_version: int = COMPARISON_SCHEMA
    kind: Literal["leaderboard"] = "leaderboard"
    results_dir: str
    runs: list[RunSummary]
    notes: list[str] = Field(default_factory=list)
    statistics: Statistics = Field(default_factory=statistics)
    baseline: str | None = None
    """The run every other is compared with (`--baseline`), if one was chosen."""
    paired: list[Paired] = Field(default_factory=list)


def _tampering_note(runs: list[RunSummary]) -> list[str]:
    flagged = [f"{r.run_id} ({r.tampered})" for r in runs if r.tampered]
    if not flagged:
        return []
    return [
        "attempts that tampered with their grading are scored as failures: "
        + ", ".join(flagged)
        + "."
    ]


def _monitor_note(runs: list[RunSummary]) -> list[str]:
    found = [f"{r.run_id} ({r.flagged}, {r.flagged_passes} passed)" for r in runs if r.flagged]
    if not found:
        return []
    return ["attempts the transcript monitor flagged as reward hacking (`swelancer monitor`): "
            + ", ".join(found) + "."]  # fmt: skip


def compare(
    reports: list[RunReport], paths: list[Path], stats: Statistics | None = None
) -> Comparison:
    """The comparison of runs whose reports are given (with the folders they came from); each
    run after the first is paired with the first."""
    stats = stats or statistics()
    rows = [{t.task_id: t for t in r.per_task} for r in reports]
    all_tasks = sorted(set().union(*rows))
    common = [t for t in all_tasks if all(t in by_id for by_id in rows)]

    def entry(task_id: str) -> TaskOutcomes:
        price = next(by_id[task_id].price_usd for by_id in rows if task_id in by_id)
        states = [TaskState.of(by_id.get(task_id)) for by_id in rows]
        return TaskOutcomes(task_id=task_id, price_usd=price, runs=states)

    def outcome(state: TaskState | None) -> tuple[str, float | None] | None:
        return None if state is None else state.outcome()

    def order(d: TaskOutcomes) -> tuple[float, str]:
        return -d.price_usd, d.task_id

    differences = [entry(t) for t in common]
    differences = [d for d in differences if len({outcome(s) for s in d.runs}) > 1]
    differences.sort(key=order)
    only_some = sorted((entry(t) for t in all_tasks if t not in common), key=order)
    summaries = [RunSummary.of(r, p) for r, p in zip(reports, paths, strict=True)]
    found = []
    if only_some:
        graded_everywhere = [
            t for t in common if all(by_id[t].pass_at_1 is not None for by_id in rows)
        ]
        for summary, by_id in zip(summaries, rows, strict=True):
            summary.common_earned_usd = round(
                sum(by_id[t].earned_usd for t in graded_everywhere), 2
            )
            summary.common_available_usd = round(
                sum(by_id[t].price_usd for t in graded_everywhere), 2
            )
        found.append(
            f"{len(only_some)} task(s) are in only some of the runs; on the "
            f"{len(graded_everywhere)} task(s) every run graded, the runs earned "
            + ", ".join(f"{money(s.common_earned_usd)} ({s.run_id})" for s in summaries)
            + f" of {money(summaries[0].common_available_usd)}."
        )
    if any(r.errors for r in reports):
        found.append("attempts that ended in infrastructure errors are outside every figure.")
    found += _tampering_note(summaries) + _monitor_note(summaries)
    incomplete = [r.run_id for r in reports if r.status not in (None, "complete")]
    if incomplete:
        found.append("not complete: " + ", ".join(incomplete))
    return Comparison(
        runs=summaries,
        tasks=len(all_tasks),
        tasks_in_common=len(common),
        same=len(common) - len(differences),
        differences=differences,
        only_in_some=only_some,
        notes=found,
        statistics=stats,
        paired=[pair(reports[0], r, stats) for r in reports[1:]],
    )


def _caveats(path: Path) -> list[str]:
    """What run.json asks a comparison or a leaderboard to say of the run (`caveats`: an
    imported run's source and grading differences); none when it has none or is unreadable."""
    try:
        meta = RunDir(path).read_run()
    except (OSError, ValueError):
        return []
    said = meta.get("caveats") if isinstance(meta, dict) else None
    return [str(s) for s in said] if isinstance(said, list) else []


def compare_runs(paths: list[Path], stats: Statistics | None = None) -> Comparison:
    """The comparison of the runs in these folders, with what their run.json asks to be said."""
    comparison = compare([compute(p, stats) for p in paths], paths, stats)
    comparison.notes += [note for p in paths for note in _caveats(p)]
    return comparison


def rank(
    reports: list[RunReport],
    paths: list[Path],
    results_dir: Path,
    stats: Statistics | None = None,
    baseline: str | None = None,
) -> Leaderboard:
    """The leaderboard of runs whose reports are given (with the folders they came from); with
    a `baseline` (a run id or folder name among them), every other run paired with it."""
    stats = stats or statistics()
    base = _baseline(reports, paths, baseline, results_dir)
    runs = [RunSummary.of(r, p) for r, p in zip(reports, paths, strict=True)]
    runs.sort(key=lambda r: (-r.earned_usd, -(r.pass_at_1 or 0.0), r.run_id))
    for place, run in enumerate(runs, start=1):
        run.rank = place
    found = []
    available = {r.available_usd for r in runs}
    if len(available) > 1:
        found.append(
            f"the runs were scored on different dollars available ({money(min(available))} to "
            f"{money(max(available))}): a different task set, errors, or an unfinished run; "
            "compare earned with available."
        )
    found += _tampering_note(runs) + _monitor_note(runs)
    incomplete = [r.run_id for r in runs if r.status not in (None, "complete")]
    if incomplete:
        found.append("not complete: " + ", ".join(incomplete))
    return Leaderboard(
        results_dir=str(results_dir),
        runs=runs,
        notes=found,
        statistics=stats,
        baseline=None if base is None else base.run_id,
        paired=[pair(base, r, stats) for r in reports if base is not None and r is not base],
    )


def _baseline(
    reports: list[RunReport], paths: list[Path], baseline: str | None, results_dir: Path
) -> RunReport | None:
    if baseline is None:
        return None
    for report, path in zip(reports, paths, strict=True):
        if baseline in (report.run_id, path.name):
            return report
    from swelancer.errors import ConfigError

    names = ", ".join(sorted(p.name for p in paths)) or "none"
    raise ConfigError(
        f"--baseline {baseline!r} is not a run in {results_dir} (its runs: {names}); name one "
        "of them by its run id or folder."
    )


def leaderboard(
    results_dir: Path, stats: Statistics | None = None, baseline: str | None = None
) -> Leaderboard:
    """The leaderboard of every run directly inside `results_dir`."""
    paths = run_dirs_in(results_dir)
    board = rank([compute(p, stats) for p in paths], paths, results_dir, stats, baseline)
    board.notes += [note for p in paths for note in _caveats(p)]
    return board
