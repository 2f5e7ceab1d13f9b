"""The Sandbox and SandboxProvider protocols: the only way the harness touches the place an
attempt runs (a Docker container today; a pod or a cloud sandbox would be another provider)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from swelancer.errors import InfraError
from swelancer.sandbox.archive import CopyLimits, CopyReport

__all__ = [
    "ExecResult",
    "InfraError",
    "Mount",
    "Sandbox",
    "SandboxProvider",
    "SandboxSpec",
    "SnapshotStore",
    "StopCause",
    "StopWitness",
]


class ExecResult(BaseModel):
    """What one command in the sandbox gave back."""

    exit_code: int
    """The command's exit code; 124 when it was killed for its timeout (see `timed_out`)."""
    output: str
    """stdout and stderr interleaved, UTF-8 with bad bytes replaced; see `truncated`."""
    timed_out: bool = False
    truncated: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@runtime_checkable
class Sandbox(Protocol):
    """A running container (or its equivalent) for one attempt."""

    name: str

    def exec(
        self,
        cmd: str | list[str],
        *,
        timeout: float | None = None,
        workdir: str | None = None,
        env: dict[str, str] | None = None,
    ) -> ExecResult:
        """Run a command (a string runs under `bash -lc`, a list as is).

        When `timeout` seconds pass, every process it started is killed and the result has
        `timed_out=True` and `exit_code=124`. Raises `InfraError` for faults of the sandbox.
        """
        ...

    def write_file(self, path: str, data: bytes | str, mode: int = 0o644) -> None:
        """Create or replace one file inside the sandbox."""
        ...

    def read_file(self, path: str, limit: int | None = None) -> bytes:
        """Read one file from the sandbox; `FileNotFoundError` when it does not exist, an
        `InfraError` of kind `too_large` when it holds more than `limit` bytes."""
        ...

    def copy_in(self, src: Path, dest: str) -> None:
        """Copy a host file or folder to `dest` (the path it will have) inside the sandbox."""
        ...

    def copy_out(self, src: str, dest: Path, limits: CopyLimits | None = None) -> CopyReport:
        """Copy a file or folder from the sandbox to `dest` (the path it will have) on the host,
        bounded and inert (regular files and folders only); `FileNotFoundError` if missing."""
        ...

    def changes(self) -> Sequence[tuple[str, int]]:
        """Paths the sandbox changed since it started from its image, as the engine (not the
        sandbox) records them: (path, kind) with kind 0 changed, 1 added, 2 deleted. Bounded:
        past `sandbox.changes.MAX_CHANGES` entries an `InfraError` of kind `too_large`."""
        ...

    def engine_processes(self) -> dict[int, str]:
        """The sandbox's processes as the engine lists them (id: command line), read without
        running anything inside."""
        ...

    def image_copy_out(
        self, src: str, dest: Path, limits: CopyLimits | None = None
    ) -> CopyReport | None:
        """`copy_out` of `src` as the sandbox's image holds it, without a container of that
        image; None when the backend cannot (then such a container is asked)."""
        ...

    def disconnect_network(self) -> None:
        """Cut the sandbox off every network; idempotent."""
        ...

    def connect_network(self) -> None:
        """Give back the network taken by `disconnect_network`; idempotent."""
        ...

    def process_ids(self) -> set[int]:
        """The ids of the processes running in the sandbox now."""
        ...

    def kill_processes_except(self, keep: set[int]) -> int:
        """Kill every process but `keep` and PID 1, even after a fork bomb."""
        ...

    def alive(self) -> bool:
        """Whether the sandbox is still running."""
        ...

    def logs(self) -> str:
        """What the sandbox's main process printed."""
        ...

    def remove(self) -> None:
        """Stop and delete the sandbox; idempotent, never raises for an already gone sandbox."""
        ...


class Reach(BaseModel):
    """The ports of a running sandbox (`of`, by name) that another reaches at 127.0.0.1 in a
    namespace of its own, through a forwarder its sandbox cannot touch; bounded to
    `max_connections` at once and `deadline_s` seconds, and removed with the sandbox."""

    of: str
    ports: tuple[int, ...]
    deadline_s: float
    max_connections: int = 256


class Mount(BaseModel):
    """A host folder (or an engine volume, by name) seen inside the sandbox at `target`."""

    source: str
    target: str
    read_only: bool = True


