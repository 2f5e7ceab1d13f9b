"""`swelancer images prune`: per-task images of tasks a split no longer has, and snapshots."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from swelancer.cli.common import engine, say
from swelancer.cli.image_options import JsonOpt, ManifestOpt, console
from swelancer.format import size

if TYPE_CHECKING:
    from swelancer.ops.images import PruneItem
    from swelancer.ops.snapshots import SnapshotItem


def images_prune(
    split: Annotated[
        str,
        typer.Option(
            "--split",
            "-s",
            help="Keep the per-task images of this upstream split's tasks (diamond, nondiamond, "
            "all, lite); remove those of tasks it no longer has. Default: all.",
        ),
    ] = "all",
    manifest: ManifestOpt = None,
    snapshots: Annotated[
        str,
        typer.Option(
            "--snapshots",
            help="all (default): snapshots left behind by killed runs and kept ones; left: "
            "only those left behind; none: no snapshot.",
        ),
    ] = "all",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Remove without asking.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be removed; remove nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove per-task upstream images (swelancer/swelancer_x86_<id>:releasev1) whose task is no
    longer in the split's current manifest, and post-setup snapshots (swelancer-snapshot/…):
    those killed runs left behind and those kept for later runs. Images a container uses, and
    snapshots of a run that still has containers, are never removed."""
    from swelancer.errors import ConfigError, FaultKind, InfraError
    from swelancer.ops.images import UPSTREAM_SPLITS, apply_prune, prune_plan
    from swelancer.ops.snapshots import apply_snapshot_plan, snapshot_plan
    from swelancer.tasks.catalog import TaskQuery, load_tasks

    if manifest is None and split not in UPSTREAM_SPLITS:
        raise ConfigError(
            f"prune keeps the images of an upstream split; choose one of "
            f"{', '.join(UPSTREAM_SPLITS)} (not {split!r}), or give the tasks with --manifest."
        )
    if snapshots not in ("all", "left", "none"):
        raise ConfigError(f"--snapshots is all, left or none (not {snapshots!r}).")
    task_set = load_tasks(TaskQuery(split=split, manifest=manifest), show_progress=not as_json)
    keep = {task.task_id for task in task_set.tasks}
    source = str(manifest) if manifest else f"the current {split} manifest"
    with engine() as eng:
        items = prune_plan(eng, keep)
        snaps = snapshot_plan(eng, snapshots)  # type: ignore[arg-type]
        removable = [item for item in items if not item.blocked]
        snaps_removable = [item for item in snaps if not item.blocked]
        act = bool(removable or snaps_removable) and not dry_run
        if act and not yes:
            _show_plan(items, source, dry_run=True)
            _show_snapshots(snaps, dry_run=True)
            if not sys.stdin.isatty():
                raise ConfigError("not removing anything without --yes (or --dry-run to look).")
            asked = f"{len(removable)} image tag(s) and {len(snaps_removable)} snapshot(s)"
            if not typer.confirm(f"remove {asked}?", default=False):
                say("nothing removed.")
                return
        if act:
            apply_prune(eng, removable)
            apply_snapshot_plan(eng, snaps_removable)
    if as_json:
        out = _plan_json(items, source, dry_run=not act)
        out.update(_snapshots_json(snaps, dry_run=not act))
        print(json.dumps(out, indent=2))
    else:
        _show_plan(items, source, dry_run=not act)
        _show_snapshots(snaps, dry_run=not act)
    failed = [f"{i.tag}: {i.error}" for i in items if i.error]
    failed += [f"{i.snapshot.name}: {i.error}" for i in snaps if i.error]
    if failed:
        raise InfraError(
            f"{len(failed)} image(s) could not be removed: {'; '.join(failed)}. Remove the "
            "containers that use them, then prune again.",
            kind=FaultKind.DOCKER,
        )


def _frees(items: list[PruneItem], *, removed_only: bool) -> int:
    sizes: dict[str, int] = {}
    for item in items:
        if item.blocked or not item.frees or (removed_only and not item.removed):
            continue
        sizes[item.image_id] = item.size
    return sum(sizes.values())


def _plan_json(items: list[PruneItem], source: str, *, dry_run: bool) -> dict:
    return {
        "source": source,
        "dry_run": dry_run,
        "frees_bytes": _frees(items, removed_only=not dry_run),
        "items": [
            {
                "tag": i.tag,
                "task_id": i.task_id,
                "image_id": i.image_id,
                "size": i.size,
                "frees": i.frees,
                "other_tags": i.other_tags,
                "blocked": i.blocked,
                "removed": i.removed,
                "error": i.error,
            }
            for i in items
        ],
    }


def _show_plan(items: list[PruneItem], source: str, *, dry_run: bool) -> None:
    if not items:
        say(f"nothing to prune: every per-task image here belongs to a task of {source}.")
        return
    from rich.table import Table
    from rich.text import Text

    frees = _frees(items, removed_only=not dry_run)
    table = Table(title=f"per-task images of tasks not in {source}")
    for column in ("image", "size", "action"):
        table.add_column(column, overflow="fold")
    for item in items:
        if item.blocked:
            action = Text(f"keep: {item.blocked}", "yellow")
        elif item.error:
            action = Text(f"failed: {item.error}", "red")
        else:
            verb = "would remove" if dry_run else "removed"
            if not item.frees:
                verb = "would untag" if dry_run else "untagged"
                verb += f" (also tagged {', '.join(item.other_tags)}; frees nothing)"
            action = Text(verb, "green" if item.removed else "")
        table.add_row(Text(item.tag), size(item.size), action)
    out = console(stderr=True)
    out.print(table)
    if dry_run:
        out.print(f"would free up to {size(frees)}; dry run, nothing removed.")
    else:
        out.print(f"freed up to {size(frees)} (layers shared with kept images stay).")


def _snapshot_frees(items: list[SnapshotItem], *, removed_only: bool) -> int:
    return sum(i.snapshot.bytes for i in items if not i.blocked and (i.removed or not removed_only))


def _snapshots_json(items: list[SnapshotItem], *, dry_run: bool) -> dict:
    return {
        "snapshot_frees_bytes": _snapshot_frees(items, removed_only=not dry_run),
        "snapshots": [
            {**i.snapshot.model_dump(), **i.model_dump(exclude={"snapshot"})} for i in items
        ],
    }


def _show_snapshots(items: list[SnapshotItem], *, dry_run: bool) -> None:
    if not items:
        say("no snapshot to prune.")
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title="snapshots (post-setup images)")
    for column in ("snapshot", "task", "size", "kept", "last used", "action"):
        table.add_column(column, overflow="fold")
    for item in items:
        if item.blocked:
            action = Text(f"keep: {item.blocked}", "yellow")
        elif item.error:
            action = Text(f"failed: {item.error}", "red")
        else:
            action = Text("would remove" if dry_run else "removed", "green" if item.removed else "")
        snap = item.snapshot
        table.add_row(Text(snap.name), Text(snap.task_id), size(snap.bytes),
                      "yes" if snap.kept else "no", when(snap.last_used), action)  # fmt: skip
    out = console(stderr=True)
    out.print(table)
    frees = _snapshot_frees(items, removed_only=not dry_run)
    if dry_run:
        out.print(f"snapshots: would free {size(frees)}; dry run, nothing removed.")
    else:
        out.print(f"snapshots: freed {size(frees)}.")


def when(epoch: float) -> str:
    """A time of the engine's, as `2026-12-01 12:30Z`."""
    if not epoch:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%MZ")
