"""What a post-setup snapshot is, whatever engine holds it: its name, its labels, the record an
engine lists for it, and what one commit did. (The Docker store is `sandbox.docker.snapshots`.)
"""

from __future__ import annotations

import re

from pydantic import BaseModel

SETUP_VERSION = "1"
"""Bumped when what the harness expects of a set-up container changes."""
REPOSITORY = "swelancer-snapshot"
LABEL = "swelancer.snapshot"


class Snapshot(BaseModel):
    """One snapshot image as the engine holds it."""

    name: str
    """Its tag, or its image id when it has none."""
    image_id: str
    task_id: str
    base_id: str
    base_name: str
    version: str
    bytes: int
    """The snapshot's own layer (what setup added to the base image)."""
    kept: bool
    run_id: str
    last_used: float
    """When it was made or last started from (epoch seconds)."""
    tagged: bool

    def valid_for(self, base_id: str, task_id: str) -> bool:
        """Whether a container of `task_id` on the image `base_id` may start from it."""
        return (self.base_id, self.task_id, self.version) == (base_id, task_id, SETUP_VERSION)


class Commit(BaseModel):
    """What one commit of a set-up container did."""

    name: str | None
    """The snapshot's name; None when none was made (see `refused`)."""
    bytes: int = 0
    """The size of the container's own layer (the snapshot's, when made)."""
    seconds: float = 0.0
    refused: str | None = None
    """Why no snapshot was made (it would not fit in the budget, ...)."""


def snapshot_name(task_id: str, base_id: str) -> str:
    """`swelancer-snapshot/<task>:<first 12 of the base id>-v<setup version>`."""
    digest = base_id.split(":")[-1][:12]
    return f"{REPOSITORY}/{re.sub(r'[^a-z0-9_.-]', '-', task_id.lower())}:{digest}-v{SETUP_VERSION}"


def snapshot_labels(
    base_id: str, base_name: str, task_id: str, run_id: str, kept: bool
) -> dict[str, str]:
    """The labels a snapshot is committed with (what a store checks before reusing it)."""
    return {
        LABEL: "1",
        f"{LABEL}.base": base_id,
        f"{LABEL}.base_name": base_name,
        f"{LABEL}.task": task_id,
        f"{LABEL}.version": SETUP_VERSION,
        f"{LABEL}.run_id": run_id,
        f"{LABEL}.kept": "1" if kept else "0",
    }


def parse_size(text: str | None) -> int | None:
    """Bytes of a size in Docker's units (`512m`, `50g`, `1t`, plain bytes); None for None."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*", text.lower())
    if not match:
        raise ValueError(f"{text!r} is not a size (e.g. 512m, 50g)")
    factor = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}[match.group(2)]
    return int(float(match.group(1)) * factor)
