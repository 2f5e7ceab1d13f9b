"""`swelancer images snapshot`: per-task snapshots built ahead of a run; and the snapshot part of
`images list`."""

from __future__ import annotations

import secrets
import signal
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from swelancer.cli.common import say
from swelancer.cli.image_options import ManifestOpt, console, short_id
from swelancer.cli.tasks import LimitOpt, TaskOpt
from swelancer.format import size

if TYPE_CHECKING:
    from swelancer.ops.images import ImageSelection
    from swelancer.sandbox.engine import ImageEngine
    from swelancer.sandbox.snapshot_model import Snapshot

Opt = typer.Option


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt()


def images_snapshot(
    split: Annotated[
        str | None,
        Opt(
            "--split",
            "-s",
            help="Whose IC tasks: diamond (default), nondiamond, all, lite or demo.",
        ),
    ] = None,
    manifest: ManifestOpt = None,
    variant: Annotated[
        str, Opt("--variant", help="ic_swe: only IC tasks have a setup to snapshot.")
    ] = "ic_swe",
    task: TaskOpt = None,
    limit: LimitOpt = None,
    budget: Annotated[
        str | None,
        Opt("--budget", help="Disk all snapshots may take, e.g. 50g (a quarter of free disk)."),
    ] = None,
    image: Annotated[str | None, Opt("--image", help="Set every task up in this image.")] = None,
    image_prefix: Annotated[
        str | None, Opt("--image-prefix", help="Upstream images are PREFIX_monolith:TAG.")
    ] = None,
    image_tag: Annotated[str | None, Opt("--image-tag", help="Their tag (releasev1).")] = None,
    setup_timeout: Annotated[
        float, Opt("--setup-timeout", help="Seconds allowed for one task's setup.")
    ] = 2400.0,
    concurrency: Annotated[int, Opt("--concurrency", "-j", help="Setups at once.")] = 1,
) -> None:
    """Set each IC task up once in the unified image and keep it as a snapshot, so that later
    runs of any model start the task in seconds. Resumable: tasks that have a snapshot are
    skipped. Stops, removing nothing, when the next snapshot would not fit in the budget.

      swelancer images snapshot --split diamond --budget 200g

      swelancer images snapshot --split demo --task 101 --task 103
    """
    from swelancer.benchmark.variants import rules_for
    from swelancer.cli.tasks import query_from
    from swelancer.config import SandboxSection
    from swelancer.errors import ConfigError, SwelancerError
    from swelancer.ops.build_log import BUILD_LOG, build_progress
    from swelancer.ops.images import image_for
    from swelancer.ops.snapshots import build_snapshots
    from swelancer.run.spec import AttemptSettings, sandbox_spec
    from swelancer.sandbox.factory import docker_engine
    from swelancer.sandbox.snapshot_model import parse_size
    from swelancer.tasks.catalog import load_tasks
    from swelancer.tasks.models import Task
    from swelancer.tasks.sources import cache_dir

    if variant != "ic_swe":
        raise ConfigError(
            f"only IC tasks have a setup to snapshot (not --variant {variant}); manager tasks "
            "start in seconds without one. Use --variant ic_swe."
        )
    if concurrency < 1:
        raise ConfigError("--concurrency must be at least 1.")
    try:
        budget_bytes = parse_size(budget)
    except ValueError as exc:
        raise ConfigError(f"--budget: {exc}.") from None
    tasks = [
        t
        for t in load_tasks(query_from(split, manifest, variant, task, limit, False)).tasks
        if rules_for(t).snapshots
    ]
    if not tasks:
        raise ConfigError("no IC task matches the selection; see `swelancer tasks list`.")
    given = {"image": image, "image_prefix": image_prefix, "image_tag": image_tag,
             "setup_timeout_s": setup_timeout}  # fmt: skip
    section = SandboxSection(**{k: v for k, v in given.items() if v is not None})
    images = {
        t.task_id: image_for(t, override=image, prefix=section.image_prefix, tag=section.image_tag)
        for t in tasks
    }
    eng = docker_engine()  # for the whole command: its connection ends with the process
    provider = eng.provider()
    with build_progress(cache_dir() / BUILD_LOG, say) as build:
        provider.prepare_images(
            list(dict.fromkeys(images.values())), build_demo=True, on_line=build.line
        )
    run_id = f"snapshot-{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    store = eng.snapshot_store(run_id, budget_bytes=budget_bytes, keep=True)
    say(
        f"snapshots of {len(tasks)} IC task(s) of {', '.join(dict.fromkeys(images.values()))}; "
        f"budget {size(store.budget_bytes)}, {size(store.used_bytes())} taken"
    )

    def spec_for(task: Task, image: str):
        settings = AttemptSettings(run_id=run_id, model="snapshot", image=image, sandbox=section)
        return sandbox_spec(task, 1, settings, role="snapshot")

    previous = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        report = build_snapshots(
            tasks, images, store=store, provider=provider, spec_for=spec_for,
            setup_timeout_s=section.setup_timeout_s, say=say, concurrency=concurrency,
        )  # fmt: skip
    except KeyboardInterrupt:
        provider.remove_run(run_id)
        say("interrupted: the snapshots made so far are kept; run the same command to go on.")
        raise typer.Exit(130) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    used = store.used_bytes()
    say(
        f"{len(report.made)} made, {len(report.present)} present, {len(report.failed)} failed; "
        f"snapshots take {size(used)} of the budget {size(store.budget_bytes)}"
    )
    if report.stopped:
        raise SwelancerError(
            f"stopped at the snapshot budget ({size(store.budget_bytes)}) after making "
            f"{len(report.made)} snapshot(s) ({len(report.present)} were there already): "
            f"{report.stopped}. Nothing was evicted. Raise --budget or free room with "
            "`swelancer images prune`, then run the same command again to go on."
        )
    if report.failed:
        raise SwelancerError(
            f"{len(report.failed)} task(s) could not be set up and have no snapshot "
            f"({', '.join(report.failed)}); the lines above say why. Run the same command again "
            "to retry them."
        )


