"""`swelancer images …` and `swelancer doctor`: the engine, its images, and the checks."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from swelancer.cli.common import say
from swelancer.format import size

if TYPE_CHECKING:
    from swelancer.ops.images import ImageSelection, PruneItem


images_app = typer.Typer(
    help=(
        "Docker images of the benchmark.\n\n"
        "  swelancer images list --split demo\n\n"
        "  swelancer images build demo\n\n"
        "  swelancer images pull diamond\n\n"
        "  swelancer images prune --split all --dry-run"
    ),
    no_args_is_help=True,
)

SplitOpt = Annotated[
    str | None,
    typer.Option(
        "--split",
        "-s",
        help="demo (default), diamond, nondiamond, all or lite: the tasks whose images count.",
    ),
]
ManifestOpt = Annotated[
    Path | None,
    typer.Option("--manifest", "-m", help="Take the tasks from this CSV instead of a split."),
]
PerTaskOpt = Annotated[
    bool,
    typer.Option(
        "--per-task-images",
        help="Upstream IC tasks in their own images (14 GB each) instead of the unified one.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _short(image_id: str | None) -> str:
    return (image_id or "").removeprefix("sha256:")[:12] or "—"


def _client():
    from swelancer.sandbox.docker import docker_client

    return docker_client()


def _console(stderr: bool = False):
    """A console on stdout (or stderr); 120 columns wide when it is not a terminal (logs, pipes)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 120)


# ---------------------------------------------------------------------------------------------
# list


@images_app.command("list")
def images_list(
    split: SplitOpt = None,
    manifest: ManifestOpt = None,
    per_task_images: PerTaskOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """The images a selection needs (present or missing), and other swelancer images here."""
    from swelancer.ops.images import image_state, selection_images, swelancer_images

    selection = selection_images(split, manifest, per_task=per_task_images, download=True)
    client = _client()
    try:
        needed = [image_state(client, image) for image in selection.images]
        names = set(selection.images)
        others = [s for s in swelancer_images(client) if s.name not in names]
    finally:
        client.close()
    if as_json:
        out = {
            "split": selection.split,
            "needed": [_state_json(s) for s in needed],
            "other": [_state_json(s) for s in others],
        }
        print(json.dumps(out, indent=2))
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"images for {selection.split}")
    width = max([len(s.name) for s in needed + others] + [5])
    table.add_column("image", min_width=width, no_wrap=True)
    for column in ("needed", "status", "size", "id", "created"):
        table.add_column(column, no_wrap=True)
    for state, need in [(s, "yes") for s in needed] + [(s, "no") for s in others]:
        status = Text("present", "green") if state.present else Text("missing", "red")
        created = (state.created or "")[:10] or "—"
        table.add_row(Text(state.name), need, status, size(state.size), _short(state.id), created)
    console = _console()
    console.print(table)
    missing = [s.name for s in needed if not s.present]
    if missing:
        console.print(f"{len(missing)} missing; get them with: {_how_to_get(selection)}")


def _state_json(state) -> dict:
    return {
        "image": state.name,
        "present": state.present,
        "id": state.id,
        "size": state.size,
        "created": state.created,
    }


def _how_to_get(selection: ImageSelection) -> str:
    from swelancer.ops.images import DEMO_IMAGE

    if selection.images == [DEMO_IMAGE]:
        return "swelancer images build demo"
    flag = " --per-task-images" if len(selection.images) > 1 else ""
    return f"swelancer images pull {selection.split}{flag}"


# ---------------------------------------------------------------------------------------------
# pull


class _PullView:
    """Shows a pull's layers and bytes: a live bar on a terminal, a line per layer otherwise."""

    def __init__(self, image: str) -> None:
        self.image = image
        self.layers: dict[str, dict] = {}
        self.progress = None
        self.bar = None
        if sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=_console(stderr=True),
                transient=False,
            )
            self.bar = self.progress.add_task(image, total=None)
            self.progress.start()
        else:
            say(f"pulling {image}")

    def event(self, event: dict) -> None:
        layer = event.get("id")
        status = str(event.get("status") or "")
        if not layer or status.startswith("Pulling from"):
            if status and not status.startswith("Pulling from") and self.progress is None:
                say(f"  {status}")  # Digest: …, Status: Downloaded newer image for …
            return
        state = self.layers.setdefault(layer, {"total": 0, "current": 0, "done": False})
        detail = event.get("progressDetail") or {}
        if status == "Downloading" and detail.get("total"):
            state["total"] = detail["total"]
            state["current"] = detail.get("current", 0)
        elif status == "Download complete":
            state["current"] = state["total"]
        elif status in ("Pull complete", "Already exists"):
            state["current"] = state["total"]
            if not state["done"]:
                state["done"] = True
                if not self.progress:
                    say(f"  layer {layer}: {status.lower()} ({self._counts()})")
        if self.progress is not None:
            total = sum(s["total"] for s in self.layers.values())
            current = sum(s["current"] for s in self.layers.values())
            self.progress.update(
                self.bar,
                total=total or None,
                completed=current,
                description=f"{self.image}  layers {self._counts()}",
            )

    def _counts(self) -> str:
        done = sum(s["done"] for s in self.layers.values())
        return f"{done}/{len(self.layers)}"

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@images_app.command("pull")
def images_pull(
    target: Annotated[
        str,
        typer.Argument(
            metavar="IMAGE_OR_SPLIT",
            help="An image name, or a split (diamond, nondiamond, all, lite) to pull what it "
            "needs.",
        ),
    ],
    per_task_images: PerTaskOpt = False,
) -> None:
    """Pull an image, or the images a split needs, showing layers and bytes."""
    from swelancer.errors import ConfigError
    from swelancer.ops.images import (
        UPSTREAM_SPLITS,
        estimated_bytes,
        image_exists,
        pull_image,
        selection_images,
    )

    if target == "demo":
        raise ConfigError(
            "the demo image is built here, not pulled: run `swelancer images build demo`."
        )
    if target in UPSTREAM_SPLITS:
        images = selection_images(target, None, per_task=per_task_images, download=True).images
    else:
        images = [target]
    client = _client()
    try:
        missing = [image for image in images if not image_exists(client, image)]
        for image in images:
            if image not in missing:
                say(f"{image}: already present")
        if len(missing) > 1:
            need = sum(estimated_bytes(image) for image in missing)
            say(f"{len(missing)} images to pull (about {size(need)})")
        for image in missing:
            view = _PullView(image)
            try:
                image_id = pull_image(client, image, on_event=view.event)
            finally:
                view.close()
            say(f"pulled {image} ({_short(image_id)})")
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------
# build


