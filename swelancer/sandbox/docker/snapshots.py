"""Post-setup snapshots: set up a task once, start every later container of it in seconds.

The first time an IC task's setup finishes in a pristine container (before the tests are hidden
and before any agent command), the container is committed to a local image; later containers
of the task (tries, fresh graders, controls, user-tool sandboxes, retries, later runs) start
from it with setup skipped, the way upstream's per-task images start (`RUNTIME_SETUP` empty):
its entry point starts the image's services again and writes the ready marker itself, since
the marker is removed before the commit. Labels tie a snapshot to the base image's id, the task
and `SETUP_VERSION`, so a changed image or task never reuses a stale one.

Disk is bounded: the store keeps the snapshots' own layers under a budget, evicting the least
recently used first (use re-tags a snapshot, which the engine dates); a run removes the
snapshots it made when it ends unless they are kept; `cleanup` and `images prune` find the rest
by label.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel

from swelancer.errors import FaultKind, InfraError

SETUP_VERSION = "1"
"""Bumped when what the harness expects of a set-up container changes."""
REPOSITORY = "swelancer-snapshot"
LABEL = "swelancer.snapshot"
GB = 1_000_000_000
MARKER = "/setup_done.txt"


class Snapshot(BaseModel):
    name: str
    task_id: str
    base_id: str
    bytes: int
    """The snapshot's own layer (what setup added to the base image)."""
    kept: bool
    run_id: str
    last_used: float


def snapshot_name(task_id: str, base_id: str) -> str:
    digest = base_id.split(":")[-1][:12]
    return f"{REPOSITORY}/{re.sub(r'[^a-z0-9_.-]', '-', task_id.lower())}:{digest}-v{SETUP_VERSION}"


