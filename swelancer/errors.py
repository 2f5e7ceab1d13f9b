"""The error taxonomy of DESIGN.md: each kind of fault has one exception class."""

from __future__ import annotations

from enum import StrEnum


class SwelancerError(Exception):
    """Base of every error this package raises on purpose; its message is for the user."""

    tail: tuple[str, ...] = ()
    """Lines shown as they are under the message (the end of a build log, say)."""


class ManifestError(SwelancerError):
    """A task manifest cannot be read. Raised before any container starts."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = path
        self.row = row
        self.column = column
        self.reason = message
        where = []
        if path:
            where.append(f"{path}")
        if row is not None:
            where.append(f"row {row}")
        if column:
            where.append(f"column '{column}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class FaultKind(StrEnum):
    """Every kind of infrastructure fault (the `kind` of an `InfraError`, recorded as the
    attempt's `error.kind`). The table in docs/ARCHITECTURE.md says what each means."""

    DOCKER_UNAVAILABLE = "docker_unavailable"
    """The engine does not answer (not running, wrong DOCKER_HOST, died)."""
    DOCKER = "docker"
    """Any other error of the engine's API; its message is kept."""
    IMAGE_MISSING = "image_missing"
    """The image is not on the engine and cannot be pulled or built here."""
    IMAGE_BUILD = "image_build"
    """Building an image failed."""
    PULL_FAILED = "pull_failed"
    """Pulling an image failed."""
    REGISTRY_UNREACHABLE = "registry_unreachable"
    """No registry answers for a pull."""
    DISK_FULL = "disk_full"
    """The engine's disk is full."""
    CONTAINER_GONE = "container_gone"
    """A container was removed or stopped under the harness."""
    COPY_FAILED = "copy_failed"
    """Files could not be copied in or out of a container."""
    TOO_LARGE = "too_large"
    """A file the harness reads is past its cap (handled as the agent's doing where it is)."""
    SETUP_FAILED = "setup_failed"
    """The task's setup failed, or the harness's own steps before the agent's turn did."""
    SETUP_TIMEOUT = "setup_timeout"
    """The task's setup did not finish within --setup-timeout."""
    TESTS_MISSING = "tests_missing"
    """The image has no /app/tests: not a SWE-Lancer image."""
    TASK_MISSING = "task_missing"
    """The image has no test folder for the task (never retried)."""
    HIDE = "hide"
    """The hidden tests could not be taken out of, or pruned in, a container."""
    GRADER = "grader"
    """The hidden test gives no verdict, on the agent's change and on the untouched task alike."""
    HOST_GIT = "host_git"
    """git on this machine (which computes patches) is missing or failed."""
    ORACLE = "oracle"
    """The gold agent could not apply a task's gold patch (a task or image fault)."""
    HARNESS = "harness"
    """A fault of the harness itself; its traceback is in the attempt's error.txt."""
    NODE_LOST = "node_lost"
    """(Ray) the node running the attempt went away (its raylet died, or its worker crashed)."""
    AGENT_START = "agent_start"
    """An installed agent's CLI could not be prepared or did not start."""
    GATEWAY = "gateway"
    """The model gateway's port did not open, or a session ended on a call it could not carry
    out (the provider unreachable); not a provider's answer, not a refusal for cost."""


class InfraError(SwelancerError):
    """A fault of Docker, setup, the network or the grader, not the model's; retried unless
    `retryable` is false (a task the image does not hold fails the same way every time)."""

    def __init__(
        self, message: str, *, kind: FaultKind = FaultKind.DOCKER, retryable: bool = True
    ) -> None:
        self.kind = FaultKind(kind)
        self.retryable = retryable
        super().__init__(message)


class ModelError(SwelancerError):
    """A fatal model-side fault (bad key, unknown model, bad request): stops the whole run."""


class ConfigError(SwelancerError):
    """A run cannot start as configured (missing key, bad flag combination, unknown model)."""
