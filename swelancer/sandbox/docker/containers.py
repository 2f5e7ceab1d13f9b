"""Every container of this package, found by label (after a crash too)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from swelancer.sandbox.docker.client import LABEL, _infra_error, _sdk_errors

if TYPE_CHECKING:
    from docker.client import DockerClient
    from docker.models.containers import Container

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
