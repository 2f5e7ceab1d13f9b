"""The Docker backend: the engine client, `DockerSandbox`, the containers of a run, and
`DockerProvider`."""

from swelancer.sandbox.docker.client import (
    DEFAULT_CAP_DROP,
    LABEL,
    TIMEOUT_EXIT_CODE,
    docker_client,
)
from swelancer.sandbox.docker.containers import find_containers, remove_containers
from swelancer.sandbox.docker.sandbox import DockerSandbox

__all__ = [
    "DEFAULT_CAP_DROP",
    "LABEL",
    "TIMEOUT_EXIT_CODE",
    "DockerSandbox",
    "docker_client",
    "find_containers",
    "remove_containers",
]
