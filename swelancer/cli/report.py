"""`swelancer report` (the figures of one or more runs) and `swelancer view` (one attempt)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

ResultsOpt = Annotated[Path, typer.Option("--results-dir", help="Where run directories live.")]
FORMATS = ("table", "json", "md", "html")


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
) -> None:
    """Dollars earned out of dollars available, per variant and in total, with pass@1.

    Every figure is recomputed from the runs' attempts.jsonl.

    \b
      swelancer report                               # the newest run, as a table
      swelancer report results/RUN --format html     # results/RUN/report.html, offline
      swelancer report RUN_A RUN_B --format md       # side by side, and where they differ
      swelancer report results/                      # leaderboard of every run in results/
    """
    from swelancer.errors import ConfigError
    from swelancer.report.metrics import is_run_dir, newest_run, run_dirs_in

    if fmt not in FORMATS:
        raise ConfigError(f"unknown --format {fmt!r}; choose table, json, md or html.")
    if not runs:
        newest = newest_run(results_dir)
        if newest is None:
            raise ConfigError(
                f"no run found under {results_dir}; start one with "
                "`swelancer run --split demo --model mock/oracle` or name a run directory."
            )
        runs = [newest]
    if len(runs) == 1 and not is_run_dir(runs[0]) and run_dirs_in(runs[0]):
        _leaderboard(runs[0], fmt, output)
        return
    from swelancer.report.view import resolve_run

    paths = [resolve_run(path, results_dir) for path in runs]
    if len(paths) == 1:
        _one_run(paths[0], fmt, output)
    else:
        _comparison(paths, fmt, output)


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


def _one_run(path: Path, fmt: str, output: Path | None) -> None:
    from swelancer.report import metrics as rep

    figures = rep.compute(path)
    if fmt == "html":
        from swelancer.report.html import write_run_html

        target = output or path / "report.html"
        written = write_run_html(figures, path, target)
        pages = len(written) - 1
        typer.echo(
            f"wrote {target} and {pages} transcript page(s) in {target.stem}_files/; "
            "it opens offline."
        )
    elif fmt == "json":
        _emit(rep.render_json(figures) + "\n", output)
    elif fmt == "md":
        _emit(rep.render_markdown(figures), output)
    elif output is not None:
        _emit(rep.table_text(rep.render_table, figures), output)
    else:
        rep.render_table(figures)


def _comparison(paths: list[Path], fmt: str, output: Path | None) -> None:
    from swelancer.report import compare
    from swelancer.report.html import render_comparison_html

    common = Path(os.path.commonpath([p.resolve().parent for p in paths]))
    _emit_many(
        compare.compare_runs(paths),
        fmt,
        output,
        html=(render_comparison_html, common / "compare.html"),
        md=compare.render_comparison_markdown,
        table=compare.render_comparison_table,
    )


def _leaderboard(results: Path, fmt: str, output: Path | None) -> None:
    from swelancer.report import compare
    from swelancer.report.html import render_leaderboard_html

    _emit_many(
        compare.leaderboard(results),
        fmt,
        output,
        html=(render_leaderboard_html, results / "leaderboard.html"),
        md=compare.render_leaderboard_markdown,
        table=compare.render_leaderboard_table,
    )


def _emit_many(data, fmt: str, output: Path | None, *, html, md, table) -> None:
    """Write a report about several runs in the chosen format (html defaults to a file)."""
    from swelancer.report import compare
    from swelancer.report.metrics import table_text

    render_html, default_html = html
    if fmt == "html":
        _emit(render_html(data), output or default_html)
    elif fmt == "json":
        _emit(compare.render_json(data) + "\n", output)
    elif fmt == "md":
        _emit(md(data), output)
    elif output is not None:
        _emit(table_text(table, data), output)
    else:
        table(data)


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
    from swelancer.report.view import attempt_blocks, load_attempt, render_terminal, resolve_run

    path = resolve_run(run, results_dir)
    render_terminal(attempt_blocks(load_attempt(path, task, attempt)), full=full)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("view")(view)
