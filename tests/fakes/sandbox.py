"""A fast, in-process fake of the sandbox seam (`swelancer.sandbox.base`), so that the attempt,
the runner and grading are tested without Docker.

`FakeProvider(image, ...)` makes `FakeSandbox`es from `FakeImage`s: an image is a file tree
(`FakeFS`), the hidden test of each task folder (`FakeTest`: a Python predicate over the
sandbox decides what "pytest" gives), the git revisions `git reset --hard` knows, and how its
entry point sets up (upstream's `run.sh`: IC containers write `/setup_done.txt`, manager
containers set up nothing). `exec` understands exactly the commands of
`tests.fakes.sandbox_upstream.COMMANDS` plus those a test adds with `provider.on(...)`; any
other command raises `UnknownCommand` (and is listed in `provider.unknown`).

Faults are injected with `provider.inject(on, action, ...)`: `on` is a command's name
("playbook", "fresh_history", "gold_patch", ...) or a sandbox operation ("start",
"read_file", "write_file", "copy_in", "copy_out", "changes", "alive", "logs"); `action` is
`raise` (an `InfraError` of `kind`), `die` (the container stops: `container_gone`),
`outside` (the same, stopped by a request to the engine that its witness reports: `message`),
`engine_down` (every later call fails as with no engine), `timeout` (the command is killed
at its timeout), `fail` (the command exits `exit_code`), `block` (the command runs until its
sandbox is removed), `bug` (an unexpected exception, as a bug of the harness would raise) or
`call` (runs `then(box)` first, then the command). A fault fires `times` times (None: always),
only in sandboxes of `role` and of `task` (a task id) when given.

Images set up as `run.sh` does (`setup="run.sh"`), never finish (`"hang"`) or stop the
container (`"crash"`); `setup_polls` readings of the marker find it missing before it appears.

Typical use (images and tasks come from `tests.fakes.sandbox_images`)::

    provider = FakeProvider(task_image(ic=["101"], managers=["0df39e7"]))
    record = run_try(ic_task("101"), 1, settings, OracleAgent(), folder, provider=provider)
    assert record.status == "passed" and provider.live() == []
"""

from __future__ import annotations

import hashlib
import itertools
import posixpath
import re
import shlex
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.archive import CopyLimits, CopyReport, extract, top_name
from swelancer.sandbox.base import ExecResult, SandboxSpec, StopCause
from swelancer.sandbox.engine import DEMO_IMAGE
from tests.fakes.sandbox_fs import FakeFS
from tests.fakes.sandbox_upstream import (
    ALIAS,
    BASH_I_NOISE,
    COMMANDS,
    Call,
    Command,
    git_apply,
    parse,
)

SETUP_MARKER = "/setup_done.txt"
ENGINE_PID_OFFSET = 40_000
"""The engine lists a container's processes by host pid: never the pids seen inside."""


_STEP = re.compile(r"(?P<argv>(sh|bash) .+) \|\| (?P<then>exit \$\?|exit \d+|rm -f \S+)")


def _steps(call: Any) -> list[tuple[list[str], str]] | None:
    """The commands of a `shell.steps` script, or None when `call` is not one."""
    if call.shell != "sh" or " || " not in call.line:
        return None
    found = [_STEP.fullmatch(line) for line in call.line.split("\n")]
    if not all(found):
        return None
    return [(shlex.split(m["argv"]), m["then"]) for m in found if m]


class UnknownCommand(AssertionError):
    """The harness sent a command the fake does not know: its vocabulary changed."""


class FakeBug(RuntimeError):
    """An unexpected exception (as a bug of the harness would raise)."""


@dataclass
class FakeTest:
    """The hidden test of one task folder. `verdict(box)` is what pytest finds: True (exit 0),
    False (exit 1), another exit code, or None (the playbook stops before pytest: the build or
    the dev server failed, and no `pytest_exit_code` is written)."""

    verdict: Callable[[FakeSandbox], bool | int | None]
    log: Callable[[FakeSandbox, int], str] | None = None
    """pytest's output after its `collected` line for a run exiting with the given code, in
    place of one test's PASSED/FAILED/ERROR line and summary."""


