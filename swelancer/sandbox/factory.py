"""The one place outside `sandbox.docker` that names the Docker backend: the engine the
operational commands work on. Tests replace `docker_engine` with a fake."""

from __future__ import annotations

from swelancer.sandbox.engine import ImageEngine


def docker_engine() -> ImageEngine:
    """The Docker engine named by DOCKER_HOST (else the CLI's context, else the default
    socket), connected on first use."""
    from swelancer.sandbox.docker.engine import DockerEngine

    return DockerEngine()
