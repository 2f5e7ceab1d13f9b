"""Removing one run's sandboxes never becomes removing every run's: a missing run id stops
before the engine is asked (its label filter without the id would match all of them)."""

from __future__ import annotations

import pytest

from swelancer.sandbox.docker.provider import DockerProvider


class Untouchable:
    """A client of the engine that fails the test when anything is asked of it."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the engine was asked for {name}")


@pytest.mark.parametrize("run_id", [None, ""])
def test_docker_provider_refuses_to_remove_without_a_run_id(run_id) -> None:
    provider = DockerProvider(Untouchable())
    with pytest.raises(ValueError, match="needs a run id"):
        provider.remove_run(run_id)