@dataclass
class FakeImage:
    """An image: its files, the hidden test of each task folder, and how it starts."""

    name: str
    fs: FakeFS
    tests: dict[str, FakeTest] = field(default_factory=dict)
    revisions: dict[str, dict[str, bytes | str | None]] = field(default_factory=dict)
    """What `git reset --hard REV` writes (None deletes), relative to the repository."""
    setup: str = "run.sh"  # run.sh | hang | crash
    setup_polls: int = 0
    runtime_setup: bool = False
    """Set up at start as the unified image (RUNTIME_SETUP): the task's bug patch is applied
    by the entry point; else the repository holds the bugs already (set up at build)."""
    cwd: str = "/app/expensify"
    id: str = ""
    """The engine's id of the image; unique to each image made when not given."""

    def __post_init__(self) -> None:
        if not self.id:
            self.id = "sha256:" + hashlib.sha256(f"{self.name}\0{id(self)}".encode()).hexdigest()


@dataclass
class Fault:
    """A fault to inject (see the module's docstring); `hits` counts how often it fired."""

    on: str
    action: str = "raise"
    kind: FaultKind = FaultKind.DOCKER
    times: int | None = 1
    role: str | None = None
    task: str | None = None
    retryable: bool = True
    exit_code: int = 1
    message: str = "injected fault"
    then: Callable[[FakeSandbox], None] | None = None
    hits: int = 0


@dataclass
class FakeProcess:
    """A process in a fake container; one that is not `killable` survives every kill."""

    cmd: str
    killable: bool = True


