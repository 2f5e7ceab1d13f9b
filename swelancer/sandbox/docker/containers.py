"""Every container of this package, and the volumes made for them, found by label (after a
crash too)."""

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
    """Force-remove what `find_containers` finds, then the volumes made for them; the names of
    the removed containers."""
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
    remove_volumes(client, run_id)
    return removed


KEPT_ROLE = "installed-agent"
"""The role of the volumes kept across runs: an installed agent's, prepared once per version."""


def remove_volumes(client: DockerClient, run_id: str | None = None) -> list[str]:
    """Remove the volumes labelled `swelancer=1` (of one run, when `run_id` is given): the
    forwarders' sockets (`reach`), once their containers are gone. A volume still in use is
    left; the names of the removed."""
    from docker.errors import APIError, NotFound

    filters = [f"{LABEL}=1"]
    if run_id is not None:
        filters.append(f"{LABEL}.run_id={run_id}")
    try:
        found = client.volumes.list(filters={"label": filters})
    except _sdk_errors() as err:
        raise _infra_error(err, "Could not list volumes") from err
    removed = []
    for volume in found:
        if (volume.attrs.get("Labels") or {}).get("swelancer.role") == KEPT_ROLE:
            continue  # an installed agent's, reused by every run (`docker volume rm` removes it)
        try:
            volume.remove(force=True)
        except (NotFound, APIError):
            continue
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not remove volume {volume.name}") from err
        removed.append(str(volume.name))
    return removed
