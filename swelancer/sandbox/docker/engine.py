"""DockerSandbox: the Sandbox protocol on a local (or remote) Docker engine, via the docker SDK.

The SDK is imported inside functions only, so that importing this module (and `swelancer --help`)
stays cheap. Every fault of the engine is raised as `InfraError` with one of these kinds:

- `docker_unavailable`: the daemon does not answer (not running, wrong DOCKER_HOST, died).
- `image_missing`: the image is not on the engine.
- `container_gone`: the container was removed or stopped under our feet.
- `copy_failed`: a file could not be copied in or out.
- `docker`: any other error of the Docker API (its message is kept).

Commands given a `timeout` run in a process group of their own and carry a marker in their
environment; when the time is up, every process of the group and every process carrying the
marker gets SIGTERM, then SIGKILL after `kill_grace` seconds. The container itself lives on.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import re
import secrets
import socket
import tarfile
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swelancer.errors import InfraError
from swelancer.sandbox.archive import CopyLimits, CopyReport, extract, top_name
from swelancer.sandbox.base import ExecResult

if TYPE_CHECKING:
    from types import TracebackType

    from docker.client import DockerClient
    from docker.models.containers import Container

__all__ = [
    "TIMEOUT_EXIT_CODE",
    "DockerSandbox",
    "docker_client",
    "find_containers",
    "remove_containers",
]

LABEL = "swelancer"
"""Every container this package starts carries the label `swelancer=1`."""

DEFAULT_CAP_DROP = ("MKNOD", "NET_RAW", "SETFCAP", "SYS_CHROOT", "AUDIT_WRITE")
"""Capabilities of Docker's default set that no task needs (the contract image runs every
upstream step without them): device nodes, raw sockets, file capabilities, chroot, audit."""

_STORAGE_OPT: dict[str, bool] = {}
"""Per engine: whether its storage driver takes a size cap (learned at the first try)."""


def _client_key(client: Any) -> str:
    return str(getattr(getattr(client, "api", None), "base_url", id(client)))


def _storage_opt_supported(client: Any) -> bool | None:
    return _STORAGE_OPT.get(_client_key(client))


TIMEOUT_EXIT_CODE = 124
"""`ExecResult.exit_code` of a command killed when its timeout passed (as coreutils `timeout`)."""

_MARKER_ENV = "SWELANCER_EXEC_ID"
_DEFAULT_SOCKET = "unix:///var/run/docker.sock"

# A command with a timeout runs as `sh -c _LAUNCHER _WRAPPER <pgid file> <argv...>`. The launcher
# starts the wrapper in a new session (so a new process group) and silences `setsid`'s own note
# about a killed child; the wrapper writes its pgid to the file and runs the command.
_LAUNCHER = (
    "command -v setsid >/dev/null 2>&1 || "
    '{ echo "setsid (util-linux) is needed to run a command with a timeout" >&2; exit 127; }; '
    'exec setsid -w /bin/sh -c "$0" "$@" 2>/dev/null'
)
# Only shell builtins after the command: nothing found through the container's PATH (which the
# agent may have filled with look-alikes) runs on the harness's behalf.
_WRAPPER = '{ echo $$ >"$0"; } 2>/dev/null; exec 2>&1; "$@"'

# Kills what one timed-out command started: $1 = pgid file, $2 = marker, $3 = grace tenths.
_KILLER = r"""
f=$1; m=$2; n=$3; i=0
while [ ! -s "$f" ] && [ "$i" -lt 10 ]; do sleep 0.1; i=$((i+1)); done
g=$(cat "$f" 2>/dev/null)
pids() {
  grep -lsaF "$m" /proc/[0-9]*/environ 2>/dev/null | sed -n 's,^/proc/\([0-9]*\)/environ$,\1,p'
}
hit() {
  [ -n "$g" ] && kill -s "$1" -- "-$g" 2>/dev/null
  p=$(pids); [ -n "$p" ] && kill -s "$1" $p 2>/dev/null
}
alive() { [ -n "$(pids)" ] || { [ -n "$g" ] && kill -0 -- "-$g" 2>/dev/null; }; }
hit TERM
i=0
while [ "$i" -lt "$n" ] && alive; do sleep 0.1; i=$((i+1)); done
hit KILL
exit 0
"""


# ---------------------------------------------------------------------------------------------
# Client and errors


def _docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or _DEFAULT_SOCKET


def _unavailable(host: str, detail: object) -> InfraError:
    return InfraError(
        f"The Docker daemon is not running or not reachable at {host}. Start Docker "
        "(Docker Desktop on macOS/Windows, `sudo systemctl start docker` on Linux), or point "
        "DOCKER_HOST at a running engine, then check with `docker info`. "
        f"(Docker said: {detail})",
        kind="docker_unavailable",
    )


def _cli_context() -> Any:
    """The docker CLI's current context when it is not the default one (Colima, Desktop, ...)."""
    try:
        from docker.context import ContextAPI

        context = ContextAPI.get_current_context()
    except Exception:
        return None
    if context is None or context.name == "default" or not context.Host:
        return None
    return context


