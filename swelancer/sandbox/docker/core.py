"""What the mixins of `DockerSandbox` share: the container and its engine, and the few
methods one mixin calls on another, declared once so that each mixin is checked on its own."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from docker.client import DockerClient
    from docker.models.containers import Container
    from requests import Response

    from swelancer.sandbox.docker.layer_changes import Layers


class RawApi(Protocol):
    """The calls of the SDK's `APIClient` that stream a response the public methods would read
    whole. They are private names of the SDK, so its stubs leave them out; pinned by the
    Docker tests that copy files and list changes."""

    def _url(self, pathfmt: str, *args: str) -> str: ...

    def _get(self, url: str, **kwargs: Any) -> Response: ...

    def _post_json(self, url: str, data: Any, **kwargs: Any) -> Response: ...

    def _raise_for_status(self, response: Response) -> None: ...


class ContainerCore(ABC):
    """The base of `CommandsMixin`, `ProcessesMixin` and `FilesMixin`. `DockerSandbox` sets
    the attributes and brings every method together; a mixin alone is never made."""

    container: Container
    client: DockerClient
    id: str
    """The container's full id."""
    name: str
    """The container's name (its id when it has none)."""
    disk_limited: bool
    _detached_networks: dict[str, list[str]] | None

    # Settings, with their defaults on the class that reads them.
    max_output_bytes: int
    kill_grace: float
    read_layers: bool

    @property
    def raw_api(self) -> RawApi:
        """The engine's low-level client, for the calls its stubs leave out (`RawApi`)."""
        return cast("RawApi", self.client.api)

    @abstractmethod
    def status(self) -> str:
        """Docker's state of the container (`DockerSandbox`)."""

    @abstractmethod
    def _run(self, argv: list[str], *, doing: str, timeout: float = 60.0) -> tuple[int, str]:
        """Run a short helper command to its end (`CommandsMixin`)."""

    @property
    @abstractmethod
    def _layers(self) -> Layers | None:
        """The container's layers on this host (`ProcessesMixin`)."""
