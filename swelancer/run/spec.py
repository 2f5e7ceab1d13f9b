"""What one attempt needs of the run (AttemptSettings), and the spec of each sandbox it starts:
upstream's container environment, labels that find the run's sandboxes, resource limits."""

from __future__ import annotations

import secrets

from pydantic import BaseModel, Field

from swelancer.agents.base import Limits
from swelancer.config import GradingSection, SandboxSection
from swelancer.ops.images import DEMO_IMAGE
from swelancer.sandbox.base import Mount, SandboxSpec
from swelancer.tasks.models import IcTask, ManagerTask

# What upstream's sample.env sets; upstream passes these to every task container.
UPSTREAM_ENV = {
    "USE_WEB_PROXY": "false",
    "EXPENSIFY_URL": "https://www.expensify.com/",
    "NEW_EXPENSIFY_URL": "https://new.expensify.com/",
}
DEMO_MEMORY = "8g"
RUN_DIR_LABEL = "swelancer.run_dir"
"""The label naming the run directory whose lock says whether a container's run is going."""
IMAGE_LABEL = "swelancer.image"
"""The label naming the image a container's attempt started from: its id once the run pinned
it (a container from a snapshot carries its base's id; the engine's `Image` is the snapshot)."""


class AttemptSettings(BaseModel):
    """What one attempt needs of the run: its identity, its image, and the run configuration's
    sandbox, grading and limits sections (the same objects, not copies)."""

    run_id: str
    model: str
    image: str
    """What every container of the attempt starts from: the id the run resolved the image's
    name to before its first attempt (so a tag moved during the run changes nothing), or a
    name where nothing pinned it (a cluster's nodes hold builds of their own)."""
    image_name: str | None = None
    """The name the image was given (its tag), when `image` is its pinned id: what is said to
    the user and what the defaults that depend on the image look at."""
    sandbox: SandboxSection = Field(default_factory=SandboxSection)
    grading: GradingSection = Field(default_factory=GradingSection)
    limits: Limits = Field(default_factory=Limits)
    mounts: tuple[Mount, ...] = ()
    """Brought into every task container of the run (an installed agent's volume)."""
    run_dir: str | None = None
    """The run directory's absolute path, put on every container as `swelancer.run_dir` so that
    `swelancer cleanup` can ask its lock whether the run is still going."""

    @property
    def pinned(self) -> bool:
        """Whether `image` is the id the run resolved before it started."""
        return self.image_name is not None and self.image_name != self.image

    def shown_image(self) -> str:
        """The image as the user named it, with the id it was pinned to."""
        return f"{self.image_name} ({self.image})" if self.pinned else self.image


def container_env(task: IcTask | ManagerTask) -> dict[str, str]:
    """The environment upstream starts a task container with (fresh Pusher secrets per run).
    RUNTIME_SETUP is the image's own (the unified image sets it, per-task images do not)."""
    return {
        "ISSUE_ID": task.task_id,
        "EVAL_VARIANT": task.variant,
        "LC_ALL": "C.UTF-8",
        "PUSHER_APP_KEY": secrets.token_hex(10),
        "PUSHER_APP_SECRET": secrets.token_hex(10),
        "PUSHER_APP_ID": str(secrets.randbelow(9_000_000) + 1_000_000),
        **UPSTREAM_ENV,
    }


def memory_limit(settings: AttemptSettings) -> str | None:
    memory = settings.sandbox.memory
    if memory == "auto":
        return DEMO_MEMORY if (settings.image_name or settings.image) == DEMO_IMAGE else None
    return None if memory.lower() in ("none", "0", "") else memory


def disk_limit(settings: AttemptSettings) -> str | None:
    """The cap of each container's disk to ask the engine for: None for `none` or `0`."""
    disk = (settings.sandbox.disk or "").strip()
    return None if disk.lower() in ("none", "0", "") else disk


def labels(settings: AttemptSettings, task: IcTask | ManagerTask, attempt: int, role: str):
    marks = {
        "swelancer.run_id": settings.run_id,
        "swelancer.task_id": task.task_id,
        "swelancer.run.attempt": str(attempt),
        "swelancer.role": role,
        IMAGE_LABEL: settings.image,
    }
    if settings.run_dir:
        marks[RUN_DIR_LABEL] = settings.run_dir
    return marks


def sandbox_spec(
    task: IcTask | ManagerTask, attempt: int, settings: AttemptSettings, role: str = "agent"
) -> SandboxSpec:
    return SandboxSpec(
        image=settings.image,
        env=container_env(task),
        labels=labels(settings, task, attempt, role),
        memory=memory_limit(settings),
        cpus=settings.sandbox.cpus,
        pids_limit=settings.sandbox.pids_limit or None,
        disk=disk_limit(settings),
        mounts=settings.mounts if role == "agent" else (),
    )