def docker_client(timeout: int = 120) -> DockerClient:
    """A client for the engine named by DOCKER_HOST (else the docker CLI's context, else the
    default socket); `InfraError(kind="docker_unavailable")` when that engine does not answer."""
    import docker

    context = None if os.environ.get("DOCKER_HOST") else _cli_context()
    shown = context.Host if context else _docker_host()
    try:
        if context:
            client = docker.DockerClient(
                base_url=context.Host, tls=context.TLSConfig or False, timeout=timeout
            )
        else:
            client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as err:  # DockerException, or requests' errors when nobody answers
        raise _unavailable(shown, err) from err
    return client


def _infra_error(err: BaseException, doing: str) -> InfraError:
    """Turn an exception of the SDK (or of its HTTP layer) into an InfraError."""
    from docker.errors import APIError, NotFound

    if isinstance(err, InfraError):
        return err
    if isinstance(err, NotFound) and "network" not in _explain(err).lower():
        return InfraError(
            f"{doing}: the container is gone ({_explain(err)})", kind="container_gone"
        )
    if isinstance(err, APIError):
        message = _explain(err)
        if err.status_code == 409 and "not running" in message:
            return InfraError(f"{doing}: {message}", kind="container_gone")
        return InfraError(f"{doing}: Docker said: {message}", kind="docker")
    return _unavailable(_docker_host(), f"{doing}: {err}")


def _explain(err: Any) -> str:
    return str(getattr(err, "explanation", None) or err)


def _is_no_such_container(err: Any) -> bool:
    return "no such container" in _explain(err).lower()


def _sdk_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the engine failed us" (not a bug of ours)."""
    import requests
    from docker.errors import DockerException

    return (DockerException, requests.exceptions.RequestException, ConnectionError)


# ---------------------------------------------------------------------------------------------
# Names and labels


def _sanitize(part: str, max_len: int = 40) -> str:
    """A fragment allowed in a container name (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`)."""
    part = re.sub(r"[^a-zA-Z0-9_.-]+", "-", part).strip("-_.")
    return part[:max_len].strip("-_.")


def _make_name(labels: dict[str, str]) -> str:
    parts = ["swelancer"]
    for key in ("swelancer.run_id", "swelancer.task_id", "swelancer.run.attempt"):
        value = _sanitize(labels.get(key, ""))
        if value:
            parts.append(value)
    parts.append(secrets.token_hex(3))
    return "-".join(parts)


def _missing_image(image: str, err: object) -> InfraError:
    if "demo" in image:
        how = "Build it with `swelancer images build demo`."
    else:
        how = f"Get it with `docker pull {image}` (or build it)."
        if "swelancer_x86" in image:
            how += " Upstream SWE-Lancer images are x86-64 only and about 14 GB each."
    return InfraError(
        f"The Docker image {image!r} is not on this engine. {how} (Docker said: {_explain(err)})",
        kind="image_missing",
    )


# ---------------------------------------------------------------------------------------------
# Output that keeps its head and tail only


