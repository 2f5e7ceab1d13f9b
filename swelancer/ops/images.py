"""Which images a selection of tasks runs in, what the engine holds of them, and pulling and
pruning them, on any `ImageEngine` (the demo image is built by the engine)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.engine import DEMO_IMAGE, ImageEngine, ImageInfo, PullFailed
from swelancer.tasks.models import IcTask, ManagerTask

UPSTREAM_PREFIX = "swelancer/swelancer_x86"
UPSTREAM_TAG = "releasev1"
MONOLITH_IMAGE = f"{UPSTREAM_PREFIX}_monolith:{UPSTREAM_TAG}"


def per_task_image(task_id: str, prefix: str = UPSTREAM_PREFIX, tag: str = UPSTREAM_TAG) -> str:
    return f"{prefix}_{task_id}:{tag}"


def image_for(
    task: IcTask | ManagerTask,
    *,
    override: str | None = None,
    per_task: bool = False,
    prefix: str = UPSTREAM_PREFIX,
    tag: str = UPSTREAM_TAG,
) -> str:
    """Demo tasks run in the demo image; upstream tasks in the unified image
    `<prefix>_monolith:<tag>`, or (IC only, with `per_task`) in their own image
    `<prefix>_<task id>:<tag>`, named as upstream names them. Manager tasks always use the
    unified image. Whether setup runs at start is the image's own choice (its RUNTIME_SETUP)."""
    if override:
        return override
    if task.split == "demo":
        return DEMO_IMAGE
    if per_task and task.variant == "ic_swe":
        return per_task_image(task.task_id, prefix, tag)
    return f"{prefix}_monolith:{tag}"


# ---------------------------------------------------------------------------------------------
# What a selection of tasks needs, and what the engine holds

GB = 1_000_000_000
DEMO_IMAGE_BYTES = 1 * GB
UPSTREAM_IMAGE_BYTES = 14 * GB
UPSTREAM_SPLITS = ("diamond", "nondiamond", "all", "lite")
_PER_TASK_TAG = re.compile(r"^swelancer/swelancer_x86_(?P<task_id>[^:/]+):releasev1$")


def estimated_bytes(image: str) -> int:
    """Disk an image takes once pulled or built: about 1 GB for the demo, 14 GB for upstream."""
    return DEMO_IMAGE_BYTES if image == DEMO_IMAGE else UPSTREAM_IMAGE_BYTES


def per_task_image_id(tag: str) -> str | None:
    """The task id of a per-task upstream image tag (`swelancer/swelancer_x86_<id>:releasev1`)."""
    match = _PER_TASK_TAG.match(tag)
    if not match or match["task_id"] == "monolith":
        return None
    return match["task_id"]


def required_images(
    tasks: Iterable[IcTask | ManagerTask], *, per_task: bool = False, override: str | None = None
) -> list[str]:
    """The images the tasks run in, each once, in task order."""
    return list(dict.fromkeys(image_for(t, override=override, per_task=per_task) for t in tasks))


@dataclass
class ImageSelection:
    """The images a `--split`/`--manifest` selection needs."""

    split: str
    images: list[str]
    tasks: list[IcTask | ManagerTask] | None = None
    """The selected tasks, when the manifest was read (None when it was not needed or cached)."""
    note: str | None = None
    """What could not be known (e.g. per-task images before the manifest is downloaded)."""

    @property
    def upstream(self) -> bool:
        return any(image != DEMO_IMAGE for image in self.images)


def cached_manifest(split: str) -> Path | None:
    """The cached copy of an upstream split's manifest, if there is one (never downloads)."""
    from swelancer.tasks.sources import _cached_path, upstream_url

    which = "lite" if split == "lite" else "current"
    path = _cached_path(which, upstream_url(which))
    return path if path.exists() else None


def selection_images(
    split: str | None,
    manifest: Path | None,
    *,
    per_task: bool = False,
    download: bool = True,
) -> ImageSelection:
    """The images a selection needs. The manifest is read only when the answer depends on it
    (a `--manifest` file, or per-task images of an upstream split); without `download`, an
    upstream manifest that is not cached is not fetched and `note` says what is unknown."""
    from swelancer.errors import ManifestError
    from swelancer.tasks.catalog import TaskQuery, load_tasks
    from swelancer.tasks.sources import SPLITS

    if manifest is not None:
        tasks = load_tasks(TaskQuery(split=split, manifest=manifest), show_progress=False).tasks
        name = split or str(manifest)
        return ImageSelection(name, required_images(tasks, per_task=per_task), tasks)
    split = split or "demo"
    if split not in SPLITS:
        raise ManifestError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}.")
    if split == "demo":
        return ImageSelection(split, [DEMO_IMAGE])
    if not per_task:
        return ImageSelection(split, [MONOLITH_IMAGE])
    if not download and cached_manifest(split) is None:
        return ImageSelection(
            split,
            [MONOLITH_IMAGE],
            note=f"the per-task images of split {split} are known once its manifest is "
            f"downloaded (`swelancer tasks stats --split {split}`)",
        )
    tasks = load_tasks(TaskQuery(split=split), show_progress=download).tasks
    return ImageSelection(split, required_images(tasks, per_task=True), tasks)


@dataclass
class ImageState:
    """One image as the engine holds it (or not)."""

    name: str
    present: bool
    id: str | None = None
    size: int | None = None
    """Bytes, as `docker images` reports them (layers shared with other images included)."""
    created: str | None = None
    tags: list[str] = field(default_factory=list)


def image_state(engine: ImageEngine, name: str) -> ImageState:
    image = engine.image(name)
    return ImageState(name, present=False) if image is None else _state_of(name, image)


