"""`swelancer export` (a run as an Inspect log or Harbor trajectories) and `swelancer import`
(an Inspect log of the SWE-Lancer task as a run that `swelancer report` reads)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from swelancer.cli.common import ResultsOpt, say
from swelancer.cli.tasks import ManifestOpt, SplitOpt

FORMATS = ("inspect", "atif")


def export(
    run: Annotated[Path, typer.Argument(help="A run directory, or a run id under --results-dir.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="inspect (an Inspect .eval log) or atif.")
    ] = "inspect",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="inspect: the .eval file (or a folder for <run id>.eval), default "
            "<run>/inspect/<run id>.eval; atif: the folder of trial folders, default <run>/atif.",
        ),
    ] = None,
    results_dir: ResultsOpt = Path("results"),
) -> None:
    """Write a run for other tools: an Inspect AI log, or Harbor ATIF trajectories.

    inspect: one sample per attempt (the prompt, the transcript as messages, the score with
    earned and available dollars, errors as errors, tokens and cost); needs the `inspect`
    extra. atif: per attempt, a Harbor trial folder <task>__<attempt>/ with
    agent/trajectory.json, and verifier/reward.json or exception.txt.

    \b
      swelancer export results/RUN --format inspect && inspect view --log-dir results/RUN/inspect
      swelancer export RUN --format atif -o /tmp/trials
    """
    from swelancer.errors import ConfigError
    from swelancer.report.attempt_dir import resolve_run

    if fmt not in FORMATS:
        raise ConfigError(f"unknown --format {fmt!r}; choose inspect or atif.")
    path = resolve_run(run, results_dir)
    if fmt == "inspect":
        from swelancer.interop.inspect_export import export_inspect

        written = export_inspect(path, output or path / "inspect")
        typer.echo(str(written))
        say(f"wrote {written}; open it with `inspect view --log-dir {written.parent}`.")
        return
    from swelancer.interop.atif_export import export_atif

    target = output or path / "atif"
    trajectories = export_atif(path, target)
    typer.echo(str(target))
    say(f"wrote {len(trajectories)} trajectory file(s) (ATIF) in trial folders under {target}.")


def import_log(
    log: Annotated[Path, typer.Argument(help="An Inspect log (.eval or .json).")],
    split: SplitOpt = None,
    manifest: ManifestOpt = None,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", help="The new run's id (default: imported-<log's file name>)."),
    ] = None,
    results_dir: ResultsOpt = Path("results"),
) -> None:
    """Read an Inspect log of the SWE-Lancer task (inspect_evals) into a new run directory.

    Sample ids are matched to the manifest's task ids and prices come from the manifest (give
    the split or file the log was made from; default: diamond). The run's grading differences
    from this harness's are written with it and said whenever it is compared.

    \b
      swelancer import logs/swe-lancer.eval --split diamond
      swelancer report results/imported-swe-lancer results/RUN     # side by side
    """
    from swelancer.errors import ConfigError
    from swelancer.interop.inspect_import import import_inspect
    from swelancer.run.results import is_plain_name
    from swelancer.tasks.catalog import TaskQuery, load_tasks

    name = run_id or f"imported-{log.name.split('.')[0]}"
    if not is_plain_name(name) or name.startswith("."):
        raise ConfigError(f"--run-id {name[:80]!r} is not a folder name; give a plain name.")
    tasks = load_tasks(TaskQuery(split=split, manifest=manifest))
    done = import_inspect(log, tasks, results_dir / name)
    typer.echo(str(done.run_dir))
    say(
        f"imported {done.attempts} attempt(s) ({done.errors} infrastructure error(s)) into "
        f"{done.run_dir}; compare it with `swelancer report {done.run_dir} RUN`."
    )
    for line in done.differences + done.price_notes:
        say(f"  {line}")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("import")(import_log)
