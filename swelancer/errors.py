"""The error taxonomy of DESIGN.md: each kind of fault has one exception class."""

from __future__ import annotations


class SwelancerError(Exception):
    """Base of every error this package raises on purpose; its message is for the user."""


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


class InfraError(SwelancerError):
    """A fault of Docker, setup, the network or the grader, not the model's; retried unless
    `retryable` is false (a task the image does not hold fails the same way every time)."""

    def __init__(self, message: str, *, kind: str = "infra", retryable: bool = True) -> None:
        self.kind = kind
        self.retryable = retryable
        super().__init__(message)


class ModelError(SwelancerError):
    """A fatal model-side fault (bad key, unknown model, bad request): stops the whole run."""


class ConfigError(SwelancerError):
    """A run cannot start as configured (missing key, bad flag combination, unknown model)."""