def parse_size(text: str | None) -> int | None:
    """Bytes of a size in Docker's units (`512m`, `50g`, `1t`, plain bytes); None for None."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*", text.lower())
    if not match:
        raise ValueError(f"{text!r} is not a size (e.g. 512m, 50g)")
    factor = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}[match.group(2)]
    return int(float(match.group(1)) * factor)


def default_budget(client: Any) -> int:
    """A quarter of the engine's free disk, at most 200 GB (20 GB when it cannot be read)."""
    try:
        root = client.info().get("DockerRootDir") or "/var/lib/docker"
        free = shutil.disk_usage(root).free
    except Exception:
        return 20 * GB
    return max(1 * GB, min(200 * GB, free // 4))


class SnapshotStore:
    """The snapshots on one engine, for one run."""

    def __init__(
        self, client: Any, *, run_id: str, budget_bytes: int | None = None, keep: bool = False
    ) -> None:
        self.client = client
        self.run_id = run_id
        self.budget_bytes = budget_bytes if budget_bytes is not None else default_budget(client)
        self.keep = keep
        self._lock = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._made: list[str] = []
        self.notes: list[str] = []

    # -- finding ------------------------------------------------------------------------

    def all(self) -> list[Snapshot]:
        try:
            images = self.client.images.list(filters={"label": f"{LABEL}=1"})
        except Exception as err:
            raise InfraError(f"could not list snapshots: {err}", kind=FaultKind.DOCKER) from err
        found = []
        for image in images:
            labels = image.labels or {}
            for tag in image.tags or []:
                if tag.startswith(REPOSITORY + "/"):
                    found.append(_snapshot(tag, image, labels, self._base_size(labels)))
        return found

    def find(self, base_image: str, task_id: str) -> str | None:
        """The snapshot to start `task_id` from when its base is `base_image`, if there is one
        made from that very image (its id) by this version of the setup; marks it used."""
        base_id = self._image_id(base_image)
        if base_id is None:
            return None
        name = snapshot_name(task_id, base_id)
        try:
            image = self.client.images.get(name)
        except Exception:
            return None
        labels = image.labels or {}
        if (
            labels.get(f"{LABEL}.base"),
            labels.get(f"{LABEL}.task"),
            labels.get(f"{LABEL}.version"),
        ) != (base_id, task_id, SETUP_VERSION):
            return None
        self._touch(image, name)
        return name

    @contextmanager
    def first(self, base_image: str, task_id: str) -> Iterator[str | None]:
        """Held by the attempt that sets the task up cold, so that others starting together
        wait for its snapshot instead of making their own; yields a snapshot made meanwhile."""
        with self._lock:
            lock = self._locks.setdefault((base_image, task_id), threading.Lock())
        with lock:
            yield self.find(base_image, task_id)

    # -- making -------------------------------------------------------------------------

    def make(self, sandbox: Any, base_image: str, task_id: str) -> str | None:
        """Commit a container whose setup just finished (nothing else has run in it) as the
        task's snapshot, within the budget; its name, or None when it does not fit."""
        base_id = self._image_id(base_image)
        if base_id is None:
            return None
        size = self._container_size(sandbox)
        if size > self.budget_bytes:
            self.notes.append(
                f"{task_id}: its setup ({size / GB:.1f} GB) is over the snapshot budget "
                f"({self.budget_bytes / GB:.1f} GB); it sets up cold"
            )
            return None
        self._make_room(size)
        done = sandbox.exec(["rm", "-f", MARKER], timeout=60)
        if not done.ok:
            return None
        name = snapshot_name(task_id, base_id)
        repository, tag = name.rsplit(":", 1)
        labels = {
            LABEL: "1",
            f"{LABEL}.base": base_id,
            f"{LABEL}.base_name": base_image,
            f"{LABEL}.task": task_id,
            f"{LABEL}.version": SETUP_VERSION,
            f"{LABEL}.run_id": self.run_id,
            f"{LABEL}.kept": "1" if self.keep else "0",
        }
        changes = ["ENV RUNTIME_SETUP="] + [f'LABEL {k}="{v}"' for k, v in labels.items()]
        try:
            sandbox.container.commit(repository=repository, tag=tag, changes=changes, pause=True)
        except Exception as err:
            raise InfraError(f"could not snapshot {task_id}: {err}", kind=FaultKind.DOCKER) from err
        with self._lock:
            self._made.append(name)
        return name

    def _make_room(self, size: int) -> None:
        """Remove the least recently used snapshots no container uses until `size` fits."""
        snapshots = sorted(self.all(), key=lambda s: s.last_used)
        total = sum(s.bytes for s in snapshots)
        for old in snapshots:
            if total + size <= self.budget_bytes:
                return
            try:
                self.client.images.remove(old.name, noprune=False)
            except Exception:
                continue  # in use: kept
            total -= old.bytes
            self.notes.append(f"evicted snapshot {old.name} ({old.bytes / GB:.1f} GB)")

    # -- ending -------------------------------------------------------------------------

    def finish(self) -> list[str]:
        """At the run's end: remove the snapshots it made, unless they are kept."""
        if self.keep:
            return []
        removed = []
        for name in self._made:
            try:
                self.client.images.remove(name)
                removed.append(name)
            except Exception:
                continue
        return removed

    # -- engine facts -------------------------------------------------------------------

    def _image_id(self, image: str) -> str | None:
        try:
            return str(self.client.images.get(image).id)
        except Exception:
            return None

    def _base_size(self, labels: dict[str, str]) -> int:
        try:
            return int(self.client.images.get(labels.get(f"{LABEL}.base", "")).attrs["Size"])
        except Exception:
            return 0

    def _container_size(self, sandbox: Any) -> int:
        try:
            info = self.client.api.inspect_container(sandbox.id, size=True)
            return int(info.get("SizeRw") or 0)
        except Exception:
            return 0

    def _touch(self, image: Any, name: str) -> None:
        repository, tag = name.rsplit(":", 1)
        with contextlib.suppress(Exception):  # the engine dates the tag: least recently used
            image.tag(repository, tag)


def _snapshot(name: str, image: Any, labels: dict[str, str], base_size: int) -> Snapshot:
    attrs = image.attrs or {}
    last = (attrs.get("Metadata") or {}).get("LastTagTime") or attrs.get("Created") or ""
    return Snapshot(
        name=name,
        task_id=labels.get(f"{LABEL}.task", ""),
        base_id=labels.get(f"{LABEL}.base", ""),
        bytes=max(0, int(attrs.get("Size") or 0) - base_size),
        kept=labels.get(f"{LABEL}.kept") == "1",
        run_id=labels.get(f"{LABEL}.run_id", ""),
        last_used=_epoch(last),
    )


def _epoch(stamp: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(stamp[:26].rstrip("Z")).timestamp()
    except ValueError:
        return time.time()
