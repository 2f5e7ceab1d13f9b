"""The state of one try at an attempt: its sandboxes (set up cold or from the task's
snapshot), the hidden tests, the patch's base, and the user tool."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from swelancer.benchmark import setup
from swelancer.benchmark.hidden import HiddenTests, drop_tests
from swelancer.benchmark.patch import (
    ReadChange,
    read_change,
)
from swelancer.benchmark.patch_base import PatchBase
from swelancer.benchmark.playbook_split import SplitPlaybook
from swelancer.benchmark.trust import python_changed, replaced_tools
from swelancer.errors import FaultKind, InfraError
from swelancer.run.controls import ControlGrades
from swelancer.run.results import Transcript
from swelancer.run.spec import AttemptSettings, labels, sandbox_spec
from swelancer.sandbox.archive import CopyLimits, CopyReport
from swelancer.sandbox.base import Sandbox, SandboxProvider, SandboxSpec, StopWitness
from swelancer.tasks.models import IcTask, ManagerTask

if TYPE_CHECKING:
    pass

_TRY_LABELS = ("swelancer.run_id", "swelancer.task_id", "swelancer.run.attempt")
"""The labels every container of one try carries (a retry's carry them too: `began_ns`)."""


class TryState:
    """The state of one try: its sandboxes, the hidden tests, the patch's base."""

    def __init__(self, task, attempt, settings, folder, provider, controls, log, snapshots) -> None:
        self.task: IcTask | ManagerTask = task
        self.attempt: int = attempt
        self.settings: AttemptSettings = settings
        self.folder: Path = folder
        self.provider: SandboxProvider = provider
        self.snapshots = snapshots
        self.stop: threading.Event | None = None
        """Set when the run stops: a container found stopped is then the harness's doing."""
        self.witness: StopWitness | None = provider.witness(settings.run_id)
        """What the engine reports of the run's containers' stops (None: nothing)."""
        self.began_ns = time.time_ns()
        self.setup_from: dict[str, str] = {}
        """How each role's first container was set up: `cold` or `snapshot`."""
        self.controls: ControlGrades = controls
        self.log: Transcript = log
        self.scratch = Path(tempfile.mkdtemp(prefix="swelancer-attempt-"))
        self.sandbox: Sandbox | None = None
        self.reference: ImageReference | None = None
        self.images: dict[str, str] = {}
        """The image each role's first container started from (the base, or a snapshot)."""
        self.hidden: HiddenTests | None = None
        self.playbook: SplitPlaybook | None = None
        """The hidden tests' playbook split into the app's and the judge's parts, once read."""
        self.patch_base: PatchBase | None = None
        self.keep: set[int] = set()
        self.keep_engine: set[int] = set()
        self.start_changes: dict[str, int] = {}
        """The engine's changes when the agent got the container (setup's own)."""
        self.start_digests: dict[str, str] = {}
        """Content of the programs and startup files setup itself changed (e.g. the
        `user-tool` alias upstream's run.sh appends to .bashrc), to tell later changes apart."""
        self.keeps: dict[str, set[int]] = {}
        """The image's own processes in each fresh sandbox (kept between test runs)."""
        self.envs: dict[str, dict[str, str]] = {}
        """The environment each container was started with (a judge gets its app's)."""

    def stopped_under_us(self, sandbox: Sandbox, fault: InfraError) -> bool:
        """Whether `fault` is `sandbox` having stopped while the engine still answers and the
        run goes on, with no stop from outside reported (so not the engine's, the harness's,
        nor anyone else's on the host). A stop the engine reports as from outside (a request
        to its API the harness did not make, or the engine going away) raises an `InfraError`
        naming it; one it cannot tell either way is left to the caller's evidence."""
        if fault.kind != FaultKind.CONTAINER_GONE or (self.stop and self.stop.is_set()):
            return False
        try:
            if sandbox.alive():
                return False
        except Exception:  # the engine does not answer: an infrastructure fault after all
            return False
        cause = self.witness.cause(sandbox) if self.witness is not None else None
        if cause is not None and cause.outside:
            self._from_outside(f"{sandbox.name}: {cause.what}", str(fault), fault)
        self.check_outside(str(fault))
        if cause is not None:
            self.log.event(
                "stop_cause", sandbox=sandbox.name, what=cause.what, outside=cause.outside
            )
        return True

    def check_outside(self, note: str) -> None:
        """An `InfraError` when the engine reports that a container of this try (the agent's,
        an app's, a judge's, a control's) was stopped from outside since the try began:
        what went wrong (`note`) is then not the agent's doing."""
        if self.witness is None:
            return
        marks = {k: v for k, v in labels(self.settings, self.task, self.attempt, "").items()
                 if k in _TRY_LABELS}  # fmt: skip
        what = self.witness.outside_since(marks, self.began_ns)
        if what is not None:
            self._from_outside(what, note, None)

    def _from_outside(self, what: str, note: str, fault: InfraError | None) -> None:
        self.log.event("stopped_from_outside", what=what, note=note)
        raise InfraError(
            f"a container was stopped from outside ({what}): {note}. Not the agent's doing; "
            "the attempt is retried",
            kind=FaultKind.CONTAINER_GONE,
        ) from fault

    # -- sandboxes ----------------------------------------------------------------------

    def ready(self, role: str) -> Sandbox:
        """A container of the task whose setup is done: from the task's snapshot when there is
        one; else set up cold, and (the first time, for IC tasks) committed as the snapshot
        before anything else runs in it. Its log goes to the attempt folder either way."""
        task, settings = self.task, self.settings
        spec = sandbox_spec(task, self.attempt, settings, role)
        store = self.snapshots
        if store is None:
            return self._start(spec, role, "cold")
        box = self._from_snapshot(spec, role, store.find(settings.image, task.task_id))
        if box is not None:
            return box
        with store.first(settings.image, task.task_id) as snapshot:
            box = self._from_snapshot(spec, role, snapshot)
            if box is not None:
                return box
            box = self._start(spec, role, "cold")
            made = store.make(box, settings.image, task.task_id, base_name=settings.image_name)
            self.log.event("snapshot", role=role, name=made, notes=store.notes[-3:])
            return box

    def _from_snapshot(self, spec: SandboxSpec, role: str, snapshot: str | None) -> Sandbox | None:
        """A container from `snapshot`; None when there is none, or when it was removed after
        it was found (another run ended, or evicted it): the caller then sets up cold."""
        if snapshot is None:
            return None
        try:
            return self._start(spec.model_copy(update={"image": snapshot}), role, "snapshot")
        except InfraError as exc:
            if exc.kind != FaultKind.IMAGE_MISSING:
                raise
            self.log.event("snapshot_gone", role=role, name=snapshot)
            return None

    def _start(self, spec: SandboxSpec, role: str, source: str) -> Sandbox:
        try:
            box = self.provider.start(spec)
        except InfraError as exc:
            if exc.kind == FaultKind.IMAGE_MISSING and spec.image == self.settings.image:
                raise image_gone(self.settings, exc) from exc
            raise
        self.envs[box.name] = dict(spec.env)
        self.setup_from.setdefault(role, source)
        self.images.setdefault(role, spec.image)
        self.log.event("sandbox", role=role, name=box.name, image=spec.image, setup=source)
        try:
            setup.wait_until_ready(box, self.task, self.settings.sandbox.setup_timeout_s)
        except BaseException:
            save_logs(box, self.folder / f"{role}-sandbox.log")
            box.remove()
            raise
        return box

    def fresh(self, role: str) -> Sandbox:
        """A new app container of the task, set up (cold or from its snapshot), holding no
        test (a judge container runs them: `run.judge`) and cut off the network once set up
        (upstream grades offline)."""
        grader = self.ready(role)
        try:
            drop_tests(grader)
            grader.disconnect_network()
            self.keeps[grader.name] = grader.process_ids()
        except BaseException:
            save_logs(grader, self.folder / f"{role}-sandbox.log")
            grader.remove()
            raise
        return grader

    def patch(self, changes: Sequence[tuple[str, int]] | None = None) -> str:
        """The agent's change now, computed on the host (see `benchmark.patch`)."""
        return self.read_change(changes).patch()

    def read_change(self, changes: Sequence[tuple[str, int]] | None = None) -> ReadChange:
        """The files of the agent's change, read now; its `patch()` needs the host alone."""
        assert self.sandbox is not None and self.patch_base is not None
        if self.reference is None:
            # The files the agent's container started from: a snapshot holds setup's changes,
            # which the engine's change list (the patch's source) counts as the image's own.
            marks = labels(self.settings, self.task, self.attempt, "reference")
            image = self.images.get("agent", self.settings.image)
            self.reference = ImageReference(
                self.sandbox, lambda: self.provider.reference(image, marks)
            )
        workdir = Path(tempfile.mkdtemp(prefix="patch-", dir=self.scratch))
        return read_change(self.sandbox, self.reference, self.patch_base, workdir, changes=changes)

    def remember_start(self, changes: Sequence[tuple[str, int]]) -> None:
        """Note what setup changed (the engine's list, read before the agent's turn; see
        `replaced_since_start`). A list read earlier than the turn's start only holds less of
        the harness's own steps, which can only make more paths count as the agent's."""
        assert self.sandbox is not None
        self.start_changes = dict(changes)
        for path in replaced_tools(self.start_changes.items()):
            self.start_digests[path] = self._digest(path)

    def replaced_since_start(self, changes: Sequence[tuple[str, int]]) -> list[str]:
        """Programs, startup files and the tests' Python that the agent changed, from the
        engine's record and the archive API (nothing runs in the container)."""
        new = [(p, k) for p, k in changes if self.start_changes.get(p) != k]
        found = set(replaced_tools(new))
        python = python_changed(new)
        if python:
            found.add(f"{python[0]} (and {len(python) - 1} more files of the tests' Python)")
        found.update(p for p, d in self.start_digests.items() if self._digest(p) != d)
        return sorted(found)

    def _digest(self, path: str) -> str:
        assert self.sandbox is not None
        try:
            return hashlib.sha256(self.sandbox.read_file(path, limit=10_000_000)).hexdigest()
        except (FileNotFoundError, IsADirectoryError):
            return "absent"
        except InfraError as exc:
            return f"unreadable: {exc.kind}"

    def agent_processes_running(self) -> bool:
        """Whether the engine lists a process in the agent's container that was not there when
        its turn began (True when the engine cannot say)."""
        assert self.sandbox is not None
        try:
            return any(pid not in self.keep_engine for pid in self.sandbox.engine_processes())
        except InfraError:
            return True

    def stop_agent_processes(self) -> list[str]:
        """Kill what the agent left running; the command lines of what survived, as the engine
        (not the container) lists them. Nothing runs in the container when the engine lists
        nothing to kill."""
        assert self.sandbox is not None
        if not self.agent_processes_running():
            return []
        with contextlib.suppress(InfraError):
            self.sandbox.kill_processes_except(self.keep)
        survivors = self.sandbox.engine_processes()
        return [cmd for pid, cmd in survivors.items() if pid not in self.keep_engine]

    def close(self) -> None:
        if self.reference is not None:
            with contextlib.suppress(InfraError):
                self.reference.remove()
        if self.sandbox is not None:
            save_logs(self.sandbox, self.folder / "sandbox.log")
            with contextlib.suppress(InfraError):
                self.sandbox.remove()
        shutil.rmtree(self.scratch, ignore_errors=True)


class ImageReference:
    """The files the agent's container started from, for the patch's base: read from its
    image's layers where the sandbox can (`image_copy_out`), else from a container of that
    image that never starts, made the first time it is needed."""

    def __init__(self, sandbox: Sandbox, make: Callable[[], Sandbox]) -> None:
        self.name = f"the image of {sandbox.name}"
        self._image_of = sandbox
        self._make = make
        self._box: Sandbox | None = None
        self._lock = threading.Lock()

    def copy_out(self, src: str, dest: Path, limits: CopyLimits | None = None) -> CopyReport:
        report = self._image_of.image_copy_out(src, dest, limits)
        if report is not None:
            return report
        return self._container().copy_out(src, dest, limits)

    def _container(self) -> Sandbox:
        with self._lock:
            if self._box is None:
                self._box = self._make()
            return self._box

    def remove(self) -> None:
        if self._box is not None:
            self._box.remove()


def image_gone(settings: AttemptSettings, exc: InfraError) -> InfraError:
    """The run's image removed from the engine while the run goes on: never replaced by what
    its name gives now (that may be another image), so every later attempt is an error too."""
    if not settings.pinned:
        return exc
    return InfraError(
        f"the image {settings.shown_image()} this run resolved before its first attempt is no "
        "longer on the engine (removed during the run); the run does not start containers "
        f"from what the name {settings.image_name} gives now. Stop the run and resume it with "
        "--allow-image-change (or use another --run-id) to go on with the image the name gives."
        f" (the engine said: {exc})",
        kind=FaultKind.IMAGE_MISSING,
        retryable=False,
    )


def save_logs(sandbox: Sandbox, path: Path) -> None:
    """Keep what the sandbox's main process printed; a courtesy that never stops removal."""
    with contextlib.suppress(Exception):
        path.write_text(sandbox.logs(), encoding="utf-8")
