"""The one place outside `sandbox.docker` that names the Docker backend: the engine the
operational commands work on and the provider a run starts sandboxes with. Tests replace
these with fakes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from swelancer.sandbox.base import SandboxProvider
from swelancer.sandbox.engine import ImageEngine


def docker_engine() -> ImageEngine:
    """The Docker engine named by DOCKER_HOST (else the CLI's context, else the default
    socket), connected on first use."""
    from swelancer.sandbox.docker.engine import DockerEngine

    return DockerEngine()


@contextmanager
def open_engine() -> Iterator[ImageEngine]:
    """`docker_engine()` for the length of a `with` block, closed when it ends."""
    engine = docker_engine()
    try:
        yield engine
    finally:
        engine.close()


def docker_provider() -> SandboxProvider:
    """The sandbox provider of that engine (containers; see `sandbox.docker.provider`)."""
    from swelancer.sandbox.docker.provider import DockerProvider

    return DockerProvider()
