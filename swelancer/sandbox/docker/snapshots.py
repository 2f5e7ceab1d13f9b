"""Post-setup snapshots: set up a task once, start every later container of it in seconds.

The first time an IC task's setup finishes in a pristine container (before the tests are hidden
and before any agent command), the container is committed to a local image; later containers
of the task (tries, fresh graders, controls, user-tool sandboxes, retries, later runs) start
from it with setup skipped, the way upstream's per-task images start (`RUNTIME_SETUP` empty):
its entry point starts the image's services again and writes the ready marker itself. A
snapshot never holds the marker: it is removed before the commit, and a snapshot found holding
one (checked once per image, in a container created from it and never started) is not used, so
a container from a snapshot is ready only when its own entry point says so. Labels tie a
snapshot to the base image's id, the task and `SETUP_VERSION`, so a changed image or task never
reuses a stale one.

Disk is bounded: commits are made one at a time on an engine (a lock file on this host), each
only when the snapshots' own layers, its own included, stay within the budget; to make room a
run evicts the least recently used snapshots that are not kept and no container uses (use
re-tags a snapshot, which the engine dates). A run removes the snapshots it made when it ends
unless they are kept, and those of other runs it used that were not kept (a run cannot remove
one that another run's container still uses; the last user does); `cleanup` and `images prune`
find the rest by label.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from swelancer.errors import FaultKind, InfraError
from swelancer.format import size as fmt
from swelancer.sandbox.docker.host_lock import engine_lock
from swelancer.sandbox.docker.layer_changes import LayersUnreadable, image_layers
from swelancer.sandbox.docker.snapshot_index import list_snapshots, remove_snapshot
from swelancer.sandbox.snapshot_model import (
    LABEL,
    REPOSITORY,
    SETUP_VERSION,
    Commit,
    Snapshot,
    parse_size,
    snapshot_labels,
    snapshot_name,
)

__all__ = [
    "GB",
    "LABEL",
    "MARKER",
    "REPOSITORY",
    "SETUP_VERSION",
    "Commit",
    "Snapshot",
    "SnapshotStore",
    "default_budget",
    "parse_size",
    "snapshot_name",
]

GB = 1_000_000_000
MARKER = "/setup_done.txt"


def default_budget(client: Any) -> int:
    """A quarter of the engine's free disk, at most 200 GB (20 GB when it cannot be read)."""
    try:
        root = client.info().get("DockerRootDir") or "/var/lib/docker"
        free = shutil.disk_usage(root).free
    except Exception:
        return 20 * GB
    return max(1 * GB, min(200 * GB, free // 4))


class SnapshotStore:
    """The snapshots on one engine, as one run (or one `images snapshot`) uses them."""

    def __init__(
        self, client: Any, *, run_id: str, budget_bytes: int | None = None, keep: bool = False
    ) -> None:
        self.client = client
        self.run_id = run_id
        self.budget_bytes = budget_bytes if budget_bytes is not None else default_budget(client)
        self.keep = keep
        self._lock = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._making = threading.Lock()
        self._made: list[str] = []
        """Ids of the images this store committed."""
        self._adopted: set[str] = set()
        """Ids of snapshots another run made and did not keep, which this run used: the
        other run cannot remove them while this one's containers use them, so this one
        removes them at its end if no one else still does."""
        self._no_marker: dict[str, bool] = {}
        self.notes: list[str] = []

    # -- finding ------------------------------------------------------------------------

    def all(self) -> list[Snapshot]:
        """Every snapshot on the engine (tagged or not)."""
        return list_snapshots(self.client)

    def used_bytes(self) -> int:
        return sum(s.bytes for s in self.all())

    def lookup(self, base_image: str, task_id: str) -> Snapshot | None:
        """The snapshot of `task_id` made from that very image (its id) by this version of the
        setup, if there is one; nothing is checked inside it and it is not marked used."""
        base_id = self._image_id(base_image)
        if base_id is None:
            return None
        name = snapshot_name(task_id, base_id)
        found = [s for s in self.all() if s.name == name]
        if not found or not found[0].valid_for(base_id, task_id):
            return None
        return found[0]

    def find(self, base_image: str, task_id: str) -> str | None:
        """The snapshot to start `task_id` from when its base is `base_image` (see `lookup`),
        unless it holds a ready marker; marks it used."""
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
        if not self._holds_no_marker(str(image.id), name, image.attrs):
            return None
        if labels.get(f"{LABEL}.kept") != "1" and labels.get(f"{LABEL}.run_id") != self.run_id:
            with self._lock:
                self._adopted.add(str(image.id))
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

    def make(
        self, sandbox: Any, base_image: str, task_id: str, base_name: str | None = None
    ) -> str | None:
        """Commit a container whose setup just finished (nothing else has run in it) as the
        task's snapshot, within the budget (evicting if need be); its name, or None.
        `base_image` is what the container started from (the run's pinned id); `base_name`,
        the name it was given, is what the snapshot's labels show."""
        return self.commit(sandbox, base_image, task_id, base_name=base_name).name

    def _given_labels(self, sandbox: Any, base_id: str) -> list[str]:
        """The labels the container was given when created (its run's id and directory, task,
        attempt, role), not its image's: a snapshot committed with them emptied names no run,
        so a container started from it that sets fewer (a reference) belongs to no other run."""
        attrs = getattr(sandbox.container, "attrs", None) or {}
        own = (attrs.get("Config") or {}).get("Labels") or {}
        try:
            image = (self.client.images.get(base_id).attrs.get("Config") or {}).get("Labels")
        except Exception:
            image = None
        image = image or {}
        return sorted(k for k, v in own.items() if image.get(k) != v and _plain_key(k))

    def commit(
        self,
        sandbox: Any,
        base_image: str,
        task_id: str,
        *,
        evict: bool = True,
        base_name: str | None = None,
    ) -> Commit:
        """`make`, saying what it did: the snapshot's size and the seconds the commit took, or
        why none was made. Without `evict`, a snapshot that does not fit is refused."""
        base_id = self._image_id(base_image)
        if base_id is None:
            return Commit(name=None, refused=f"{task_id}: the image {base_image} is gone")
        started = time.monotonic()
        with self._making, engine_lock(self.client, "snapshots"):
            done = sandbox.exec(["rm", "-f", MARKER], timeout=60)
            if not done.ok:
                return self._refuse(f"{task_id}: could not remove {MARKER}: {done.output[-200:]}")
            size = self._container_size(sandbox)
            if size < 0:
                return self._refuse(f"{task_id}: the engine did not say how large its setup is")
            refused = self._room(task_id, size, evict)
            if refused:
                return self._refuse(refused, size)
            name = snapshot_name(task_id, base_id)
            previous = self._image_id(name)
            labels = snapshot_labels(
                base_id, base_name or base_image, task_id, self.run_id, self.keep
            )
            changes = ["ENV RUNTIME_SETUP="] + [f'LABEL {k}="{v}"' for k, v in labels.items()]
            changes += [f'LABEL {k}=""' for k in self._given_labels(sandbox, base_id)
                        if k not in labels]  # fmt: skip
            repository, tag = name.rsplit(":", 1)
            try:
                if sandbox.stops is not None:  # a commit pauses it: the harness's own
                    sandbox.stops.expect(sandbox.id, "pause", "unpause")
                image = sandbox.container.commit(
                    repository=repository, tag=tag, changes=changes, pause=True
                )
            except Exception as err:
                raise InfraError(
                    f"could not snapshot {task_id}: {err}", kind=FaultKind.DOCKER
                ) from err
            with self._lock:
                self._made.append(str(image.id))
                self._no_marker[str(image.id)] = True
            if previous and previous != image.id:  # the name's older image, now untagged
                remove_snapshot(self.client, previous)
        return Commit(name=name, bytes=size, seconds=time.monotonic() - started)

    def _refuse(self, why: str, size: int = 0) -> Commit:
        self.notes.append(why)
        return Commit(name=None, bytes=size, refused=why)

    def _room(self, task_id: str, size: int, evict: bool) -> str | None:
        """None when a snapshot of `size` bytes fits (after evicting, if allowed); else why."""
        budget = self.budget_bytes
        if size > budget:
            return f"{task_id}: its setup ({fmt(size)}) is over the snapshot budget ({fmt(budget)})"
        snapshots = self.all()
        used = sum(s.bytes for s in snapshots)
        if used + size > budget and evict:
            used = self._evict(snapshots, used, used + size - budget)
        if used + size <= budget:
            return None
        kept = sum(s.bytes for s in snapshots if s.kept)
        return (
            f"{task_id}: its snapshot ({fmt(size)}) does not fit in the snapshot budget "
            f"({fmt(budget)}): {fmt(used)} is taken by {len(snapshots)} snapshot(s), "
            f"{fmt(kept)} of it kept"
        )

    def _evict(self, snapshots: list[Snapshot], used: int, need: int) -> int:
        """Remove untagged, then least recently used, snapshots that are not kept and that no
        container uses, until `need` bytes are free; the bytes still used."""
        order = sorted((s for s in snapshots if not s.kept), key=lambda s: (s.tagged, s.last_used))
        freed = 0
        for old in order:
            if freed >= need:
                break
            if remove_snapshot(self.client, old.image_id) is None:
                freed += old.bytes
                self.notes.append(f"evicted snapshot {old.name} ({fmt(old.bytes)})")
        return used - freed

    # -- ending -------------------------------------------------------------------------

    def finish(self) -> list[str]:
        """At the run's end: remove the snapshots it made, unless they are kept, and those of
        other runs it used that were not kept (one a container still uses stays, for the run
        that uses it to remove)."""
        removed = []
        for image_id in ([] if self.keep else self._made) + sorted(self._adopted):
            if remove_snapshot(self.client, image_id) is None:
                removed.append(image_id)
        return removed

    # -- engine facts -------------------------------------------------------------------

    def _image_id(self, image: str) -> str | None:
        try:
            return str(self.client.images.get(image).id)
        except Exception:
            return None

    def _container_size(self, sandbox: Any) -> int:
        """Bytes of the container's own layer (what a commit of it adds); -1 if unknown."""
        try:
            found = self.client.api.containers(all=True, filters={"id": sandbox.id}, size=True)
            return int(found[0].get("SizeRw") or 0)
        except Exception:
            return -1

    def _holds_no_marker(
        self, image_id: str, name: str, attrs: dict[str, Any] | None = None
    ) -> bool:
        """Whether the snapshot lacks the ready marker (looked up in its layers on this host, or
        read in a container created from it and never started); remembered per image."""
        if image_id not in self._no_marker:
            layers = image_layers(attrs) if isinstance(attrs, dict) else None
            clean: bool | None = None
            if layers is not None:
                with contextlib.suppress(LayersUnreadable, OSError):
                    clean = layers.locate(MARKER) is None
            if clean is None:
                clean = self._marker_absent_in_container(name)
            if not clean:
                self.notes.append(f"{name} holds {MARKER} (or could not be read): not used")
            self._no_marker[image_id] = clean
        return self._no_marker[image_id]

    def _marker_absent_in_container(self, name: str) -> bool:
        from swelancer.sandbox.docker.sandbox import DockerSandbox

        with contextlib.suppress(InfraError):
            marks = {"swelancer.run_id": self.run_id, "swelancer.role": "snapshot-check"}
            box = DockerSandbox.reference(name, labels=marks, client=self.client)
            try:
                box.read_file(MARKER, limit=4096)
            except (FileNotFoundError, IsADirectoryError):
                return True
            finally:
                box.remove()
        return False

    def _touch(self, image: Any, name: str) -> None:
        repository, tag = name.rsplit(":", 1)
        with contextlib.suppress(Exception):  # the engine dates the tag: least recently used
            image.tag(repository, tag)


def _plain_key(key: str) -> bool:
    """A label key that can be written into a commit's LABEL line as it is."""
    return bool(key) and all(c.isalnum() or c in "._-/" for c in key)
