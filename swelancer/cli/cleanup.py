"""`swelancer cleanup`: remove what the harness left behind after a kill, found by label."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from swelancer.cli.common import ResultsOpt, engine, say


def cleanup(
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Only what this run left behind.")
    ] = None,
    results_dir: ResultsOpt = Path("results"),
) -> None:
    """Remove every container the harness left behind, and the snapshots of those runs that
    were not kept (both found by label). A run that is still going (its directory is locked)
    is left alone. Kept snapshots stay: `swelancer images prune` removes them."""
    from swelancer.errors import SwelancerError
    from swelancer.ops.snapshots import remove_left_snapshots
    from swelancer.run.results import RunDir

    if run_id is not None and (results_dir / run_id).is_dir():
        try:
            RunDir(results_dir / run_id).lock().release()
        except SwelancerError as exc:
            raise SwelancerError(f"{exc} Its containers were left alone.") from None
    with engine() as eng:
        removed = eng.remove_containers(run_id)
        snapshots = remove_left_snapshots(eng, run_id)
    gone = [item for item in snapshots if item.removed]
    say(f"removed {len(removed)} container(s) and {len(gone)} snapshot(s) that were not kept")
    for item in snapshots:
        if not item.removed:  # another run's container started from it: not ours to stop
            say(
                f"kept snapshot {item.snapshot.name}: {item.blocked or item.error}; run "
                "`swelancer cleanup` again once that container is gone"
            )


def register(app: typer.Typer) -> None:
    app.command("cleanup")(cleanup)
