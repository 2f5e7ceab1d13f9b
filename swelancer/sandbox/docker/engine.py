"""DockerEngine: the `ImageEngine` on a Docker engine, through the SDK. Connected on first use,
so that making one is free and `--help` imports no SDK."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.base import SandboxProvider
from swelancer.sandbox.docker.client import ClientHolder, _infra_error, _sdk_errors
from swelancer.sandbox.docker.disk_cap import no_disk_cap
from swelancer.sandbox.engine import (
    ContainerInfo,
    EngineFacts,
    ImageInfo,
    PullFailed,
    SnapshotBuilder,
)
from swelancer.sandbox.snapshot_model import Snapshot


def _image_info(image: Any) -> ImageInfo:
    attrs = image.attrs or {}
    return ImageInfo(
        id=str(image.id),
        tags=list(image.tags),
        size=attrs.get("Size"),
        created=attrs.get("Created"),
        labels=image.labels or {},
    )


class DockerEngine(ClientHolder):
    """Images, containers and snapshots of one Docker engine."""

    name = "docker"

    def facts(self) -> EngineFacts:
        client = self.client
        try:
            info = client.info()
            version = client.version()
        except Exception as err:  # the engine answered the ping, then failed
            raise InfraError(f"the Docker engine failed: {err}", kind=FaultKind.DOCKER) from err
        return EngineFacts(
            version=str(version.get("Version", "?")),
            api_version=str(version.get("ApiVersion", "?")),
            os=str(info.get("OperatingSystem") or version.get("Os", "?")),
            architecture=str(info.get("Architecture") or "unknown"),
            root_dir=str(info.get("DockerRootDir") or ""),
            no_disk_cap=no_disk_cap(info),
        )

    def image(self, name: str) -> ImageInfo | None:
        import docker.errors

        try:
            return _image_info(self.client.images.get(name))
        except docker.errors.ImageNotFound:
            return None

    def images(self) -> list[ImageInfo]:
        return [_image_info(image) for image in self.client.images.list()]

    def pull(self, image: str, *, on_event: Callable[[dict[str, Any]], None] | None) -> str:
        import docker.errors
        import requests

        client = self.client
        try:
            for event in client.api.pull(image, stream=True, decode=True):
                if "error" in event:
                    raise PullFailed(str(event.get("error") or event.get("errorDetail")))
                if on_event is not None:
                    on_event(event)
            return str(client.images.get(image).id)
        except docker.errors.APIError as exc:
            raise PullFailed(str(exc.explanation or exc)) from None
        except (requests.exceptions.RequestException, ConnectionError) as exc:
            raise PullFailed(str(exc), engine_gone=True) from None

    def build_demo(self, *, on_line: Callable[[str], None] | None) -> str:
        from swelancer.sandbox.docker.images import build_demo_image

        return build_demo_image(self.client, on_line=on_line)

    def remove_image(self, name: str) -> str | None:
        from swelancer.sandbox.docker.snapshot_index import remove_snapshot

        return remove_snapshot(self.client, name)

    def containers(self) -> list[ContainerInfo]:
        try:
            found = self.client.containers.list(all=True, ignore_removed=True)
        except _sdk_errors() as err:
            raise _infra_error(err, "Could not list containers") from err
        return [
            ContainerInfo(
                name=str(c.name),
                status=str(c.status),
                image_id=str(c.attrs.get("Image") or ""),
                labels=c.labels or {},
                created=str(c.attrs.get("Created") or "") or None,
            )
            for c in found
        ]

    def remove_containers(self, run_id: str | None = None) -> list[str]:
        from swelancer.sandbox.docker.containers import remove_containers

        return remove_containers(self.client, run_id=run_id)

    def snapshots(self) -> list[Snapshot]:
        from swelancer.sandbox.docker.snapshot_index import list_snapshots

        return list_snapshots(self.client)

    def snapshot_store(
        self, run_id: str, *, budget_bytes: int | None, keep: bool
    ) -> SnapshotBuilder:
        from swelancer.sandbox.docker.snapshots import SnapshotStore

        return SnapshotStore(self.client, run_id=run_id, budget_bytes=budget_bytes, keep=keep)

    def provider(self) -> SandboxProvider:
        """Shares this engine's connection when it has one (else connects on first use)."""
        from swelancer.sandbox.docker.provider import DockerProvider

        return DockerProvider(self._client)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
