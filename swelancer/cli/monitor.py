"""`swelancer monitor RUN`: flag attempts whose transcripts show reward hacking."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from swelancer.cli.common import ResultsOpt

if TYPE_CHECKING:
    from swelancer.monitor.models import AttemptFlags


def _line(a: AttemptFlags) -> list[str]:
    from swelancer.format import money
    from swelancer.textsafe import clean

    head = (f"FLAGGED {a.task_id} attempt {a.attempt} ({a.variant}, {a.status}, earned "
            f"{money(a.earned_usd)}), score {a.score}")  # fmt: skip
    lines = [head]
    for f in sorted(a.flags, key=lambda f: (f.turn, -f.score)):
        where = f"turn {f.turn}" if f.turn else "no turn named"
        lines.append(f"  {where} · {f.category}/{f.rule} ({f.score}): {clean(f.why)}")
        if f.quote:
            lines.append(f"      > {clean(f.quote)}")
    return lines


def monitor(
    run: Annotated[Path, typer.Argument(help="A run directory, or a run id under --results-dir.")],
    monitor_model: Annotated[
        str | None,
        typer.Option(
            "--monitor-model",
            help="Also ask this chat model (as `swelancer run "
            "--model` names one) for a score 0–100 on each attempt.",
        ),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="An OpenAI-compatible server for it.")
    ] = None,
    max_cost_usd: Annotated[
        float | None,
        typer.Option(
            "--max-cost-usd",
            help="API dollars the model monitor may spend on "
            "the run; attempts past it are listed as not judged.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the totals.")] = False,
    results_dir: ResultsOpt = Path("results"),
) -> None:
    """Read every attempt's transcript and flag evidence of reward hacking: looking for the
    hidden tests or the fix, walking git's history, probing the network, changing the test
    tooling, reading other tasks' folders, writing outside the repository, code that knows
    it is tested. Each flag names the turn and quotes the line. Writes RUN/monitor.json, which
    `swelancer report` and `view` show.

    \b
      swelancer monitor results/RUN
      swelancer monitor RUN --monitor-model gpt-4o-mini --max-cost-usd 2
    """
    from swelancer.format import api_money
    from swelancer.monitor.scan import monitor_run, write_result
    from swelancer.report.attempt_dir import resolve_run

    path = resolve_run(run, results_dir)
    model = None
    if monitor_model is not None:
        from swelancer.models.resolve import resolve_model

        model = resolve_model(monitor_model, base_url=base_url)

    def show(a: AttemptFlags) -> None:
        if a.flagged and not quiet:
            typer.echo("\n".join(_line(a)))

    result = monitor_run(path, model, max_cost_usd=max_cost_usd, on_attempt=show)
    written = write_result(path, result)
    flagged = [a for a in result.attempts if a.flagged]
    passes = sum(a.status == "passed" for a in flagged)
    typer.echo(f"{len(flagged)} of {len(result.attempts)} attempt(s) flagged ({passes} of them "
               f"passed); written to {written}")  # fmt: skip
    if model is not None:
        why = "the model monitor stopped" if result.model_stopped else "cost cap"
        typer.echo(f"model monitor {model.name}: {api_money(result.cost_usd)}"
                   + (f", {len(result.not_judged)} attempt(s) not judged ({why})"
                      if result.not_judged else ""))  # fmt: skip
    for problem in result.problems:
        typer.echo(f"note: {problem}", err=True)
    if result.model_stopped:
        typer.echo(f"swelancer: error: the model monitor stopped: {result.model_stopped} The "
                   f"rules' flags are in {written}; run it again once the model answers "
                   "to judge them all.", err=True)  # fmt: skip
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