class FakeSandbox:
    """One fake container (see the module's docstring)."""

    def __init__(
        self,
        provider: FakeProvider,
        image: FakeImage,
        spec: SandboxSpec,
        *,
        reference: bool = False,
    ) -> None:
        self.provider, self.image, self.spec = provider, image, spec
        self.labels = dict(spec.labels)
        self.role = self.labels.get("swelancer.role", "reference" if reference else "agent")
        self.name = f"fake-{self.role}-{provider.next_id()}"
        self.env = dict(spec.env)
        self.fs = image.fs.clone()
        self.reference = reference
        self.running = not reference
        self.removed = False
        self.removed_event = threading.Event()
        self.online = True
        self.procs: dict[int, FakeProcess] = {}
        self._pids = itertools.count(1)
        self.log_lines: list[str] = []
        self.ran: list[tuple[str, bool]] = []
        """(command name, whether the network was connected) of every exec, in order."""
        self.ops: list[str] = []
        """Every call made to this sandbox, in order: an operation's name (`changes`,
        `copy_out`, ...) or, for an exec, its command's name."""
        self.marker_reads = 0
        self.outside: tuple[int, str] | None = None
        """When and how the fake engine was asked, by someone else, to stop it."""
        self._misses_left: int | None = None
        if not reference:
            self._entrypoint()

    # -- upstream's run.sh ------------------------------------------------------------------

    def _entrypoint(self) -> None:
        say = self.log_lines.append
        self.spawn("/sbin/docker-init -- /app/run.sh", killable=False)
        self.spawn("/bin/bash /app/run.sh", killable=False)
        if self.env.get("EVAL_VARIANT") == "swe_manager":
            say(
                "EVAL_VARIANT is set to swe_manager. Skipping setup steps. The evaluation will "
                "check out the necessary commit."
            )
            self.spawn("tail -f /dev/null", killable=False)
            return
        for line, daemon in [
            ("Starting Xvfb on display :99...", "Xvfb :99 -screen 0 1920x1080x24"),
            ("Starting Fluxbox window manager...", "fluxbox"),
            ("Starting x11vnc server...", "x11vnc -display :99 -forever -rfbport 5900"),
            ("Starting NoVNC...", "websockify --web=/usr/share/novnc/ 5901 localhost:5900"),
            ("Starting Pusher-Fake service...", "pusher-fake --web-port 57004"),
        ]:
            say(line)
            self.spawn(daemon, killable=False)
        self.fs.append("/etc/hosts", "127.0.0.1 ws-mt1.pusher.com\n")
        self.spawn("nginx: master process nginx -g daemon off;", killable=False)
        self.fs.append("/root/.bashrc", ALIAS + "\n")
        if self.image.setup == "crash":
            say("fatal: [localhost]: FAILED! => setup_expensify.yml: npm install failed")
            self.die()
            return
        if self.image.runtime_setup:
            say("RUNTIME_SETUP is set; running Expensify setup playbook…")
            patch = f"/app/tests/issues/{self.env.get('ISSUE_ID')}/bug_reintroduce.patch"
            if self.fs.is_file(patch):
                git_apply(self.fs, self.image.cwd, self.fs.read(patch))
        else:
            say("RUNTIME_SETUP is not set; assuming Expensify setup happened at build time.")
        if self.image.setup == "hang":
            return
        self._misses_left = self.image.setup_polls
        if not self._misses_left:
            self._setup_step()

    def _setup_step(self) -> None:
        if self._misses_left is None:
            return
        if self._misses_left > 0:
            self._misses_left -= 1
            return
        self.fs.write(SETUP_MARKER, "done\n")
        self.spawn("tail -f /dev/null", killable=False)
        self._misses_left = None

    # -- processes ----------------------------------------------------------------------------

    def spawn(self, cmd: str, *, killable: bool = True) -> int:
        pid = next(self._pids)
        self.procs[pid] = FakeProcess(cmd, killable)
        return pid

    def kill_matching(self, text: str) -> None:
        for pid, proc in list(self.procs.items()):
            if pid != 1 and text in proc.cmd and proc.killable:
                del self.procs[pid]

    def die(self) -> None:
        """The container stops (its init died, or it outgrew its memory)."""
        self.running = False
        self.procs.clear()

    # -- the protocol -------------------------------------------------------------------------

    def _check(self, op: str, *, running: bool = False) -> ExecResult | None:
        self.ops.append(op)
        self.provider.engine()
        if self.removed:
            raise InfraError(f"No such container: {self.name}", kind=FaultKind.CONTAINER_GONE)
        if running and not self.running:
            raise InfraError(f"container {self.name} is not running", kind=FaultKind.CONTAINER_GONE)
        fault = self.provider.fault_for(op, self.role, self.labels.get("swelancer.task_id"))
        return self._act(fault, op) if fault is not None else None

    def _act(self, fault: Fault, op: str) -> ExecResult | None:
        message = f"{fault.message} ({op} in {self.name})"
        if fault.action == "raise":
            raise InfraError(message, kind=fault.kind, retryable=fault.retryable)
        if fault.action == "die":
            self.die()
            raise InfraError(
                f"container {self.name} stopped: {message}", kind=FaultKind.CONTAINER_GONE
            )
        if fault.action == "outside":  # e.g. `docker kill` by another user of the engine
            self.die()
            self.outside = (time.time_ns(), fault.message)
            raise InfraError(
                f"container {self.name} is not running: {message}", kind=FaultKind.CONTAINER_GONE
            )
        if fault.action == "engine_down":
            self.provider.engine_up = False
            raise InfraError(message, kind=fault.kind)
        if fault.action == "bug":
            raise FakeBug(message)
        if fault.action == "timeout":
            return ExecResult(exit_code=124, output="", timed_out=True)
        if fault.action == "fail":
            return ExecResult(exit_code=fault.exit_code, output=fault.message)
        if fault.action == "block":
            self.removed_event.wait(10)
            raise InfraError(f"No such container: {self.name}", kind=FaultKind.CONTAINER_GONE)
        if fault.action == "call" and fault.then is not None:
            fault.then(self)
            return None
        raise ValueError(f"unknown fault action {fault.action!r}")

    def exec(
        self,
        cmd: str | list[str],
        *,
        timeout: float | None = None,
        workdir: str | None = None,
        env: dict[str, str] | None = None,
    ) -> ExecResult:
        call = parse(cmd, workdir, {**self.env, **(env or {})})
        parts = _steps(call)
        if parts is not None:
            return self._run_steps(parts, timeout=timeout, workdir=workdir, env=env)
        if self.reference:
            raise UnknownCommand(f"{self.name} is a reference: nothing runs in it ({call.line!r})")
        self.provider.engine()
        if self.removed or not self.running:
            gone = "No such container" if self.removed else "container is not running"
            raise InfraError(f"{gone}: {self.name}", kind=FaultKind.CONTAINER_GONE)
        command, match = self.provider.resolve(call)
        self.ran.append((command.name, self.online))
        injected = self._check(command.name, running=True)
        if injected is not None:
            return injected
        code, output = command.run(self, call, match)
        if call.shell == "bash -i":
            output = BASH_I_NOISE + output
        return ExecResult(exit_code=code, output=output)

    def _run_steps(self, parts: list[tuple[list[str], str]], **options: Any) -> ExecResult:
        """`shell.steps`: each command run as an exec of its own, then its failure handled."""
        output = ""
        for argv, on_failure in parts:
            done = self.exec(argv, **options)
            output += done.output
            if done.ok:
                continue
            if on_failure == "exit $?":
                return ExecResult(exit_code=done.exit_code, output=output)
            if on_failure.startswith("exit "):
                return ExecResult(exit_code=int(on_failure[5:]), output=output)
            self.exec(shlex.split(on_failure), **options)
        return ExecResult(exit_code=0, output=output)

    def write_file(self, path: str, data: bytes | str, mode: int = 0o644) -> None:
        self._check("write_file")
        if self.fs.is_dir(path):
            raise InfraError(f"{path} is a folder", kind=FaultKind.COPY_FAILED)
        folder = posixpath.dirname(path) or "/"
        made = self.fs.node(folder) is not None or self.fs.resolve(folder) != folder
        if made and not self.fs.is_dir(folder):  # as the engine: a link to nothing, a file
            raise InfraError(
                f"Could not write {path} in {self.name}: not a folder", kind=FaultKind.COPY_FAILED
            )
        self.fs.write(path, data, mode)

    def read_file(self, path: str, limit: int | None = None) -> bytes:
        self._check("read_file")
        if path == SETUP_MARKER:
            self.marker_reads += 1
            self._setup_step()
        data = self.fs.read(path)
        if limit is not None and len(data) > limit:
            raise InfraError(
                f"{path} holds {len(data):,} bytes, more than {limit:,}", kind=FaultKind.TOO_LARGE
            )
        return data

    def copy_in(self, src: Path, dest: str) -> None:
        self._check("copy_in")
        if not Path(src).exists():
            raise FileNotFoundError(str(src))
        folder = posixpath.dirname(dest) or "/"
        made = self.fs.node(folder) is not None or self.fs.resolve(folder) != folder
        if made and not self.fs.is_dir(folder):  # as the engine: a link to nothing, a file
            raise InfraError(
                f"Could not copy files to {folder} in {self.name}: not a folder",
                kind=FaultKind.COPY_FAILED,
            )
        self.fs.put_host(Path(src), dest)

    def copy_out(self, src: str, dest: Path, limits: CopyLimits | None = None) -> CopyReport:
        self._check("copy_out")
        dest = Path(dest).absolute()
        if dest.exists() or dest.is_symlink():
            raise FileExistsError(str(dest))
        stream = self.fs.archive(src)
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            return extract(tar, tar, dest, top_name(src), limits or CopyLimits())

    def changes(self) -> list[tuple[str, int]]:
        self._check("changes")
        return self.fs.changes()

    def engine_processes(self) -> dict[int, str]:
        self._check("engine_processes", running=True)  # `docker top` needs it running
        return {pid + ENGINE_PID_OFFSET: p.cmd for pid, p in self.procs.items()}

    def image_copy_out(
        self, src: str, dest: Path, limits: CopyLimits | None = None
    ) -> CopyReport | None:
        return None  # as an engine elsewhere: a container of the image is asked

    def disconnect_network(self) -> None:
        self._check("disconnect_network")
        self.online = False

    def connect_network(self) -> None:
        self._check("connect_network")
        self.online = True

    def process_ids(self) -> set[int]:
        self._check("process_ids", running=True)
        return set(self.procs)

    def kill_processes_except(self, keep: set[int]) -> int:
        self._check("kill_processes_except", running=True)
        doomed = [p for p, proc in self.procs.items() if p != 1 and p not in keep and proc.killable]
        for pid in doomed:
            del self.procs[pid]
        return len(doomed)

    def alive(self) -> bool:
        self._check("alive")
        return self.running

    def logs(self) -> str:
        self._check("logs")
        return "".join(f"{line}\n" for line in self.log_lines)

    def remove(self) -> None:
        self.provider.engine()
        if self.removed:
            return
        self.removed, self.running = True, False
        self.removed_event.set()

    def __repr__(self) -> str:
        return f"FakeSandbox({self.name!r}, image={self.image.name!r})"