@images_app.command("build")
def images_build(
    name: Annotated[str, typer.Argument(help="Which image: demo.")] = "demo",
) -> None:
    """Build the demo image (upstream images are pulled, not built here)."""
    from swelancer.errors import ConfigError
    from swelancer.ops.images import DEMO_IMAGE, build_demo_image

    if name != "demo":
        raise ConfigError(f"only the demo image is built here, not {name!r}.")
    image_id = build_demo_image(_client(), on_line=say)
    say(f"built {DEMO_IMAGE} ({image_id[:19]})")


# ---------------------------------------------------------------------------------------------
# prune


@images_app.command("prune")
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
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Remove without asking.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be removed; remove nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove per-task upstream images (swelancer/swelancer_x86_<id>:releasev1) whose task is no
    longer in the split's current manifest. Images a container uses are never removed."""
    from swelancer.errors import ConfigError, FaultKind, InfraError
    from swelancer.ops.images import UPSTREAM_SPLITS, apply_prune, prune_plan
    from swelancer.tasks.catalog import TaskQuery, load_tasks

    if manifest is None and split not in UPSTREAM_SPLITS:
        raise ConfigError(
            f"prune keeps the images of an upstream split; choose one of "
            f"{', '.join(UPSTREAM_SPLITS)} (not {split!r}), or give the tasks with --manifest."
        )
    task_set = load_tasks(TaskQuery(split=split, manifest=manifest), show_progress=not as_json)
    keep = {task.task_id for task in task_set.tasks}
    source = str(manifest) if manifest else f"the current {split} manifest"
    client = _client()
    try:
        items = prune_plan(client, keep)
        removable = [item for item in items if not item.blocked]
        act = bool(removable) and not dry_run
        if act and not yes:
            _show_plan(items, source, as_json=False, dry_run=True)
            if not sys.stdin.isatty():
                raise ConfigError("not removing anything without --yes (or --dry-run to look).")
            if not typer.confirm(f"remove {len(removable)} image tag(s)?", default=False):
                say("nothing removed.")
                return
        if act:
            apply_prune(client, removable)
    finally:
        client.close()
    _show_plan(items, source, as_json=as_json, dry_run=not act)
    failed = [item for item in items if item.error]
    if failed:
        raise InfraError(
            f"{len(failed)} image(s) could not be removed: "
            + "; ".join(f"{item.tag}: {item.error}" for item in failed),
            kind=FaultKind.DOCKER,
        )


def _frees(items: list[PruneItem], *, removed_only: bool) -> int:
    sizes: dict[str, int] = {}
    for item in items:
        if item.blocked or not item.frees or (removed_only and not item.removed):
            continue
        sizes[item.image_id] = item.size
    return sum(sizes.values())


def _show_plan(items: list[PruneItem], source: str, *, as_json: bool, dry_run: bool) -> None:
    frees = _frees(items, removed_only=not dry_run)
    if as_json:
        out = {
            "source": source,
            "dry_run": dry_run,
            "frees_bytes": frees,
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
        print(json.dumps(out, indent=2))
        return
    if not items:
        say(f"nothing to prune: every per-task image here belongs to a task of {source}.")
        return
    from rich.table import Table
    from rich.text import Text

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
    console = _console(stderr=True)
    console.print(table)
    if dry_run:
        console.print(f"would free up to {size(frees)}; dry run, nothing removed.")
    else:
        console.print(f"freed up to {size(frees)} (layers shared with kept images stay).")


# ---------------------------------------------------------------------------------------------
# doctor


def doctor(
    split: SplitOpt = None,
    manifest: ManifestOpt = None,
    per_task_images: PerTaskOpt = False,
    model: Annotated[
        str | None, typer.Option("--model", help="Check the API key this model needs.")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="OpenAI-compatible server the model is on.")
    ] = None,
    fetch: Annotated[
        bool, typer.Option("--fetch", help="Download the split's manifest if it is not cached.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check that this machine can run a selection: engine, architecture, disk, images, API key,
    manifest. Exit code 1 when a check fails (warnings do not fail).

      swelancer doctor

      swelancer doctor --split diamond --model gpt-4o
    """
    from swelancer.ops.doctor import DoctorOptions, exit_code, render_table, run_checks

    options = DoctorOptions(
        split=split,
        manifest=manifest,
        per_task_images=per_task_images,
        model=model,
        base_url=base_url,
        fetch=fetch,
    )
    checks = run_checks(options)
    code = exit_code(checks)
    if as_json:
        out = {"ok": code == 0, "checks": [check.to_json() for check in checks]}
        print(json.dumps(out, indent=2))
    else:
        render_table(checks, _console())
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.add_typer(images_app, name="images")
    app.command("doctor")(doctor)
