"""DockerSandbox: the Sandbox protocol on a Docker engine, via the docker SDK.

Commands given a `timeout` run in a process group of their own and carry a marker in their
environment; when the time is up, every process of the group and every process carrying the
marker gets SIGTERM, then SIGKILL after `kill_grace` seconds. The container itself lives on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from swelancer.errors import InfraError
from swelancer.sandbox.docker.client import (
    _STORAGE_OPT,
    DEFAULT_CAP_DROP,
    LABEL,
    LOG_CONFIG,
    _client_key,
    _explain,
    _infra_error,
    _make_name,
    _missing_image,
    _sdk_errors,
    _storage_opt_supported,
    docker_client,
)
from swelancer.sandbox.docker.commands import CommandsMixin
from swelancer.sandbox.docker.files import FilesMixin
from swelancer.sandbox.docker.processes import ProcessesMixin
from swelancer.sandbox.docker.streams import _BoundedOutput

if TYPE_CHECKING:
    from types import TracebackType

    from docker.client import DockerClient
    from docker.models.containers import Container

    from swelancer.sandbox.docker.stop_watch import StopWatch

# ---------------------------------------------------------------------------------------------
# The sandbox


class DockerSandbox(CommandsMixin, ProcessesMixin, FilesMixin):
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
        self.stops: StopWatch | None = None
        """The run's reader of the engine's events, if any (see `stop_watch`)."""
        self.companions: list[Callable[[], None]] = []
        """Removals of what exists for this container alone (its forwarder's container and
        volume), run after its own by `remove`."""

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
        network_mode: str | None = None,
        volumes: dict[str, dict[str, str]] | None = None,
        entrypoint: list[str] | None = None,
        stops: StopWatch | None = None,
    ) -> DockerSandbox:
        """Start a detached container from `image` with its own entrypoint (and `command`, if
        given). `network=False` starts it cut off (it can be given the network later).
        Labels always include `swelancer=1`; the name is made unique when not given.

        Its log is capped (`LOG_CONFIG`). Hardened by default: the capabilities in `cap_drop`
        (default `DEFAULT_CAP_DROP`) are dropped and no process may gain privileges (setuid
        binaries do not elevate). `disk`
        caps the container's writable layer (Docker's `--storage-opt size=`) where the
        storage driver allows it; where it does not, the container starts without the cap
        and `disk_limited` is False. `network_mode` (`container:<name>`) shares another
        container's network namespace, and only that: its own files and processes stay its own
        (`none`: a namespace of its own with only a loopback). `volumes` and `entrypoint` are
        the SDK's."""
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
            "log_config": LOG_CONFIG,
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
        if network_mode is not None:
            options["network_mode"] = network_mode
        if volumes:
            options["volumes"] = volumes
        if entrypoint is not None:
            options["entrypoint"] = entrypoint
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
        sandbox.stops = stops
        if stops is not None:
            stops.adopt(sandbox.id, sandbox.name)
        try:
            if not network and network_mode is None:
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
        """Kill and delete the container (and its anonymous volumes), then its companions;
        idempotent."""
        try:
            self._remove_own()
        finally:
            while self.companions:
                self.companions.pop()()

    def _remove_own(self) -> None:
        from docker.errors import APIError, NotFound

        if self.stops is not None:  # the engine's kill and destroy events are the harness's
            self.stops.expect(self.id, "kill", "destroy")
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