class SandboxSpec(BaseModel):
    """What a sandbox is started with."""

    image: str
    env: dict[str, str] = {}
    labels: dict[str, str] = {}
    memory: str | None = None
    cpus: float | None = None
    pids_limit: int | None = None
    disk: str | None = None
    network_of: str | None = None
    """The name of a running sandbox whose network (and only that) this one shares: its
    `localhost` is the other's. Such a sandbox has no network of its own to disconnect."""
    reach: Reach | None = None
    """Another sandbox's ports this one reaches on its own loopback, from a network namespace
    of its own (no network, its own loopback, abstract sockets and /etc/hosts): nothing else
    of the other's namespace. Not with `network_of`."""
    mounts: tuple[Mount, ...] = ()
    """Folders or volumes brought in at start (the model gateway's socket folder, an installed
    agent's read-only volume)."""


class SandboxProvider(Protocol):
    """Makes and removes sandboxes. Every sandbox carries the labels of its spec, so that a run's
    sandboxes can be found (and removed) after a crash."""

    name: str

    def start(self, spec: SandboxSpec) -> Sandbox:
        """A running sandbox from `spec.image` with its own entry point."""
        ...

    def reference(self, image: str, labels: dict[str, str]) -> Sandbox:
        """The image's files, readable with `read_file`/`copy_out`; nothing runs in it."""
        ...

    def remove_run(self, run_id: str) -> list[str]:
        """Remove every sandbox labelled with `run_id`; their names."""
        ...

    def prepare_images(
        self, images: list[str], *, build_demo: bool, on_line: Callable[[str], None]
    ) -> dict[str, str]:
        """Make sure each image is present (building the demo image if allowed); their ids."""
        ...

    def facts(self) -> dict[str, Any]:
        """What to record about the backend in run.json (versions, architecture)."""
        ...

    def witness(self, run_id: str) -> StopWitness | None:
        """What the engine reports of the stops of the run's sandboxes, read from now on;
        None when the backend cannot tell (then a stop is settled by other evidence)."""
        ...

    def forget_run(self, run_id: str) -> None:
        """The run's attempts are over: stop reading what `witness` reads."""
        ...

    def snapshot_store(self, run_id: str, budget: str | None, keep: bool) -> SnapshotStore | None:
        """The store of post-setup snapshots a run uses; None when the backend keeps none."""
        ...


class SnapshotStore(Protocol):
    """Post-setup snapshots of IC tasks (`sandbox.docker.snapshots.SnapshotStore`)."""

    notes: list[str]

    def find(self, base_image: str, task_id: str) -> str | None:
        """The snapshot of the task on `base_image` to start from, if there is one."""
        ...

    def first(self, base_image: str, task_id: str) -> AbstractContextManager[str | None]:
        """Held while the first attempt of the task sets up: a snapshot made meanwhile by
        another attempt, or None (then this attempt makes one)."""
        ...

    def make(
        self, sandbox: Sandbox, base_image: str, task_id: str, base_name: str | None = None
    ) -> str | None:
        """Commit `sandbox`, set up, as the task's snapshot; its name, or None. `base_image`
        is what it started from (the run's pinned id), `base_name` what the user called it."""
        ...

    def finish(self) -> list[str]:
        """End the run's use of the store: remove what it made and does not keep."""
        ...


@dataclass(frozen=True)
class StopCause:
    """Who stopped a sandbox, as its engine reported it: `outside` is True for a request to
    the engine that the harness did not make (a stop, kill, removal or pause) or an engine
    that went away; False for a sandbox whose main process exited with nothing asked of the
    engine (the agent's doing, or its memory limit); None when the engine said nothing."""

    outside: bool | None
    what: str


class StopWitness(Protocol):
    """What an engine reported about the stops of one run's sandboxes (see
    `sandbox.docker.stop_ledger`), from `SandboxProvider.witness`."""

    def cause(self, sandbox: Sandbox, *, wait: float = 3.0) -> StopCause:
        """Why `sandbox` (found stopped) stopped, waiting up to `wait` seconds for the
        engine's report of it."""
        ...

    def outside_since(self, marks: dict[str, str], since_ns: int) -> str | None:
        """What stopped from outside, since `since_ns` (ns since the epoch), a sandbox whose
        labels hold `marks`; None when nothing did."""
        ...