class FakeProvider:
    """Makes fake sandboxes of its images and keeps every one it made (`sandboxes`)."""

    name = "fake"

    def __init__(self, *images: FakeImage, snapshots: bool = False) -> None:
        self.images = {image.name: image for image in images}
        self._by_id: dict[str, FakeImage] = {}
        self.stores: list[FakeSnapshotStore] = []
        self.snapshots = snapshots
        """Whether it keeps snapshots (`snapshot_store` gives a store) or none."""
        self.sandboxes: list[FakeSandbox] = []
        self.faults: list[Fault] = []
        self.commands: list[Command] = list(COMMANDS)
        self.apps: list[Callable[[FakeSandbox, bool], None]] = []
        """The agent's code as it runs during a test run: (sandbox, traced)."""
        self.unknown: list[str] = []
        self.engine_up = True
        self.prepared: list[list[str]] = []
        self.demo_build: tuple[list[str], str | None] | None = None
        """When set, `prepare_images` builds the demo image first: the lines it says and the
        engine's error (None: it succeeds), as `sandbox.docker.images.ensure_images` does."""
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    # -- set-up of a test -----------------------------------------------------------------------

    def inject(self, on: str, action: str = "raise", **options: Any) -> Fault:
        fault = Fault(on=on, action=action, **options)
        self.faults.append(fault)
        return fault

    def on(
        self,
        name: str,
        pattern: str,
        run: Callable[[FakeSandbox, Call, re.Match[str]], tuple[int, str]],
        shells: tuple[str | None, ...] = ("bash -i",),
    ) -> None:
        """Teach sandboxes one more command (an agent's, usually); it is matched first."""
        self.commands.insert(0, Command(name, pattern, run, shells))

    # -- what the fake uses -------------------------------------------------------------------

    def engine(self) -> None:
        if not self.engine_up:
            raise InfraError(
                "Cannot connect to the Docker daemon (the fake engine is down)",
                kind=FaultKind.DOCKER_UNAVAILABLE,
            )

    def fault_for(self, op: str, role: str, task: str | None) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.on != op or fault.role not in (None, role):
                    continue
                if fault.task not in (None, task):
                    continue
                if fault.times is not None and fault.hits >= fault.times:
                    continue
                fault.hits += 1
                return fault
        return None

    def resolve(self, call: Call) -> tuple[Command, re.Match[str]]:
        for command in self.commands:
            if call.shell in command.shells:
                match = command.pattern.fullmatch(call.line)
                if match:
                    return command, match
        with self._lock:
            self.unknown.append(f"{call.shell or 'argv'}: {call.line}")
        raise UnknownCommand(
            f"the fake sandbox does not know {call.shell or 'argv'}: {call.line!r}"
        )

    def live(self) -> list[FakeSandbox]:
        with self._lock:
            return [box for box in self.sandboxes if not box.removed]

    def by_name(self, name: str) -> FakeSandbox | None:
        with self._lock:
            return next((box for box in self.sandboxes if box.name == name), None)

    def made(self, role: str) -> list[FakeSandbox]:
        with self._lock:
            return [box for box in self.sandboxes if box.role == role]

    # -- the SandboxProvider protocol -------------------------------------------------------------

    def _image(self, name: str) -> FakeImage:
        """The image a name (a tag) names now, or the image of an id, as the engine finds
        either; an image moved off its tag stays reachable by its id (see `retag`)."""
        found = self.images.get(name) or self._by_id.get(name)
        if found is None:
            for image in self.images.values():
                if image.id == name:
                    return image
            raise InfraError(
                f"image {name} is not present", kind=FaultKind.IMAGE_MISSING, retryable=False
            )
        return found

    def retag(self, name: str, image: FakeImage) -> None:
        """Point the tag `name` at `image`, as `docker tag` or a rebuild does; the image the
        tag named stays present under its id."""
        with self._lock:
            old = self.images.get(name)
            if old is not None:
                self._by_id[old.id] = old
            self.images[name] = image

    def remove_image(self, name_or_id: str) -> None:
        """Remove an image from the engine: its tag and its id."""
        image = self._image(name_or_id)
        with self._lock:
            self._by_id.pop(image.id, None)
            for tag in [t for t, i in self.images.items() if i is image]:
                del self.images[tag]

    def start(self, spec: SandboxSpec) -> FakeSandbox:
        self.engine()
        role = spec.labels.get("swelancer.role", "agent")
        fault = self.fault_for("start", role, spec.labels.get("swelancer.task_id"))
        if fault is not None:
            raise InfraError(
                f"{fault.message} (start of {role})", kind=fault.kind, retryable=fault.retryable
            )
        box = FakeSandbox(self, self._image(spec.image), spec)
        with self._lock:
            self.sandboxes.append(box)
        return box

    def reference(self, image: str, labels: dict[str, str]) -> FakeSandbox:
        """Of a task with a snapshot, the snapshot (as the Docker provider does): a container
        from it does not list setup's changes, so the patch's base is read there."""
        self.engine()
        task_id = labels.get("swelancer.task_id")
        if self.stores and task_id:
            image = self.stores[-1].find(image, task_id) or image
        spec = SandboxSpec(image=image, labels={**labels, "swelancer.role": "reference"})
        box = FakeSandbox(self, self._image(image), spec, reference=True)
        with self._lock:
            self.sandboxes.append(box)
        return box

    def remove_run(self, run_id: str) -> list[str]:
        self.engine()
        gone = [b for b in self.live() if b.labels.get("swelancer.run_id") == run_id]
        for box in gone:
            box.remove()
        return [box.name for box in gone]

    def prepare_images(
        self, images: list[str], *, build_demo: bool, on_line: Callable[[str], None]
    ) -> dict[str, str]:
        self.engine()
        self.prepared.append(list(images))
        build = self.demo_build
        if build is not None and build_demo and DEMO_IMAGE in images:
            self.demo_build = None  # built once, as the engine would be
            lines, error = build
            on_line(f"building {DEMO_IMAGE} (first use; takes a few minutes)")
            for line in lines:
                on_line(line)
            if error is not None:
                raise InfraError(
                    f"building {DEMO_IMAGE} failed: {error}", kind=FaultKind.IMAGE_BUILD
                )
        return {name: self._image(name).id for name in images}

    def facts(self) -> dict[str, Any]:
        return {"version": "fake", "arch": "x86_64", "os": "linux"}

    def witness(self, run_id: str) -> FakeWitness:
        return FakeWitness(self)

    def forget_run(self, run_id: str) -> None:
        pass

    def snapshot_store(
        self, run_id: str, budget: str | None, keep: bool
    ) -> FakeSnapshotStore | None:
        if not self.snapshots:
            return None
        store = FakeSnapshotStore(self, keep=keep)
        self.stores.append(store)
        return store


