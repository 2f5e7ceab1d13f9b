"""The Docker backend: the engine client, `DockerSandbox`, the containers of a run, and
`DockerProvider`."""

from swelancer.sandbox.docker.engine import (
    DEFAULT_CAP_DROP,
    LABEL,
    TIMEOUT_EXIT_CODE,
    DockerSandbox,
    docker_client,
    find_containers,
    remove_containers,
)

__all__ = [
    "DEFAULT_CAP_DROP",
    "LABEL",
    "TIMEOUT_EXIT_CODE",
    "DockerSandbox",
    "docker_client",
    "find_containers",
    "remove_containers",
]
