"""The `swelancer` command: wires the sub-commands and turns our errors into one paragraph.

Parsing only; each command calls into the module that does the work. Heavy modules (the SDKs,
pydantic models, docker) are imported inside commands so that `swelancer --help` stays fast.
"""

from __future__ import annotations

import sys
import textwrap

import typer

from swelancer.errors import ConfigError, ManifestError, SwelancerError

app = typer.Typer(
    name="swelancer",
    help=(
        "Run AI agents on SWE-Lancer tasks in Docker and report the dollars they earn.\n\n"
        "Start with the demo split, which needs no downloads:\n\n"
        "  swelancer run --split demo --model mock/oracle\n\n"
        "  swelancer report"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _register() -> None:
    from swelancer.cli import cleanup, export, images, monitor, report, run
    from swelancer.cli.tasks import tasks_app

    app.add_typer(tasks_app, name="tasks")
    run.register(app)
    report.register(app)
    images.register(app)
    cleanup.register(app)
    export.register(app)
    monitor.register(app)


_register()


def error_exit_code(error: SwelancerError) -> int:
    """2 for input the user must fix (manifest, flags, keys); 1 for faults while running."""
    return 2 if isinstance(error, ManifestError | ConfigError) else 1


def print_error(error: SwelancerError) -> None:
    label = {ManifestError: "manifest error", ConfigError: "configuration error"}.get(
        type(error), "error"
    )
    from swelancer.textsafe import clean

    text = " ".join(clean(str(error)).split())
    paragraph = textwrap.fill(
        f"swelancer: {label}: {text}", width=100, break_long_words=False, break_on_hyphens=False
    )
    print(paragraph, file=sys.stderr)
    for line in error.tail:
        print(f"  {clean(line)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script and of `python -m swelancer`."""
    try:
        app(args=argv, prog_name="swelancer")
    except SwelancerError as exc:
        print_error(exc)
        sys.exit(error_exit_code(exc))
