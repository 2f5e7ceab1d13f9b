"""An in-process fake of the image engine seam (`swelancer.sandbox.engine.ImageEngine`), so that
`images`, `doctor`, `cleanup` and the snapshot plans are tested without Docker.

A `FakeEngine` holds images (`add_image`), containers (`add_container`) and snapshots
(`add_snapshot`); a registry of what it can pull (`offer`, `refuse`); and, for
`images snapshot`, a `FakeProvider` (`tests.fakes.sandbox`) that its `provider()` returns.
Removal acts as Docker's does when not forced: a tag of an image with other tags is untagged,
an image a container uses is refused with Docker's words. `up = False` makes every call fail
as with no engine; `failure` makes `facts` fail after the engine answered.

    engine = FakeEngine()
    engine.add_image("swelancer/swelancer_x86_1:releasev1", size=14_000)
    plan = prune_plan(engine, keep_task_ids=set())
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.engine import ContainerInfo, EngineFacts, ImageInfo, PullFailed
from swelancer.sandbox.snapshot_model import (
    SETUP_VERSION,
    Commit,
    Snapshot,
    snapshot_name,
)

HOST = "unix:///fake/engine.sock"
DOWN = (
    f"The Docker daemon is not running or not reachable at {HOST}. Start Docker (Docker "
    "Desktop on macOS/Windows, `sudo systemctl start docker` on Linux), or point DOCKER_HOST at "
    "a running engine, then check with `docker info`. (Docker said: connection refused)"
)
"""What the Docker engine says when nobody answers (`sandbox.docker.client.docker_client`)."""


def build_output(*, steps: int = 12, lines: int = 570, fail_at: int | None = None) -> list[str]:
    """A build's output as the engine streams it (`Step N/M : …`, then what each step
    prints), `lines` lines in all; with `fail_at`, it ends inside that step."""
    per_step = max(1, (lines - 2 * steps) // steps)
    out: list[str] = []
    for n in range(1, steps + 1):
        out.append(f"Step {n}/{steps} : RUN make part-{n}")
        out += [f"part {n}: compiling unit {i}" for i in range(per_step)]
        if n == fail_at:
            out.append(f"part {n}: error: unit {per_step} does not compile")
            return out
        out.append(f" ---> Running in {n:012x}")
    out += [f"filler {i}" for i in range(lines - len(out) - 1)]
    out.append("Successfully tagged swelancer/demo:latest")
    return out


class FakeEngine:
    """Images, containers and snapshots in memory; counts what was asked of it."""

    name = "fake"

    def __init__(
        self,
        *,
        architecture: str = "x86_64",
        version: str = "27.3.1",
        root_dir: str = "",
        provider: Any = None,
    ) -> None:
        self.engine_facts = EngineFacts(
            version=version, api_version="1.47", os="Fake Linux", architecture=architecture,
            root_dir=root_dir,
        )  # fmt: skip
        self.up = True
        self.failure: Exception | None = None
        self.sandboxes = provider
        self.by_id: dict[str, ImageInfo] = {}
        self.running: list[ContainerInfo] = []
        self.snaps: dict[str, Snapshot] = {}
        self.registry: dict[str, list[dict[str, Any]]] = {}
        self.refusals: dict[str, PullFailed] = {}
        self.refuse_removal: dict[str, str] = {}
        self.removed: list[str] = []
        self.built: list[str] = []
        self.build_output: list[str] = build_output(steps=2, lines=4)
        """What `build_demo` says, a line at a time (`build_output` makes one)."""
        self.build_error: str | None = None
        """The engine's words when the build fails; None: it succeeds."""
        self.closed = 0
        self.stores: list[FakeSnapshotBuilder] = []
        self._ids = itertools.count(1)

    # -- set-up of a test -----------------------------------------------------------------------

    def add_image(
        self, *tags: str, size: int = 1_000_000, labels: dict[str, str] | None = None
    ) -> ImageInfo:
        image = ImageInfo(
            id=f"sha256:{next(self._ids):064x}", tags=list(tags), size=size,
            created="2026-01-02T03:04:05Z", labels=labels or {},
        )  # fmt: skip
        self.by_id[image.id] = image
        return image

    def add_container(
        self,
        name: str,
        image: str,
        status: str = "running",
        labels: dict[str, str] | None = None,
        created: str | None = None,
    ) -> ContainerInfo:
        found = self.image(image)
        container = ContainerInfo(
            name=name, status=status, image_id=found.id if found else image, labels=labels or {},
            created=created,
        )  # fmt: skip
        self.running.append(container)
        return container

    def add_snapshot(
        self,
        task_id: str,
        base: str,
        *,
        run_id: str = "run-1",
        kept: bool = False,
        size: int = 500,
        tagged: bool = True,
        last_used: float = 1_767_000_000.0,
    ) -> Snapshot:
        """A snapshot of `task_id` on the image `base` (which must be here), as a run makes."""
        base_image = self.image(base)
        assert base_image is not None, f"no image {base} on the fake engine"
        name = snapshot_name(task_id, base_image.id)
        image = self.add_image(*([name] if tagged else []), size=(base_image.size or 0) + size)
        snapshot = Snapshot(
            name=name if tagged else image.id, image_id=image.id, task_id=task_id,
            base_id=base_image.id, base_name=base, version=SETUP_VERSION, bytes=size, kept=kept,
            run_id=run_id, last_used=last_used, tagged=tagged,
        )  # fmt: skip
        self.snaps[image.id] = snapshot
        return snapshot

    def offer(self, image: str, layers: int = 2, size: int = 1_000) -> None:
        """Let `image` be pulled: a layer's events, then the image is here."""
        events: list[dict[str, Any]] = [{"status": f"Pulling from {image.split(':')[0]}"}]
        for n in range(layers):
            layer = f"layer{n}"
            events += [
                {"status": "Pulling fs layer", "id": layer},
                {"status": "Downloading", "id": layer,
                 "progressDetail": {"current": size // 2, "total": size}},
                {"status": "Download complete", "id": layer},
                {"status": "Pull complete", "id": layer},
            ]  # fmt: skip
        events.append({"status": f"Status: Downloaded newer image for {image}"})
        self.registry[image] = events

    def refuse(self, image: str, detail: str, *, engine_gone: bool = False) -> None:
        """A pull of `image` fails with these words of the engine's."""
        self.refusals[image] = PullFailed(detail, engine_gone=engine_gone)

    def tags(self) -> set[str]:
        return {tag for image in self.by_id.values() for tag in image.tags}

    # -- the ImageEngine protocol -----------------------------------------------------------------

    def _check(self) -> None:
        if not self.up:
            raise InfraError(DOWN, kind=FaultKind.DOCKER_UNAVAILABLE)

    def facts(self) -> EngineFacts:
        self._check()
        if self.failure is not None:
            raise self.failure
        return self.engine_facts

    def image(self, name: str) -> ImageInfo | None:
        self._check()
        for image in self.by_id.values():
            if name == image.id or name in image.tags:
                return image
        return None

    def images(self) -> list[ImageInfo]:
        self._check()
        return list(self.by_id.values())

    def pull(self, image: str, *, on_event: Callable[[dict[str, Any]], None] | None) -> str:
        self._check()
        if image in self.refusals:
            raise self.refusals[image]
        if image not in self.registry:
            raise PullFailed(f"manifest for {image} not found: manifest unknown")
        for event in self.registry[image]:
            if on_event is not None:
                on_event(event)
        return (self.image(image) or self.add_image(image)).id

    def build_demo(self, *, on_line: Callable[[str], None] | None) -> str:
        from swelancer.sandbox.engine import DEMO_IMAGE

        self._check()
        for line in self.build_output:
            if on_line is not None:
                on_line(line)
        if self.build_error is not None:
            raise InfraError(
                f"building {DEMO_IMAGE} failed: {self.build_error}", kind=FaultKind.IMAGE_BUILD
            )
        self.built.append(DEMO_IMAGE)
        return (self.image(DEMO_IMAGE) or self.add_image(DEMO_IMAGE)).id

    def remove_image(self, name: str) -> str | None:
        self._check()
        if name in self.refuse_removal:
            return self.refuse_removal[name]
        image = self.image(name)
        if image is None:
            return None
        if name in image.tags and len(image.tags) > 1:
            image.tags.remove(name)  # untagged; the image stays with its other tags
            self.removed.append(name)
            return None
        users = [c.name for c in self.running if c.image_id == image.id]
        if users:
            return (
                f'conflict: unable to remove repository reference "{name}" (must force) - '
                f"container {users[0]} is using its referenced image {image.id[7:19]}"
            )
        del self.by_id[image.id]
        self.snaps.pop(image.id, None)
        self.removed.append(name)
        return None

    def containers(self) -> list[ContainerInfo]:
        self._check()
        return list(self.running)

    def remove_containers(self, run_id: str | None = None) -> list[str]:
        self._check()
        gone = [
            c
            for c in self.running
            if c.labels.get("swelancer") == "1"
            and (run_id is None or c.labels.get("swelancer.run_id") == run_id)
        ]
        self.running = [c for c in self.running if c not in gone]
        return [c.name for c in gone]

    def snapshots(self) -> list[Snapshot]:
        self._check()
        return sorted(self.snaps.values(), key=lambda s: (s.task_id, s.name))

    def snapshot_store(
        self, run_id: str, *, budget_bytes: int | None, keep: bool
    ) -> FakeSnapshotBuilder:
        self._check()
        store = FakeSnapshotBuilder(self, run_id, budget_bytes or 20_000_000_000, keep)
        self.stores.append(store)
        return store

    def provider(self) -> Any:
        assert self.sandboxes is not None, "give the FakeEngine a provider= for sandboxes"
        return self.sandboxes

    def close(self) -> None:
        self.closed += 1


class FakeSnapshotBuilder:
    """Commits a set-up fake sandbox as a snapshot of `setup_bytes`, within the budget."""

    def __init__(self, engine: FakeEngine, run_id: str, budget_bytes: int, keep: bool) -> None:
        self.engine, self.run_id, self.budget_bytes, self.keep = engine, run_id, budget_bytes, keep
        self.setup_bytes = 500

    def used_bytes(self) -> int:
        return sum(s.bytes for s in self.engine.snapshots())

    def lookup(self, base_image: str, task_id: str) -> Snapshot | None:
        base = self.engine.image(base_image)
        if base is None:
            return None
        name = snapshot_name(task_id, base.id)
        found = [s for s in self.engine.snapshots() if s.name == name]
        return found[0] if found and found[0].valid_for(base.id, task_id) else None

    def find(self, base_image: str, task_id: str) -> str | None:
        found = self.lookup(base_image, task_id)
        return found.name if found else None

    def commit(self, sandbox: Any, base_image: str, task_id: str, *, evict: bool) -> Commit:
        size = self.setup_bytes
        if self.used_bytes() + size > self.budget_bytes:
            why = f"{task_id}: its snapshot ({size} B) does not fit in the snapshot budget"
            return Commit(name=None, bytes=size, refused=why)
        made = self.engine.add_snapshot(
            task_id, base_image, run_id=self.run_id, kept=self.keep, size=size
        )
        return Commit(name=made.name, bytes=size, seconds=0.01)
