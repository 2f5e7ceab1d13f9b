"""The engine: connecting to it, its faults as `InfraError`, and the names and labels of
containers. The SDK is imported inside functions only, so that `swelancer --help` stays cheap.

Kinds of fault: `docker_unavailable` (the daemon does not answer), `image_missing`,
`container_gone` (removed or stopped under our feet), `copy_failed`, `docker` (any other API
error, its message kept).
"""

from __future__ import annotations

import os
import re
import secrets
from typing import TYPE_CHECKING, Any

from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.engine import RUN_LABEL

if TYPE_CHECKING:
    from docker.client import DockerClient

LABEL = RUN_LABEL
"""Every container this package starts carries the label `swelancer=1`."""

DEFAULT_CAP_DROP = ("MKNOD", "NET_RAW", "SETFCAP", "SYS_CHROOT", "AUDIT_WRITE")
"""Capabilities of Docker's default set that no task needs (the contract image runs every
upstream step without them): device nodes, raw sockets, file capabilities, chroot, audit."""

LOG_CONFIG = {"type": "json-file", "config": {"max-size": "2m", "max-file": "2"}}
"""Each container's log, whatever the engine's default driver: two files of 2 MB at most, the
older dropped (a container writing gigabytes to its stdout leaves a few MB on this host)."""

_STORAGE_OPT: dict[str, bool] = {}
"""Per engine: whether its storage driver takes a size cap (learned at the first try)."""


def _client_key(client: Any) -> str:
    return str(getattr(getattr(client, "api", None), "base_url", id(client)))


def _storage_opt_supported(client: Any) -> bool | None:
    return _STORAGE_OPT.get(_client_key(client))


_DEFAULT_SOCKET = "unix:///var/run/docker.sock"

TIMEOUT_EXIT_CODE = 124
"""`ExecResult.exit_code` of a command killed when its timeout passed (as coreutils `timeout`)."""

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
        kind=FaultKind.DOCKER_UNAVAILABLE,
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
    default socket); an `InfraError` of kind `docker_unavailable` when that engine does not
    answer."""
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
            f"{doing}: the container is gone ({_explain(err)})", kind=FaultKind.CONTAINER_GONE
        )
    if isinstance(err, APIError):
        message = _explain(err)
        if err.status_code == 409 and "not running" in message:
            return InfraError(f"{doing}: {message}", kind=FaultKind.CONTAINER_GONE)
        return InfraError(f"{doing}: Docker said: {message}", kind=FaultKind.DOCKER)
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
    if image.startswith("sha256:"):  # an id a run resolved: gone since, never looked up again
        return InfraError(
            f"The Docker image {image} is no longer on this engine (it was removed after the "
            f"run resolved its name to it). (Docker said: {_explain(err)})",
            kind=FaultKind.IMAGE_MISSING,
            retryable=False,
        )
    if "demo" in image:
        how = "Build it with `swelancer images build demo`."
    else:
        how = f"Get it with `docker pull {image}` (or build it)."
        if "swelancer_x86" in image:
            how += " Upstream SWE-Lancer images are x86-64 only and about 14 GB each."
    return InfraError(
        f"The Docker image {image!r} is not on this engine. {how} (Docker said: {_explain(err)})",
        kind=FaultKind.IMAGE_MISSING,
    )


class ClientHolder:
    """Holds a client of the engine, connected on first use (so that making the holder, as
    `swelancer --help` does, costs nothing)."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = docker_client()
        return self._client
