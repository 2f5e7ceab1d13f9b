"""Whether the engine can cap a container's disk (`--storage-opt size=`), read from its `info`.

Docker takes a size cap only on some storage drivers: overlay2 when its backing filesystem is
xfs mounted with project quotas (`pquota`), and devicemapper, btrfs, zfs and windowsfilter.
Elsewhere a container may fill the engine's disk; the harness says so (in `swelancer doctor`
and in run.json) rather than failing. Whether an xfs is mounted with `pquota` shows only when a
container is created: the first start with a cap learns it (`DockerSandbox.start`).
"""

from __future__ import annotations

from typing import Any

SIZED_DRIVERS = ("devicemapper", "btrfs", "zfs", "windowsfilter")


def no_disk_cap(info: dict[str, Any]) -> str | None:
    """Why this engine cannot cap a container's disk; None when it can (or may: overlay2 on
    xfs, whose `pquota` shows only when a container is created)."""
    driver = str(info.get("Driver") or "?")
    status = {str(k): str(v) for k, v in _pairs(info.get("DriverStatus"))}
    backing = status.get("Backing Filesystem", "?")
    if driver == "overlay2":
        if backing == "xfs":
            return None
        return (
            f"its storage driver is overlay2 on {backing}; Docker caps a container's disk on "
            "overlay2 only over xfs mounted with pquota"
        )
    if driver in SIZED_DRIVERS:
        return None
    return f"its storage driver, {driver}, takes no size cap"


def _pairs(value: Any) -> list[tuple[Any, Any]]:
    if not isinstance(value, list):
        return []
    return [(p[0], p[1]) for p in value if isinstance(p, list | tuple) and len(p) == 2]
