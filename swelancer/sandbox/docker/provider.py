"""DockerProvider: the SandboxProvider on a Docker engine (local, DOCKER_HOST, or a CLI context).

The engine is connected on first use, so that making a provider is free and `--help` imports
no SDK."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from swelancer.sandbox.base import Sandbox, SandboxSpec
from swelancer.sandbox.docker.client import ClientHolder

if TYPE_CHECKING:
    from swelancer.sandbox.docker.snapshots import SnapshotStore
    from swelancer.sandbox.docker.stop_watch import StopWatch


class DockerProvider(ClientHolder):
    """Sandboxes are containers; a reference is a container created and never started."""

    name = "docker"

    def __init__(self, client: Any = None) -> None:
        super().__init__(client)
        self._watches: dict[str, StopWatch] = {}
        self._watch_lock = threading.Lock()

    def witness(self, run_id: str) -> StopWatch:
        """The run's `StopWitness`: its containers' events, read from now by one thread."""
        from swelancer.sandbox.docker.stop_watch import StopWatch

        with self._watch_lock:
            watch = self._watches.get(run_id)
            if watch is None:
                watch = self._watches[run_id] = StopWatch(self.client, run_id)
            return watch

    def forget_run(self, run_id: str) -> None:
        """Stop reading the run's events (its attempts are over)."""
        with self._watch_lock:
            watch = self._watches.pop(run_id, None)
        if watch is not None:
            watch.close()

    def start(self, spec: SandboxSpec) -> Sandbox:
        from swelancer.sandbox.docker import DockerSandbox

        run_id = spec.labels.get("swelancer.run_id")
        options: dict[str, Any] = {
            "env": spec.env,
            "labels": spec.labels,
            "memory": spec.memory,
            "cpus": spec.cpus,
            "pids_limit": spec.pids_limit,
            "disk": spec.disk,
            "stops": self.witness(run_id) if run_id else None,
        }
        if spec.mounts:
            options["volumes"] = {
                m.source: {"bind": m.target, "mode": "ro" if m.read_only else "rw"}
                for m in spec.mounts
            }
        if spec.reach is not None:
            if spec.network_of:
                raise ValueError("a sandbox either shares a network or reaches ports, not both")
            from swelancer.sandbox.docker.reach import start_reaching

            return start_reaching(self.client, spec.image, spec.reach, options)
        return DockerSandbox.start(
            spec.image,
            **options,
            network_mode=f"container:{spec.network_of}" if spec.network_of else None,
            client=self.client,
        )

    def reference(self, image: str, labels: dict[str, str]) -> Sandbox:
        from swelancer.sandbox.docker import DockerSandbox

        return DockerSandbox.reference(image, labels=labels, client=self.client)

    def remove_run(self, run_id: str) -> list[str]:
        from swelancer.sandbox.docker import remove_containers

        if not run_id:  # without a run id, the engine's filter would match every run's
            raise ValueError("remove_run needs a run id; `swelancer cleanup` removes every run's")
        return remove_containers(self.client, run_id=run_id)

    def prepare_images(
        self, images: list[str], *, build_demo: bool, on_line: Callable[[str], None]
    ) -> dict[str, str]:
        from swelancer.sandbox.docker.images import ensure_images

        return ensure_images(self.client, images, build_demo=build_demo, on_line=on_line)

    def snapshot_store(self, run_id: str, budget: str | None, keep: bool) -> SnapshotStore:
        """The store of post-setup snapshots on this engine (see `snapshots`)."""
        from swelancer.sandbox.docker.snapshots import SnapshotStore, parse_size

        return SnapshotStore(self.client, run_id=run_id, budget_bytes=parse_size(budget), keep=keep)

    def facts(self) -> dict[str, Any]:
        from swelancer.sandbox.docker.disk_cap import no_disk_cap

        try:
            info = self.client.version()
            why = no_disk_cap(self.client.info())
        except Exception as exc:
            return {"error": str(exc)}
        return {
            "version": info.get("Version"),
            "arch": info.get("Arch"),
            "os": info.get("Os"),
            "disk_cap": "the engine can cap a container's disk" if why is None else f"none: {why}",
        }