class _BoundedOutput:
    """Bytes of a stream, keeping at most `limit` of them: the first half and the last half."""

    def __init__(self, limit: int) -> None:
        self.head_limit = limit // 2
        self.tail_limit = limit - self.head_limit
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if not data or self.tail_limit <= 0:
            return
        self.tail.append(data)
        self.tail_size += len(data)
        while self.tail_size - len(self.tail[0]) >= self.tail_limit:
            self.tail_size -= len(self.tail.popleft())

    def text(self) -> tuple[str, bool]:
        """The kept output decoded as UTF-8 (bad bytes replaced), and whether some was dropped."""
        tail = b"".join(self.tail)
        if self.tail_limit > 0:
            tail = tail[-self.tail_limit :]
        dropped = self.total - len(self.head) - len(tail)
        if dropped <= 0:
            return (bytes(self.head) + tail).decode("utf-8", errors="replace"), False
        head = self.head.decode("utf-8", errors="replace")
        note = f"\n[... {dropped} bytes truncated ...]\n"
        return head + note + tail.decode("utf-8", errors="replace"), True


class _StreamReader(threading.Thread):
    """Reads the multiplexed output of one exec into a `_BoundedOutput`, in the background."""

    def __init__(self, sock: Any, output: _BoundedOutput) -> None:
        super().__init__(daemon=True, name="swelancer-exec-reader")
        self.sock = sock
        self.output = output
        self.error: BaseException | None = None

    def run(self) -> None:
        from docker.utils.socket import frames_iter

        try:
            for _stream, data in frames_iter(self.sock, tty=False):
                self.output.add(data)
        except BaseException as err:  # surfaced by the caller
            self.error = err


def _close_socket(sock: Any, *, shutdown: bool = False) -> None:
    """Close an exec's hijacked socket; `shutdown` also wakes a thread blocked reading it."""
    raw = getattr(sock, "_sock", sock)
    if shutdown:
        with contextlib.suppress(Exception):
            raw.shutdown(socket.SHUT_RDWR)
    for thing in (getattr(sock, "_response", None), sock):
        if thing is not None:
            with contextlib.suppress(Exception):
                thing.close()