def _state_of(name: str, image: ImageInfo) -> ImageState:
    return ImageState(
        name, present=True, id=image.id, size=image.size, created=image.created, tags=image.tags
    )


def swelancer_images(engine: ImageEngine) -> list[ImageState]:
    """Every image on the engine with a tag starting `swelancer` (one entry per tag)."""
    found: list[ImageState] = []
    for image in engine.images():
        for tag in image.tags:
            if tag.startswith("swelancer"):
                found.append(_state_of(tag, image))
    return sorted(found, key=lambda state: state.name)


# ---------------------------------------------------------------------------------------------
# Pull


def pull_error(image: str, detail: str) -> InfraError:
    """An InfraError that says why a pull failed, in words a user can act on."""
    text = " ".join(str(detail).split())
    low = text.lower()
    if "no space left on device" in low:
        return InfraError(
            f"the engine ran out of disk space while pulling {image} (upstream images are about "
            "14 GB each). Free space with `swelancer images prune`, `docker system prune`, or by "
            f"removing images you do not need, then pull again. (Docker said: {text})",
            kind=FaultKind.DISK_FULL,
        )
    unreachable = (
        "dial tcp", "no such host", "i/o timeout", "connection refused", "tls handshake",
        "client.timeout", "network is unreachable", "proxyconnect", "connection reset",
        "temporary failure in name resolution", "timeout exceeded",
    )  # fmt: skip
    if any(marker in low for marker in unreachable):
        return InfraError(
            f"could not reach the registry to pull {image}: the Docker engine has no route to "
            "it. Check the engine's network, DNS and proxy settings (or pull on a machine that "
            "can, then `docker save` / `docker load`). "
            f"(Docker said: {text})",
            kind=FaultKind.REGISTRY_UNREACHABLE,
        )
    not_found = (
        "not found", "manifest unknown", "pull access denied", "repository does not exist",
        "no such image", "invalid reference format",
    )  # fmt: skip
    if any(marker in low for marker in not_found):
        hint = ""
        if image.startswith("swelancer/"):
            hint = f" Upstream images are named {per_task_image('<task_id>')} and {MONOLITH_IMAGE}."
        return InfraError(
            f"the image {image} was not found in its registry (or needs a login); check the "
            f"name.{hint} (Docker said: {text})",
            kind=FaultKind.IMAGE_MISSING,
        )
    return InfraError(f"pulling {image} failed. (Docker said: {text})", kind=FaultKind.PULL_FAILED)


def pull_image(
    engine: ImageEngine, image: str, *, on_event: Callable[[dict], None] | None = None
) -> str:
    """Pull `image`, passing each decoded progress event (`status`, `id`, `progressDetail`) to
    `on_event`. Returns the image id; raises `InfraError` saying why a pull failed."""
    try:
        return engine.pull(image, on_event=on_event)
    except PullFailed as exc:
        if not exc.engine_gone:
            raise pull_error(image, exc.detail) from None
        raise InfraError(
            f"the Docker engine stopped answering while pulling {image} ({exc.detail}); check "
            "that it is running (`docker info`) and pull again.",
            kind=FaultKind.DOCKER_UNAVAILABLE,
        ) from None


# ---------------------------------------------------------------------------------------------
# Prune


@dataclass
class PruneItem:
    """A tag `prune` would remove, and what removing it frees."""

    tag: str
    task_id: str
    image_id: str
    size: int
    frees: bool
    """False when the image keeps other tags: removing this tag frees nothing."""
    other_tags: list[str] = field(default_factory=list)
    blocked: str | None = None
    """Why the tag is kept after all (a container uses the image)."""
    removed: bool = False
    error: str | None = None


def containers_by_image(engine: ImageEngine) -> dict[str, list[tuple[str, str]]]:
    """Image id → (container name, status) of every container on the engine."""
    users: dict[str, list[tuple[str, str]]] = {}
    for container in engine.containers():
        users.setdefault(container.image_id, []).append((container.name, container.status))
    return users


def blocked_by(users: list[tuple[str, str]]) -> str | None:
    if not users:
        return None
    running = [name for name, status in users if status in ("running", "restarting", "paused")]
    if running:
        return f"in use by running container {', '.join(running)}"
    names = ", ".join(name for name, _ in users)
    return f"used by stopped container {names} (remove it first: `docker rm {names}`)"


def prune_plan(engine: ImageEngine, keep_task_ids: set[str]) -> list[PruneItem]:
    """Per-task upstream images whose task is not in `keep_task_ids`; tags an existing container
    uses are marked `blocked` and never removed."""
    users = containers_by_image(engine)
    items: list[PruneItem] = []
    for image in engine.images():
        for tag in image.tags:
            task_id = per_task_image_id(tag)
            if task_id is None or task_id in keep_task_ids:
                continue
            others = [t for t in image.tags if t != tag]
            items.append(
                PruneItem(
                    tag=tag,
                    task_id=task_id,
                    image_id=image.id,
                    size=image.size or 0,
                    frees=not any(per_task_image_id(t) in (None, *keep_task_ids) for t in others),
                    other_tags=others,
                    blocked=blocked_by(users.get(image.id, [])),
                )
            )
    return sorted(items, key=lambda item: item.tag)


def apply_prune(engine: ImageEngine, items: list[PruneItem]) -> list[PruneItem]:
    """Remove the tags of a plan that are not blocked; containers are checked again just before
    each removal. Never forced: the engine refuses to remove what a container uses."""
    for item in items:
        if item.blocked:
            continue
        item.blocked = blocked_by(containers_by_image(engine).get(item.image_id, []))
        if item.blocked:
            continue
        item.error = engine.remove_image(item.tag)
        item.removed = item.error is None
    return items
