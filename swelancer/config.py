"""RunConfig: every knob of a run, validated once, recorded in run.json."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from swelancer.agents.base import Limits
from swelancer.tasks.catalog import TaskQuery

RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def default_concurrency() -> int:
    """A small pool that fits the machine: each attempt is a container running tests."""
    return max(1, min(4, (os.cpu_count() or 2) // 2 + 1))


def new_run_id(model: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", model).strip("-")[:40] or "run"
    return f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{slug}"


class RunConfig(BaseModel):
    """What `swelancer run` was asked to do."""

    model: str
    query: TaskQuery = Field(default_factory=TaskQuery)
    run_id: str | None = None
    """The run directory's name under `results_dir`; letters, digits, `_`, `.`, `-`."""
    results_dir: Path = Path("results")
    tries: int = Field(1, ge=1)
    concurrency: int = Field(default_factory=default_concurrency, ge=1)
    image: str | None = None
    image_prefix: str = "swelancer/swelancer_x86"
    """Upstream images are `<prefix>_monolith:<tag>` and `<prefix>_<task id>:<tag>`."""
    image_tag: str = "releasev1"
    per_task_images: bool = False
    test_runs: int = Field(3, ge=1)
    max_retries: int = Field(2, ge=0)
    setup_timeout_s: float = Field(2400.0, gt=0)
    test_timeout_s: float = Field(1800.0, gt=0)
    user_tool_timeout_s: float = Field(300.0, gt=0)
    grade_in: Literal["same", "fresh"] = "same"
    user_tool_in: Literal["same", "fresh"] = "fresh"
    """Where the user tool runs: a fresh sandbox holding the agent's patch (only the trace
    comes back), or the agent's container once its processes are stopped."""
    limits: Limits = Field(default_factory=Limits)
    memory: str | None = "auto"
    """Memory limit of each container (Docker's units: 512m, 8g); None for no limit; `auto`
    is 8g on the demo image and no limit on upstream images (as upstream runs them)."""
    cpus: float | None = None
    pids_limit: int | None = 4096
    """Processes one container may hold: a fork bomb stops there."""
    disk: str | None = None
    """Cap of each container's writable layer (e.g. 50g), where the storage driver allows."""
    build_missing_demo_image: bool = True
    snapshots: bool = True
    """Commit each IC task's container once its setup is done, and start the task's later
    containers from that snapshot (see `sandbox.docker.snapshots`)."""
    snapshot_budget: str | None = None
    """Disk the snapshots may take (Docker's units: 50g); default a quarter of the free disk."""
    keep_snapshots: bool = False
    agent: Literal["upstream", "tools"] = "upstream"
    base_url: str | None = None
    temperature: float | None = None
    reasoning_effort: str | None = None
    max_output_tokens: int | None = None
    prompt_template: Path | None = None
    prices_file: Path | None = None
    max_run_cost_usd: float | None = None

    @field_validator("run_id")
    @classmethod
    def _plain_run_id(cls, value: str | None) -> str | None:
        if value is not None and not RUN_ID.fullmatch(value):
            raise ValueError(
                f"run id {value[:80]!r} is not a plain name (letters, digits, '_', '.', '-'; "
                "at most 128, not starting with '.' or '-')"
            )
        return value