class _Archive:
    """Chunks of one archive response; `close()` drops the response."""

    def __init__(self, response: Any, chunk_size: int = 1 << 20) -> None:
        self._response = response
        self._chunk_size = chunk_size

    def __iter__(self) -> Iterator[bytes]:
        yield from self._response.raw.stream(self._chunk_size, decode_content=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._response.close()

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (for streaming tar archives)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


# ---------------------------------------------------------------------------------------------
# The sandbox


class DockerSandbox:
    """One running container. Start it with `DockerSandbox.start(...)`; use it as a context
    manager (or call `remove()`) so that it is deleted when the attempt ends."""

    max_output_bytes: int = 1_000_000
    """Output of one `exec` (or `logs`) kept at most; its head and tail are kept around a note."""

    kill_grace: float = 2.0
    """Seconds between SIGTERM and SIGKILL when a command's timeout passes."""

    def __init__(
        self,
        container: Container,
        client: DockerClient,
        *,
        max_output_bytes: int | None = None,
    ) -> None:
        self.container = container
        self.client = client
        self.id: str = container.id or ""
        self.name: str = container.name or self.id
        if max_output_bytes is not None:
            self.max_output_bytes = max_output_bytes
        self._detached_networks: dict[str, list[str]] | None = None
        self.disk_limited = False

    # -- lifecycle ------------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        image: str,
        *,
        name: str | None = None,
        env: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        workdir: str | None = None,
        memory: int | str | None = None,
        cpus: float | None = None,
        pids_limit: int | None = None,
        shm_size: int | str | None = None,
        network: bool = True,
        command: list[str] | str | None = None,
        client: DockerClient | None = None,
        max_output_bytes: int | None = None,
        cap_drop: list[str] | None = None,
        no_new_privileges: bool = True,
        disk: str | None = None,
    ) -> DockerSandbox:
        """Start a detached container from `image` with its own entrypoint (and `command`, if
        given). `network=False` starts it cut off (it can be given the network later).
        Labels always include `swelancer=1`; the name is made unique when not given.

        Hardened by default: the capabilities in `cap_drop` (default `DEFAULT_CAP_DROP`) are
        dropped and no process may gain privileges (setuid binaries do not elevate). `disk`
        caps the container's writable layer (Docker's `--storage-opt size=`) where the
        storage driver allows it; where it does not, the container starts without the cap
        and `disk_limited` is False."""
        from docker.errors import ImageNotFound

        client = client or docker_client()
        all_labels = {LABEL: "1", **{k: str(v) for k, v in (labels or {}).items()}}
        name = name or _make_name(all_labels)
        options: dict[str, Any] = {
            "name": name,
            "detach": True,
            "environment": env or {},
            "labels": all_labels,
            "init": True,
            "privileged": False,
            "cap_drop": list(DEFAULT_CAP_DROP if cap_drop is None else cap_drop),
        }
        if no_new_privileges:
            options["security_opt"] = ["no-new-privileges"]
        if command is not None:
            options["command"] = command
        if workdir:
            options["working_dir"] = workdir
        if memory is not None:
            options["mem_limit"] = memory
        if cpus is not None:
            options["nano_cpus"] = int(cpus * 1e9)
        if pids_limit is not None:
            options["pids_limit"] = pids_limit
        if shm_size is not None:
            options["shm_size"] = shm_size
        disk_limited = False
        try:
            if disk and _storage_opt_supported(client) is not False:
                try:
                    container = client.containers.create(
                        image, storage_opt={"size": disk}, **options
                    )
                    disk_limited = True
                    _STORAGE_OPT[_client_key(client)] = True
                except ImageNotFound:
                    raise
                except _sdk_errors() as err:
                    if "storage" not in _explain(err).lower():
                        raise
                    _STORAGE_OPT[_client_key(client)] = False
            if not disk_limited:
                container = client.containers.create(image, **options)
        except ImageNotFound as err:
            raise _missing_image(image, err) from err
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not create a container from {image}") from err
        sandbox = cls(container, client, max_output_bytes=max_output_bytes)
        sandbox.disk_limited = disk_limited
        try:
            if not network:
                sandbox.disconnect_network()
            container.start()
        except BaseException as err:
            with contextlib.suppress(InfraError):
                sandbox.remove()
            if isinstance(err, _sdk_errors()):
                raise _infra_error(err, f"Could not start a container from {image}") from err
            raise
        return sandbox

    @classmethod
    def reference(
        cls, image: str, *, labels: dict[str, str] | None = None, client: DockerClient | None = None
    ) -> DockerSandbox:
        """A container created from `image` and never started: its files are the image's, to
        be read through the archive API (nothing runs in it). Remove it when done."""
        from docker.errors import ImageNotFound

        client = client or docker_client()
        all_labels = {LABEL: "1", "swelancer.role": "reference", **(labels or {})}
        try:
            container = client.containers.create(
                image,
                name=_make_name(all_labels),
                labels=all_labels,
                entrypoint=["/bin/true"],
                network_disabled=True,
            )
        except ImageNotFound as err:
            raise _missing_image(image, err) from err
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not create a container from {image}") from err
        return cls(container, client)

    def remove(self) -> None:
        """Kill and delete the container (and its anonymous volumes); idempotent."""
        from docker.errors import APIError, NotFound

        try:
            self.client.api.remove_container(self.id, force=True, v=True)
        except NotFound:
            pass
        except APIError as err:
            if err.status_code != 409:  # 409: its removal is already in progress
                raise _infra_error(err, f"Could not remove container {self.name}") from err
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not remove container {self.name}") from err

    def __enter__(self) -> DockerSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"DockerSandbox(name={self.name!r}, id={self.id[:12]!r})"

    def status(self) -> str:
        """Docker's state of the container (`created`, `running`, `exited`, ...), or `removed`."""
        from docker.errors import NotFound

        try:
            self.container.reload()
        except NotFound:
            return "removed"
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not inspect container {self.name}") from err
        return str(self.container.status)

    def alive(self) -> bool:
        """Whether the container is running (an engine fault is an `InfraError`)."""
        return self.status() == "running"

    def logs(self) -> str:
        """What the container's main process printed (stdout and stderr; head and tail kept)."""
        output = _BoundedOutput(self.max_output_bytes)
        try:
            for chunk in self.container.logs(stream=True, follow=False):
                output.add(chunk)
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not read the logs of {self.name}") from err
        return output.text()[0]

    # -- commands -------------------------------------------------------------------------------

    def exec(
        self,
        cmd: str | list[str],
        *,
        timeout: float | None = None,
        workdir: str | None = None,
        env: dict[str, str] | None = None,
    ) -> ExecResult:
        """Run `cmd` (a string under `bash -lc`, a list as is) and wait for it.

        Output is stdout and stderr interleaved, decoded as UTF-8 (bad bytes replaced); beyond
        `max_output_bytes` only the head and tail are kept, around a `[... N bytes truncated ...]`
        note. When `timeout` seconds pass, every process the command started is killed and the
        result has `timed_out=True` and `exit_code=124`.
        """
        argv = ["bash", "-lc", cmd] if isinstance(cmd, str) else [str(a) for a in cmd]
        env = dict(env or {})
        token = ""
        if timeout is not None:
            token = secrets.token_hex(8)
            env[_MARKER_ENV] = token
            argv = ["/bin/sh", "-c", _LAUNCHER, _WRAPPER, self._pgid_file(token), *argv]
        started = time.monotonic()
        exec_id, sock = self._exec_start(argv, workdir=workdir, env=env)
        output = _BoundedOutput(self.max_output_bytes)
        reader = _StreamReader(sock, output)
        reader.start()
        reader.join(timeout)
        timed_out = reader.is_alive()
        if timed_out:
            self._kill_exec(token)
            reader.join(self.kill_grace + 5)
            # A process that escaped both the group and the marker may still hold the output
            # open: stop listening to it.
            _close_socket(sock, shutdown=reader.is_alive())
            reader.join(5)
        else:
            _close_socket(sock)
        if reader.error is not None and not timed_out:
            raise _infra_error(reader.error, f"Lost the output of a command in {self.name}")
        exit_code = TIMEOUT_EXIT_CODE if timed_out else self._exit_code(exec_id)
        text, truncated = output.text()
        return ExecResult(
            exit_code=exit_code,
            output=text,
            timed_out=timed_out,
            truncated=truncated,
            seconds=time.monotonic() - started,
        )

    def _pgid_file(self, token: str) -> str:
        return f"/tmp/.swelancer-exec-{token}.pgid"

    def _exec_start(
        self, argv: list[str], *, workdir: str | None, env: dict[str, str]
    ) -> tuple[str, Any]:
        api = self.client.api
        try:
            created = api.exec_create(
                self.id,
                argv,
                stdout=True,
                stderr=True,
                tty=False,
                environment=env or None,
                workdir=workdir,
            )
            exec_id = created["Id"]
            return exec_id, api.exec_start(exec_id, tty=False, socket=True)
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not run a command in {self.name}") from err

    def _exit_code(self, exec_id: str) -> int:
        deadline = time.monotonic() + 10
        try:
            while True:
                info = self.client.api.exec_inspect(exec_id)
                if not info.get("Running") or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
        except _sdk_errors() as err:
            doing = f"Could not read the exit code of a command in {self.name}"
            raise _infra_error(err, doing) from err
        code = info.get("ExitCode")
        if code is None or code >= 128:
            self._check_alive()
        return -1 if code is None else int(code)

    def _check_alive(self, wait: float = 0.5) -> None:
        """`InfraError(kind="container_gone")` if the container stops within `wait` seconds.

        Called when a command died of a signal: the engine reports a killed container as
        running for a moment after its processes are gone, hence the short wait.
        """
        deadline = time.monotonic() + wait
        while True:
            state = self.status()
            if state != "running":
                raise InfraError(
                    f"Container {self.name} is {state}: it stopped while a command ran in it.",
                    kind="container_gone",
                )
            if time.monotonic() >= deadline:
                return
            time.sleep(0.05)

    def _kill_exec(self, token: str) -> None:
        """SIGTERM, then SIGKILL, every process of a timed-out command (see `_KILLER`)."""
        tenths = str(max(1, round(self.kill_grace * 10)))
        argv = ["/bin/sh", "-c", _KILLER, "sh", self._pgid_file(token), f"{_MARKER_ENV}={token}",
                tenths]  # fmt: skip
        self._run(argv, doing="Could not kill a timed-out command", timeout=self.kill_grace + 15)

    def _run(self, argv: list[str], *, doing: str, timeout: float = 60.0) -> tuple[int, str]:
        """Run a short helper command to its end; its exit code and output. Bounded on this
        side: when `timeout` passes, stop listening (whatever runs inside may be hostile and
        never end) and give `TIMEOUT_EXIT_CODE` with the output so far."""
        exec_id, sock = self._exec_start(argv, workdir=None, env={})
        output = _BoundedOutput(256_000)
        reader = _StreamReader(sock, output)
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            _close_socket(sock, shutdown=True)
            reader.join(5)
            return TIMEOUT_EXIT_CODE, output.text()[0]
        _close_socket(sock)
        if reader.error is not None:
            raise _infra_error(reader.error, f"{doing} in {self.name}")
        return self._exit_code(exec_id), output.text()[0]

    # -- processes ------------------------------------------------------------------------------

    def process_ids(self) -> set[int]:
        """The ids of the processes running in the container now (as the container numbers
        them). Lists `/proc` inside, so call it before handing the container over."""
        _, out = self._run(["sh", "-c", "ls /proc"], doing="Listing processes")
        return {int(p) for p in out.split() if p.isdigit() and len(p) < 10}

    def engine_processes(self) -> dict[int, str]:
        """The container's processes as the engine sees them (host pid: command line), read
        without running anything inside the container."""
        try:
            info = self.client.api.top(self.id) or {}
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not list the processes of {self.name}") from err
        titles = [str(t).upper() for t in info.get("Titles") or []]
        if "PID" not in titles:
            return {}
        pid_at = titles.index("PID")
        cmd_at = next((titles.index(t) for t in ("CMD", "COMMAND") if t in titles), -1)
        found: dict[int, str] = {}
        for row in info.get("Processes") or []:
            with contextlib.suppress(ValueError, IndexError, TypeError):
                found[int(row[pid_at])] = str(row[cmd_at])[:300] if cmd_at >= 0 else ""
        return found

    def changes(self) -> list[tuple[str, int]]:
        """What the container changed in its filesystem since it started from its image, as
        the engine records it: (path, kind) with kind 0 changed, 1 added, 2 deleted."""
        try:
            found = self.client.api.diff(self.id) or []
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not read the changes of {self.name}") from err
        return [(str(c.get("Path", "")), int(c.get("Kind", 0))) for c in found]

    def kill_processes_except(self, keep: set[int]) -> int:
        """Kill every process not in `keep` (nor PID 1); returns how many passes it took, or
        -1 when the container's shell did not say (it may have been replaced: check with
        `engine_processes`).

        Works even when a fork bomb has used up the container's process limit: the limit is
        raised for the moment it takes (the Docker API's container update), and the killing
        loop uses only shell builtins, so it forks nothing itself.
        """
        keep_list = " ".join(str(p) for p in sorted(keep | {1}))
        script = (
            f'keep=" {keep_list} "; n=0; while [ $n -lt 50 ]; do n=$((n+1)); left=0; '
            "for p in /proc/[0-9]*; do pid=${p#/proc/}; "
            '[ "$pid" = "$$" ] && continue; case "$keep" in *" $pid "*) continue;; esac; '
            "kill -9 $pid 2>/dev/null && left=1; done; "
            '[ $left = 0 ] && break; done; echo "passes=$n"'
        )
        limit = self._pids_limit()
        if limit:
            self._set_pids_limit(limit + 64)
        try:
            _, out = self._run(
                ["/bin/sh", "-c", script], doing="Killing leftover processes", timeout=120
            )
        finally:
            if limit:
                self._set_pids_limit(limit)
        found = re.findall(r"^passes=(\d{1,3})$", out, re.MULTILINE)
        return int(found[-1]) if found else -1

    def _pids_limit(self) -> int | None:
        try:
            info = self.client.api.inspect_container(self.id)
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not inspect container {self.name}") from err
        limit = (info.get("HostConfig") or {}).get("PidsLimit")
        return int(limit) if limit and int(limit) > 0 else None

    def _set_pids_limit(self, limit: int) -> None:
        api = self.client.api
        try:
            url = api._url("/containers/{0}/update", self.id)
            api._raise_for_status(api._post_json(url, data={"PidsLimit": limit}))
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not update the limits of {self.name}") from err

    # -- files ----------------------------------------------------------------------------------

    def write_file(self, path: str, data: bytes | str, mode: int = 0o644) -> None:
        """Create or replace the file `path` (parent folders are created) with `data`."""
        path = _absolute(path)
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            info = _root_owned(tarfile.TarInfo(posixpath.basename(path)))
            info.size = len(payload)
            info.mode = mode
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(payload))
        self._put_archive(posixpath.dirname(path) or "/", archive.getvalue())

    def read_file(self, path: str, limit: int | None = None, _hops: int = 0) -> bytes:
        """The bytes of the file `path`; `FileNotFoundError` when it does not exist. A file over
        `limit` bytes is an `InfraError` of kind `too_large`, found before it is read. A link
        is followed (at most 8 hops) by reading where it points, through the archive API:
        nothing runs in the container."""
        path = _absolute(path)
        target: str | None = None
        chunks = self._get_archive(path)
        try:
            with (
                chunks,
                tarfile.open(fileobj=io.BufferedReader(_ChunkReader(chunks)), mode="r|") as tar,
            ):
                for member in tar:
                    if member.isdir():
                        raise IsADirectoryError(path)
                    if member.issym():
                        target = posixpath.join(posixpath.dirname(path), member.linkname)
                        break
                    if not member.isfile():
                        raise FileNotFoundError(f"{path} is not a regular file")
                    if limit is not None and member.size > limit:
                        raise InfraError(
                            f"{path} in {self.name} holds {member.size:,} bytes, more than the "
                            f"{limit:,} allowed",
                            kind="too_large",
                        )
                    handle = tar.extractfile(member)
                    return handle.read() if handle else b""
        except tarfile.TarError as err:
            doing = f"Could not read {path} in {self.name}"
            raise InfraError(f"{doing}: {err}", kind="copy_failed") from err
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not read {path} in {self.name}") from err
        if target is None or _hops >= 8:
            raise FileNotFoundError(path)
        return self.read_file(posixpath.normpath(target), limit, _hops + 1)

    def copy_in(self, src: Path, dest: str) -> None:
        """Copy the host file or folder `src` to `dest` (the path it will have), keeping modes.
        Files are owned by root in the container. Large trees are spooled through a temp file."""
        src = Path(src)
        dest = _absolute(dest)
        if not src.exists():
            raise FileNotFoundError(str(src))
        with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as spool:
            with tarfile.open(fileobj=spool, mode="w") as tar:
                tar.add(os.path.realpath(src), arcname=posixpath.basename(dest), filter=_root_owned)
            size = spool.tell()
            spool.seek(0)
            data: bytes | Any = spool.read() if size <= 16 * 1024 * 1024 else spool
            self._put_archive(posixpath.dirname(dest) or "/", data)

    def copy_out(self, src: str, dest: Path, limits: CopyLimits | None = None) -> CopyReport:
        """Copy the file or folder `src` of the container to `dest` (the path it will have) on
        the host, streamed, bounded by `limits` and inert: only regular files and folders are
        made (modes 0644/0755); links, devices and FIFOs are listed in the report, not made.
        `FileNotFoundError` when `src` does not exist."""
        src = _absolute(src)
        dest = Path(dest).absolute()
        if dest.exists() or dest.is_symlink():
            raise FileExistsError(str(dest))
        chunks = self._get_archive(src)
        try:
            with tarfile.open(fileobj=io.BufferedReader(_ChunkReader(chunks)), mode="r|") as tar:
                return extract(tar, tar, dest, top_name(src), limits or CopyLimits())
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not copy {src} out of {self.name}") from err
        except (tarfile.TarError, OSError) as err:
            raise InfraError(
                f"Could not copy {src} out of {self.name} to {dest}: {err}", kind="copy_failed"
            ) from err
        finally:
            chunks.close()

    def _put_archive(self, folder: str, data: Any) -> None:
        from docker.errors import NotFound

        doing = f"Could not copy files to {folder} in {self.name}"
        for attempt in range(2):
            try:
                if hasattr(data, "seek"):
                    data.seek(0)
                if self.client.api.put_archive(self.id, folder, data):
                    return
                raise InfraError(f"{doing}: Docker refused the archive", kind="copy_failed")
            except NotFound as err:
                if _is_no_such_container(err) or attempt:
                    raise _infra_error(err, doing) from err
                code, out = self._run(["mkdir", "-p", folder], doing=doing)
                if code != 0:
                    raise InfraError(f"{doing}: {out.strip()}", kind="copy_failed") from err
            except _sdk_errors() as err:
                raise _infra_error(err, doing) from err

    def _get_archive(self, path: str) -> _Archive:
        """The archive of `path` as a stream of chunks that can be closed before its end (the
        HTTP response is then dropped, not left half read in the connection pool)."""
        from docker.errors import NotFound

        api = self.client.api
        try:
            res = api._get(
                api._url("/containers/{0}/archive", self.id),
                params={"path": path},
                stream=True,
                headers={"Accept-Encoding": "identity"},
            )
            api._raise_for_status(res)
        except NotFound as err:
            if _is_no_such_container(err):
                raise _infra_error(err, f"Could not read {path}") from err
            raise FileNotFoundError(f"{path} (in container {self.name})") from err
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not read {path} in {self.name}") from err
        return _Archive(res)

    # -- network --------------------------------------------------------------------------------

    def disconnect_network(self) -> None:
        """Disconnect the container from every Docker network (it keeps only `lo`), remembering
        them for `connect_network`. Idempotent. Works on any engine: no iptables involved."""
        detached = self._detached_networks if self._detached_networks is not None else {}
        self._detached_networks = detached
        for net, settings in self._networks().items():
            try:
                self.client.api.disconnect_container_from_network(self.id, net, force=True)
            except _sdk_errors() as err:
                raise _infra_error(err, f"Could not disconnect {self.name} from {net}") from err
            detached[net] = [a for a in (settings or {}).get("Aliases") or [] if a]

    def connect_network(self) -> None:
        """Reconnect the networks `disconnect_network` took away. Idempotent."""
        if self._detached_networks is None:
            return
        current = self._networks()
        for net, aliases in list(self._detached_networks.items()):
            options: dict[str, Any] = {}
            if aliases and net not in ("bridge", "host", "none"):
                options["aliases"] = [a for a in aliases if not self.id.startswith(a)]
            try:
                if net not in current:
                    self.client.api.connect_container_to_network(self.id, net, **options)
            except _sdk_errors() as err:
                raise _infra_error(err, f"Could not connect {self.name} to {net}") from err
            del self._detached_networks[net]
        self._detached_networks = None

    def _networks(self) -> dict[str, Any]:
        try:
            info = self.client.api.inspect_container(self.id)
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not inspect container {self.name}") from err
        return dict((info.get("NetworkSettings") or {}).get("Networks") or {})