# ---------------------------------------------------------------------------------------------
# The snapshot part of `images list`


def _selection_tasks(selection: ImageSelection, per_task: bool) -> list | None:
    """The IC tasks of the selection, when they can be known without a download."""
    from swelancer.benchmark.variants import rules_for
    from swelancer.ops.images import cached_manifest
    from swelancer.tasks.catalog import TaskQuery, load_tasks

    if per_task:  # per-task images were set up when they were built
        return None
    tasks = selection.tasks
    if tasks is None and (selection.split == "demo" or cached_manifest(selection.split)):
        tasks = load_tasks(TaskQuery(split=selection.split), show_progress=False).tasks
    return None if tasks is None else [t for t in tasks if rules_for(t).snapshots]


def snapshot_listing(eng: ImageEngine, selection: ImageSelection, per_task: bool) -> dict:
    """Every snapshot here and, when the selection's tasks are known, which have one."""
    from swelancer.ops.images import image_for

    snapshots = eng.snapshots()
    out: dict[str, Any] = {"snapshots": [_snapshot_json(s) for s in snapshots]}
    tasks = _selection_tasks(selection, per_task)
    if tasks is None:
        return out
    ids: dict[str, str | None] = {}
    with_one: list[str] = []
    without: list[str] = []
    for task in tasks:
        image = image_for(task)
        if image not in ids:
            found = eng.image(image)
            ids[image] = found.id if found else None
        has = any(s.tagged and s.valid_for(ids[image] or "", task.task_id) for s in snapshots)
        (with_one if has else without).append(task.task_id)
    out.update(ic_tasks_with_snapshot=with_one, ic_tasks_without_snapshot=without)
    return out


def _snapshot_json(snapshot: Snapshot) -> dict:
    from swelancer.cli.prune import when

    return {**snapshot.model_dump(), "last_used_at": when(snapshot.last_used)}


def show_snapshots(listing: dict, split: str) -> None:
    """The snapshots table of `images list`."""
    from rich.table import Table
    from rich.text import Text

    out = console()
    rows = listing["snapshots"]
    if rows:
        table = Table(title="snapshots (post-setup images)")
        for column in ("task", "snapshot", "size", "kept", "last used", "base image"):
            table.add_column(column, no_wrap=column != "snapshot", overflow="fold")
        for row in rows:
            name = row["name"] if row["tagged"] else f"untagged {short_id(row['image_id'])}"
            table.add_row(Text(row["task_id"]), Text(name), size(row["bytes"]),
                          "yes" if row["kept"] else "no", row["last_used_at"],
                          Text(row["base_name"]))  # fmt: skip
        out.print(table)
        out.print(f"snapshots take {size(sum(r['bytes'] for r in rows))}")
    else:
        out.print("no snapshots here")
    if "ic_tasks_with_snapshot" in listing:
        have, lack = listing["ic_tasks_with_snapshot"], listing["ic_tasks_without_snapshot"]
        out.print(f"{len(have)} of {len(have) + len(lack)} IC tasks of {split} have a snapshot")
        if lack:
            out.print(f"make the others with: swelancer images snapshot --split {split}")
