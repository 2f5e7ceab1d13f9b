"""`swelancer report` (the figures of one or more runs) and `swelancer view` (one attempt)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from swelancer.cli.common import ResultsOpt

if TYPE_CHECKING:
    from swelancer.report.models import Statistics
    from swelancer.report.render import Report


def report(
    runs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Run directories (or run ids under --results-dir). Several: side by side. "
            "A results directory: a leaderboard of its runs. None: the newest run.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json, md or html.")] = "table",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write to this file. html of one run defaults to <run>/report.html (with its "
            "transcript pages in <run>/report_files/); the others print.",
        ),
    ] = None,
    results_dir: ResultsOpt = Path("results"),
    level: Annotated[
        float, typer.Option("--level", help="Confidence level of every interval.")
    ] = 0.95,
    resamples: Annotated[
        int, typer.Option("--resamples", help="Bootstrap resamples of the dollar intervals.")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap draws.")] = 0,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help="With a results directory: pair every run with this one (run id or folder).",
        ),
    ] = None,
    plan: Annotated[
        bool,
        typer.Option("--plan", help="How many tries per task a claim needs, from this run."),
    ] = False,
    width: Annotated[
        float | None,
        typer.Option("--width", help="--plan: the pass@1 interval width wanted (0.05 = 5 points)."),
    ] = None,
    difference: Annotated[
        float | None,
        typer.Option("--difference", help="--plan: the pass@1 difference to detect (0.05)."),
    ] = None,
    power: Annotated[float, typer.Option("--power", help="--plan: power to detect it.")] = 0.8,
) -> None:
    """Dollars earned out of dollars available, per variant and in total, with pass@1, each
    with its 95% interval (tasks as clusters, tries as samples; docs/STATISTICS.md).

    Every figure is recomputed from the runs' attempts.jsonl; the same seed gives the same
    intervals.

    \b
      swelancer report                               # the newest run, as a table
      swelancer report results/RUN --format html     # results/RUN/report.html, offline
      swelancer report RUN_A RUN_B --format md       # paired: does B beat A beyond noise?
      swelancer report results/ --baseline RUN_A     # leaderboard, each run paired with RUN_A
      swelancer report RUN --plan --width 0.05       # tries per task for a 5-point interval
    """
    from swelancer.errors import ConfigError
    from swelancer.report.metrics import is_run_dir, newest_run, run_dirs_in
    from swelancer.report.render import FORMATS

    if fmt not in FORMATS:
        raise ConfigError(f"unknown --format {fmt!r}; choose table, json, md or html.")
    stats = _statistics(level, resamples, seed)
    if not runs:
        newest = newest_run(results_dir)
        if newest is None:
            raise ConfigError(
                f"no run found under {results_dir}; start one with "
                "`swelancer run --split demo --model mock/oracle` or name a run directory."
            )
        runs = [newest]
    try:
        if len(runs) == 1 and not is_run_dir(runs[0]) and run_dirs_in(runs[0]):
            if plan:
                raise ConfigError(f"--plan reads one run; {runs[0]} is a results directory.")
            _leaderboard(runs[0], fmt, output, stats, baseline)
            return
        if baseline is not None:
            raise ConfigError(
                "--baseline pairs the runs of a results directory with one of them; with "
                "runs named (report A B), the first one named is the baseline."
            )
        from swelancer.report.attempt_dir import resolve_run

        paths = [resolve_run(path, results_dir) for path in runs]
        if plan:
            _plan(paths, fmt, output, stats, (width, difference, power))
        elif len(paths) == 1:
            _one_run(paths[0], fmt, output, stats)
        else:
            _comparison(paths, fmt, output, stats)
    except OSError as exc:
        raise _unwritable(exc) from None


def _unwritable(exc: OSError) -> Exception:
    """A report that could not be written (a read-only run directory, a full disk), as one
    paragraph saying where and what to do."""
    from swelancer.errors import SwelancerError

    where = exc.filename or "the report"
    return SwelancerError(
        f"could not write {where} ({exc.strerror or exc}). Nothing of the run was changed; "
        "write the report elsewhere with --output/-o FILE (e.g. -o /tmp/report.html), or make "
        "the folder writable."
    )


def _emit(text: str, output: Path | None) -> None:
    """Print `text` or write it to `output`; either way with nothing a terminal would act on
    (the renderers clean what they take from a run; this is the last guard)."""
    from swelancer.textsafe import clean

    text = clean(text)
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    from swelancer.run.results import write_text_atomic

    write_text_atomic(output, text)
    typer.echo(f"wrote {output}", err=True)


def _deliver(data: Report, fmt: str, output: Path | None, default_html: Path | None = None) -> None:
    """A report in `fmt`: a table on the terminal, else its text printed or written to
    `output` (html to `default_html` when no output is named)."""
    from swelancer.report.render import render, show

    if fmt == "table" and output is None:
        show(data)
    else:
        _emit(render(data, fmt), output or (default_html if fmt == "html" else None))


def _statistics(level: float, resamples: int, seed: int) -> Statistics:
    from swelancer.errors import ConfigError
    from swelancer.report.intervals import statistics

    if not 0.5 <= level < 1:
        raise ConfigError(f"--level {level} is not a confidence level; give one such as 0.95.")
    if not 100 <= resamples <= 1_000_000:
        raise ConfigError(f"--resamples {resamples}: give 100 to 1,000,000 (2000 is usual).")
    return statistics(level, resamples, seed)


def _plan(paths: list[Path], fmt: str, output: Path | None, stats: Statistics,
          asked: tuple[float | None, float | None, float]) -> None:  # fmt: skip
    from swelancer.errors import ConfigError
    from swelancer.report.metrics import compute
    from swelancer.report.plan import plan, plan_lines

    width, difference, power = asked
    if len(paths) != 1 or fmt == "html":
        raise ConfigError("--plan reads one run and writes a table, md or json; name one run.")
    for name, value in (("--width", width), ("--difference", difference), ("--power", power)):
        if value is not None and not 0 < value < 1:
            raise ConfigError(f"{name} {value} is a share between 0 and 1 (0.05 = 5 points).")
    found = plan(compute(paths[0], stats), width, difference, power)
    if fmt == "json":
        from swelancer.textsafe import json_text

        _emit(json_text(found.model_dump(mode="json"), indent=2) + "\n", output)
    else:
        _emit("\n".join(plan_lines(found)) + "\n", output)


def _one_run(path: Path, fmt: str, output: Path | None, stats: Statistics) -> None:
    from swelancer.report.metrics import compute

    report = compute(path, stats)
    if fmt != "html":
        _deliver(report, fmt, output)
        return
    from swelancer.report.html import write_run_html

    target = output or path / "report.html"
    written = write_run_html(report, path, target)
    typer.echo(
        f"wrote {target} and {len(written) - 1} transcript page(s) in {target.stem}_files/; "
        "it opens offline."
    )


def _comparison(paths: list[Path], fmt: str, output: Path | None, stats: Statistics) -> None:
    from swelancer.report.compare import compare_runs

    common = Path(os.path.commonpath([p.resolve().parent for p in paths]))
    _deliver(compare_runs(paths, stats), fmt, output, common / "compare.html")


def _leaderboard(results: Path, fmt: str, output: Path | None, stats: Statistics,
                 baseline: str | None) -> None:  # fmt: skip
    from swelancer.report.compare import leaderboard

    board = leaderboard(results, stats, baseline)
    _deliver(board, fmt, output, results / "leaderboard.html")


def view(
    run: Annotated[Path, typer.Argument(help="A run directory, or a run id under --results-dir.")],
    task: Annotated[str, typer.Argument(help="The task id.")],
    attempt: Annotated[
        int | None, typer.Option("--attempt", "-a", help="Which attempt (default: the first).")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Do not fold long outputs.")] = False,
    results_dir: ResultsOpt = Path("results"),
) -> None:
    """One attempt as it happened: the prompt, each model turn, each command and its output,
    the user tool, the grading runs with their logs, the decision, the verdict and the dollars.

    Long outputs are folded to their head and tail; --full shows them whole.

    \b
      swelancer view results/RUN 15193-manager-0
      swelancer view RUN 29854_602 --attempt 2 --full | less
    """
    from swelancer.report.attempt_dir import load_attempt, resolve_run
    from swelancer.report.blocks import attempt_blocks
    from swelancer.report.view import render_terminal

    path = resolve_run(run, results_dir)
    render_terminal(attempt_blocks(load_attempt(path, task, attempt)), full=full)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("view")(view)