class FakeWitness:
    """The engine's report of its sandboxes' stops: from outside for those an `outside` fault
    stopped, else by themselves."""

    def __init__(self, provider: FakeProvider) -> None:
        self.provider = provider

    def cause(self, sandbox: FakeSandbox, *, wait: float = 3.0) -> StopCause:
        if sandbox.outside is not None:
            return StopCause(True, sandbox.outside[1])
        return StopCause(False, "its main process exited and the engine was asked nothing")

    def outside_since(self, marks: dict[str, str], since_ns: int) -> str | None:
        for box in list(self.provider.sandboxes):
            if any(box.labels.get(k) != v for k, v in marks.items()):
                continue
            if box.outside is not None and box.outside[0] >= since_ns:
                return f"{box.name}: {box.outside[1]}"
        return None


class FakeSnapshotStore:
    """Post-setup snapshots (the interface of `sandbox.docker.snapshots.SnapshotStore`): `make`
    commits a set-up container's files, the marker removed, as an image whose containers start
    as a per-task image does (run.sh starts the services and writes the marker again)."""

    def __init__(self, provider: FakeProvider, keep: bool = False) -> None:
        self.provider, self.keep = provider, keep
        self.made: dict[tuple[str, str], str] = {}
        self.notes: list[str] = []
        self._lock = threading.Lock()

    def _key(self, base_image: str, task_id: str) -> tuple[str, str] | None:
        """Keyed by the base image's id, as the engine's store is (a gone base has none)."""
        try:
            return self.provider._image(base_image).id, task_id
        except InfraError:
            return None

    def find(self, base_image: str, task_id: str) -> str | None:
        key = self._key(base_image, task_id)
        return self.made.get(key) if key is not None else None

    @contextmanager
    def first(self, base_image: str, task_id: str) -> Iterator[str | None]:
        with self._lock:  # one commit at a time; who waited finds the snapshot made
            yield self.find(base_image, task_id)

    def make(
        self, sandbox: FakeSandbox, base_image: str, task_id: str, base_name: str | None = None
    ) -> str | None:
        fs = sandbox.fs.clone()
        fs.remove(SETUP_MARKER)
        fs.mark()
        base = self.provider._image(base_image)
        name = f"swelancer-snapshot/{task_id}:{len(self.made) + 1}"
        self.provider.images[name] = FakeImage(
            name, fs, tests=base.tests, revisions=base.revisions, cwd=base.cwd
        )
        self.made[(base.id, task_id)] = name
        self.notes.append(f"made {name}")
        return name

    def finish(self) -> list[str]:
        if self.keep:
            return []
        names = list(self.made.values())
        for name in names:
            self.provider.images.pop(name, None)
        self.notes.append(f"removed {len(names)} snapshots")
        return names