# ---------------------------------------------------------------------------------------------
# Helpers for copy_out


def _absolute(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"Paths inside the sandbox must be absolute, got {path!r}")
    return posixpath.normpath(path)


# ---------------------------------------------------------------------------------------------
# Every container of this package


def find_containers(client: DockerClient, run_id: str | None = None) -> list[Container]:
    """Every container labelled `swelancer=1` (of one run, when `run_id` is given)."""
    filters = [f"{LABEL}=1"]
    if run_id is not None:
        filters.append(f"{LABEL}.run_id={run_id}")
    try:
        found = client.containers.list(all=True, filters={"label": filters}, ignore_removed=True)
        return list(found)
    except _sdk_errors() as err:
        raise _infra_error(err, "Could not list containers") from err


def remove_containers(client: DockerClient, run_id: str | None = None) -> list[str]:
    """Force-remove what `find_containers` finds; the names of the removed containers."""
    from docker.errors import APIError, NotFound

    removed = []
    for container in find_containers(client, run_id):
        try:
            container.remove(force=True, v=True)
        except NotFound:
            continue
        except APIError as err:
            if err.status_code != 409:
                raise _infra_error(err, f"Could not remove container {container.name}") from err
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not remove container {container.name}") from err
        removed.append(str(container.name))
    return removed
