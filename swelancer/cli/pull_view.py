"""`swelancer images pull`: pull an image or a split's images, showing layers and bytes."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from swelancer.cli.common import engine, say
from swelancer.cli.executor_options import ExecutorOpt, RayAddressOpt, on_cluster
from swelancer.cli.image_options import PerTaskOpt, console, short_id
from swelancer.format import size


class PullView:
    """Shows a pull's layers and bytes: a live bar on a terminal, a line per layer otherwise."""

    def __init__(self, image: str) -> None:
        self.image = image
        self.layers: dict[str, dict[str, Any]] = {}
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
                console=console(stderr=True),
                transient=False,
            )
            self.bar = self.progress.add_task(image, total=None)
            self.progress.start()
        else:
            say(f"pulling {image}")

    def event(self, event: dict[str, Any]) -> None:
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
        if self.progress is not None and self.bar is not None:
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
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = "auto",
) -> None:
    """Pull an image, or the images a split needs, showing layers and bytes (with --executor
    ray: on every node of the cluster, a line per node and image)."""
    from swelancer.errors import ConfigError
    from swelancer.ops.images import UPSTREAM_SPLITS, estimated_bytes, pull_image, selection_images

    if target == "demo":
        raise ConfigError(
            "the demo image is built here, not pulled: run `swelancer images build demo`."
        )
    if target in UPSTREAM_SPLITS:
        images = selection_images(target, None, per_task=per_task_images, download=True).images
    else:
        images = [target]
    if on_cluster(executor):
        from swelancer.ops.cluster import pull_on_cluster

        return pull_on_cluster(ray_address, images, say)
    with engine() as eng:
        missing = [image for image in images if eng.image(image) is None]
        for image in images:
            if image not in missing:
                say(f"{image}: already present")
        if len(missing) > 1:
            need = sum(estimated_bytes(image) for image in missing)
            say(f"{len(missing)} images to pull (about {size(need)})")
        for image in missing:
            view = PullView(image)
            try:
                image_id = pull_image(eng, image, on_event=view.event)
            finally:
                view.close()
            say(f"pulled {image} ({short_id(image_id)})")
