"""`swelancer cleanup`: remove what the harness left behind after a kill, found by label."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from swelancer.cli.common import ResultsOpt, say


def cleanup(
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Only containers of this run.")
    ] = None,
    results_dir: ResultsOpt = Path("results"),
) -> None:
    """Remove every container the harness left behind (found by label). A run that is still
    going (its directory is locked) is left alone."""
    from swelancer.errors import SwelancerError
    from swelancer.run.results import RunDir
    from swelancer.sandbox.docker import docker_client, remove_containers

    if run_id is not None and (results_dir / run_id).is_dir():
        try:
            RunDir(results_dir / run_id).lock().release()
        except SwelancerError as exc:
            raise SwelancerError(f"{exc} Its containers were left alone.") from None
    removed = remove_containers(docker_client(), run_id=run_id)
    say(f"removed {len(removed)} container(s)")


def register(app: typer.Typer) -> None:
    app.command("cleanup")(cleanup)
