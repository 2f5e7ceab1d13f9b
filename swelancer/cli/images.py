"""`swelancer images …` and `swelancer doctor`: the engine, its images, and the checks.

`list`, `build` and `doctor` are here; `pull` is in `pull_view`, `prune` in `prune`, and
`snapshot` (with the snapshots part of `list`) in `snapshots`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from swelancer.cli import prune, pull_view, snapshots
from swelancer.cli.common import engine, say
from swelancer.cli.executor_options import ExecutorOpt, RayAddressOpt, on_cluster
from swelancer.cli.image_options import (
    JsonOpt,
    ManifestOpt,
    PerTaskOpt,
    SplitOpt,
    console,
    short_id,
)
from swelancer.format import size

if TYPE_CHECKING:
    from swelancer.ops.images import ImageSelection


images_app = typer.Typer(
    help=(
        "Docker images of the benchmark, and post-setup snapshots of its tasks.\n\n"
        "  swelancer images list --split demo\n\n"
        "  swelancer images build demo\n\n"
        "  swelancer images pull diamond\n\n"
        "  swelancer images snapshot --split diamond --budget 200g\n\n"
        "  swelancer images prune --split all --dry-run"
    ),
    no_args_is_help=True,
)

# ---------------------------------------------------------------------------------------------
# list


@images_app.command("list")
def images_list(
    split: SplitOpt = None,
    manifest: ManifestOpt = None,
    per_task_images: PerTaskOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """The images a selection needs (present or missing), other swelancer images here, and the
    snapshots: which tasks have one (name, size, kept, last used)."""
    from swelancer.ops.images import image_state, selection_images, swelancer_images
    from swelancer.sandbox.snapshot_model import REPOSITORY

    selection = selection_images(split, manifest, per_task=per_task_images, download=True)
    with engine() as eng:
        needed = [image_state(eng, image) for image in selection.images]
        names = set(selection.images)
        others = [
            s
            for s in swelancer_images(eng)
            if s.name not in names and not s.name.startswith(f"{REPOSITORY}/")
        ]
        listing = snapshots.snapshot_listing(eng, selection, per_task_images)
    if as_json:
        out = {
            "split": selection.split,
            "needed": [_state_json(s) for s in needed],
            "other": [_state_json(s) for s in others],
            **listing,
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
        table.add_row(Text(state.name), need, status, size(state.size), short_id(state.id), created)
    out = console()
    out.print(table)
    missing = [s.name for s in needed if not s.present]
    if missing:
        out.print(f"{len(missing)} missing; get them with: {_how_to_get(selection)}")
    snapshots.show_snapshots(listing, selection.split)


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


images_app.command("pull")(pull_view.images_pull)


# ---------------------------------------------------------------------------------------------
# build


@images_app.command("build")
def images_build(
    name: Annotated[str, typer.Argument(help="Which image: demo.")] = "demo",
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = "auto",
) -> None:
    """Build the demo image (upstream images are pulled, not built here), showing one progress
    line and keeping the whole build log in the cache folder (`image-build.log`); with
    --executor ray, on every node of the cluster."""
    from swelancer.errors import ConfigError
    from swelancer.ops.images import DEMO_IMAGE

    if name != "demo":
        raise ConfigError(f"only the demo image is built here, not {name!r}.")
    if on_cluster(executor):
        from swelancer.ops.cluster import build_on_cluster

        return build_on_cluster(ray_address, say)
    from swelancer.ops.build_log import BUILD_LOG, build_progress
    from swelancer.tasks.sources import cache_dir

    with engine() as eng, build_progress(cache_dir() / BUILD_LOG, say) as build:
        build.line(f"building {DEMO_IMAGE}")
        image_id = eng.build_demo(on_line=build.line)
    say(f"built {DEMO_IMAGE} ({image_id[:19]})")


images_app.command("prune")(prune.images_prune)
images_app.command("snapshot")(snapshots.images_snapshot)


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
        render_table(checks, console())
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.add_typer(images_app, name="images")
    app.command("doctor")(doctor)
