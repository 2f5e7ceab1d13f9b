"""The ImageEngine protocol: what the operational commands (`images`, `doctor`, `cleanup`, the
cluster's node tasks) need of an engine — its facts, its images, pulls and the demo build,
removals that are never forced, its containers, and the post-setup snapshots it holds.

The Docker implementation is `sandbox.docker.engine.DockerEngine`, made by
`sandbox.factory.docker_engine()`; tests use `tests/fakes/engine.py`. Attempts never see an
engine: they get a `SandboxProvider` (from `provider()` here, or made by the runner).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel, Field

from swelancer.sandbox.base import Sandbox, SandboxProvider
from swelancer.sandbox.snapshot_model import Commit, Snapshot

DEMO_IMAGE = "swelancer-demo:latest"
"""The image the demo tasks run in, built from the project's own `docker/demo/`."""
RUN_LABEL = "swelancer"
"""Every container the harness starts carries `swelancer=1` (and `swelancer.run_id`)."""


class EngineFacts(BaseModel):
    """What the engine says of itself."""

    version: str = "?"
    api_version: str = "?"
    os: str = "?"
    """The engine's operating system as it names it (`Debian GNU/Linux 12`, `linux`)."""
    architecture: str = "unknown"
    root_dir: str = ""
    """Where the engine keeps its data, as a path on the engine's machine."""
    no_disk_cap: str | None = None
    """Why the engine cannot cap a container's disk (its storage driver); None when it can."""


class ImageInfo(BaseModel):
    """One image on the engine (one entry per image, with all its tags)."""

    id: str
    tags: list[str] = Field(default_factory=list)
    size: int | None = None
    """Bytes, layers shared with other images included."""
    created: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class ContainerInfo(BaseModel):
    """One container on the engine, whoever started it."""

    name: str
    status: str
    """`running`, `restarting`, `paused`, `exited`, `created`, …"""
    image_id: str
    labels: dict[str, str] = Field(default_factory=dict)
    created: str | None = None
    """When the engine made it, ISO 8601 in UTC (`2026-01-02T03:04:05Z`)."""


class PullFailed(Exception):
    """A pull that did not end with the image: `detail` holds the engine's (or registry's) own
    words; `engine_gone` when the engine stopped answering. `ops.images.pull_image` turns it
    into an `InfraError` saying what to do."""

    def __init__(self, detail: str, *, engine_gone: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.engine_gone = engine_gone


class SnapshotBuilder(Protocol):
    """A store of post-setup snapshots as `images snapshot` uses it."""

    run_id: str
    budget_bytes: int

    def used_bytes(self) -> int:
        """Bytes every snapshot on the engine takes (their own layers)."""
        ...

    def find(self, base_image: str, task_id: str) -> str | None:
        """The name of the task's usable snapshot on that base image, if any."""
        ...

    def lookup(self, base_image: str, task_id: str) -> Snapshot | None:
        """The task's snapshot on that base image, without checking inside it."""
        ...

    def commit(self, sandbox: Sandbox, base_image: str, task_id: str, *, evict: bool) -> Commit:
        """Keep a just set-up sandbox as the task's snapshot, within the budget."""
        ...


class ImageEngine(Protocol):
    """An engine's images, containers and snapshots. Every call but `facts` may connect on
    first use; an engine that does not answer raises `InfraError` of kind
    `docker_unavailable`. Nothing here removes by force: a refusal is returned, not raised."""

    name: str

    def facts(self) -> EngineFacts:
        """Version, architecture and data root; `InfraError` when the engine does not answer
        (or answers and then fails)."""
        ...

    def image(self, name: str) -> ImageInfo | None:
        """The image of that name or id; None when the engine does not hold it."""
        ...

    def images(self) -> list[ImageInfo]:
        """Every image on the engine."""
        ...

    def pull(self, image: str, *, on_event: Callable[[dict[str, Any]], None] | None) -> str:
        """Pull `image`, passing each progress event (`status`, `id`, `progressDetail`, as
        Docker streams them) to `on_event`; its id. `PullFailed` when it does not come."""
        ...

    def build_demo(self, *, on_line: Callable[[str], None] | None) -> str:
        """Build `DEMO_IMAGE` from the project's build context, a line of output at a time;
        its id. `InfraError` of kind `image_build` when the build fails."""
        ...

    def remove_image(self, name: str) -> str | None:
        """Remove a tag (the image with it, when it was the last) or an untagged image by id,
        never by force; None when done or gone already, else why the engine refused."""
        ...

    def containers(self) -> list[ContainerInfo]:
        """Every container on the engine, running or not, the harness's or not."""
        ...

    def remove_containers(self, run_id: str | None = None) -> list[str]:
        """Force-remove the harness's containers (`swelancer=1`; of `run_id` when given);
        their names."""
        ...

    def snapshots(self) -> list[Snapshot]:
        """Every snapshot on the engine, tagged or not."""
        ...

    def snapshot_store(
        self, run_id: str, *, budget_bytes: int | None, keep: bool
    ) -> SnapshotBuilder:
        """A store that commits snapshots for `run_id` (budget None: a quarter of free disk)."""
        ...

    def provider(self) -> SandboxProvider:
        """The sandboxes on this engine."""
        ...

    def close(self) -> None:
        """Let go of the connection; idempotent."""
        ...
