"""The snapshots on an engine, found by label: what each is, what it takes, and removing them.

A snapshot is an image labelled `swelancer.snapshot=1`. Most carry their name
(`swelancer-snapshot/<task>:<base>-v<version>`); one whose name went to a newer commit of the
same task (two processes racing, a killed commit) has none and is known by its id, still
counted against the budget and still found by `cleanup` and `images prune`.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.snapshot_model import (
    LABEL,
    REPOSITORY,
    SETUP_VERSION,
    Snapshot,
    snapshot_labels,
    snapshot_name,
)

__all__ = [
    "LABEL",
    "REPOSITORY",
    "SETUP_VERSION",
    "Snapshot",
    "list_snapshots",
    "remove_snapshot",
    "snapshot_labels",
    "snapshot_name",
]


def list_snapshots(client: Any) -> list[Snapshot]:
    """Every snapshot on the engine, tagged or not, one entry per image (one removed while
    this looks is left out)."""
    api = client.api
    try:
        found = api.images(filters={"label": f"{LABEL}=1"})
    except Exception as err:
        raise InfraError(
            f"could not list the snapshots on the Docker engine: {err}. Check that it answers "
            "(`docker info`).",
            kind=FaultKind.DOCKER,
        ) from err
    base_sizes: dict[str, int] = {}
    snapshots = []
    for row in found:
        try:
            attrs = api.inspect_image(row["Id"])
        except Exception:  # removed meanwhile
            continue
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        base = labels.get(f"{LABEL}.base", "")
        if base not in base_sizes:
            base_sizes[base] = _image_size(api, base)
        snapshots.append(_snapshot(attrs, labels, base_sizes[base]))
    return sorted(snapshots, key=lambda s: (s.task_id, s.name))


def remove_snapshot(client: Any, image_id: str) -> str | None:
    """Remove one snapshot image by id, never by force; None when done (or gone already), else
    why the engine refused (a container uses it)."""
    import docker.errors

    try:
        client.images.remove(image_id, noprune=False)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as err:
        return str(err.explanation or err)
    except Exception as err:
        return str(err)
    return None


def _image_size(api: Any, image: str) -> int:
    if not image:
        return 0
    try:
        return int(api.inspect_image(image).get("Size") or 0)
    except Exception:
        return 0


def _snapshot(attrs: dict[str, Any], labels: dict[str, str], base_size: int) -> Snapshot:
    image_id = str(attrs.get("Id") or "")
    tags = [t for t in attrs.get("RepoTags") or [] if t.startswith(REPOSITORY + "/")]
    last = (attrs.get("Metadata") or {}).get("LastTagTime") or ""
    if not last or last.startswith("0001-"):  # never tagged: when it was made
        last = attrs.get("Created") or ""
    return Snapshot(
        name=tags[0] if tags else image_id,
        image_id=image_id,
        task_id=labels.get(f"{LABEL}.task", ""),
        base_id=labels.get(f"{LABEL}.base", ""),
        base_name=labels.get(f"{LABEL}.base_name", ""),
        version=labels.get(f"{LABEL}.version", ""),
        bytes=max(0, int(attrs.get("Size") or 0) - base_size),
        kept=labels.get(f"{LABEL}.kept") == "1",
        run_id=labels.get(f"{LABEL}.run_id", ""),
        last_used=_epoch(last),
        tagged=bool(tags),
    )


def _epoch(stamp: str) -> float:
    """Seconds since the epoch of the engine's RFC 3339 time (nanoseconds dropped)."""
    text = stamp.strip()
    if not text:
        return 0.0
    text = re.sub(r"(\.\d{6})\d*", r"\1", text.replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return time.time()
