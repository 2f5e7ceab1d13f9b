"""`swelancer cleanup`: remove what runs that are over left behind after a kill, found by label."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from swelancer.cli.common import ResultsOpt, engine, say

if TYPE_CHECKING:
    from swelancer.ops.snapshots import SnapshotItem


def cleanup(
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Only what this run left behind.")
    ] = None,
    results_dir: ResultsOpt = Path("results"),
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Remove the harness's containers even of runs that look alive (a locked run "
            "directory, or no directory and younger than --grace). Stops those runs.",
        ),
    ] = False,
    grace: Annotated[
        float,
        typer.Option(
            "--grace",
            min=0,
            help="Seconds the newest container of a run with no run directory must have run "
            "before it is taken as left behind (3600).",
        ),
    ] = 3600.0,
) -> None:
    """Remove the containers of runs that are over, and the snapshots those runs did not keep
    (both found by label). A run is over when its run directory's lock is free; a run with no
    directory, when its newest container is older than --grace. Runs still going are left
    alone and named; --force takes them too. Kept snapshots stay: `swelancer images prune`
    removes them."""
    from swelancer.errors import SwelancerError
    from swelancer.ops.snapshots import apply_snapshot_plan, snapshot_plan
    from swelancer.run.cleanup import clean_runs, live_run_ids
    from swelancer.run.results import RunDir

    if run_id is not None:
        if (results_dir / run_id).is_dir() and not force:
            try:
                RunDir(results_dir / run_id).lock().release()
            except SwelancerError as exc:
                raise SwelancerError(
                    f"{exc} Its containers were left alone (--force removes them, stopping it)."
                ) from None
        with engine() as eng:
            removed = eng.remove_containers(run_id)
            snapshots = apply_snapshot_plan(
                eng, snapshot_plan(eng, "left", run_id=run_id, spare_live_runs=False)
            )
        _say_done(len(removed), snapshots)
        return
    with engine() as eng:
        runs = clean_runs(eng, results_dir, grace_s=grace, force=force)
        items = snapshot_plan(eng, "left", spare_live_runs=False)
        spared = (
            set()
            if force
            else live_run_ids(runs, results_dir, {item.snapshot.run_id for item in items})
        )
        for item in items:
            if item.snapshot.run_id in spared:
                item.blocked = f"its run {item.snapshot.run_id} may still be going"
        snapshots = apply_snapshot_plan(eng, items)
    _say_done(sum(len(run.removed) for run in runs), snapshots)
    for run in runs:
        if run.skipped:
            say(
                f"skipped {len(run.containers)} container(s) of run {run.run_id or '(none)'}: "
                f"{run.skipped}. `swelancer cleanup --force` removes them (stopping the run if "
                "it is going)."
            )


def _say_done(removed: int, snapshots: list[SnapshotItem]) -> None:
    gone = [item for item in snapshots if item.removed]
    say(f"removed {removed} container(s) and {len(gone)} snapshot(s) that were not kept")
    for item in snapshots:
        if not item.removed:  # another run's container started from it: not ours to stop
            say(
                f"kept snapshot {item.snapshot.name}: {item.blocked or item.error}; run "
                "`swelancer cleanup` again once that is over"
            )


def register(app: typer.Typer) -> None:
    app.command("cleanup")(cleanup)
