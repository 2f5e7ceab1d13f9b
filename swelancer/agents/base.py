"""The agent seam: `Agent`, what it works with (`AgentEnv`), its `Limits` and `AgentOutcome`.

Chat-model types live in `swelancer.models.base`; this module depends on them, never the
reverse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, Field

from swelancer.benchmark.user_tool_reply import UserToolReply
from swelancer.models.base import Usage

if TYPE_CHECKING:
    from swelancer.sandbox.base import ExecResult, Sandbox
    from swelancer.tasks.models import Task


class Limits(BaseModel):
    """What an agent may spend on one attempt. A limit reached ends the attempt, which is then
    graded as it stands."""

    max_turns: int = 40
    command_timeout_s: float = 300.0
    max_agent_seconds: float | None = None
    max_cost_usd: float | None = None


class AgentOutcome(BaseModel):
    """What an agent reports when it stops."""

    turns: int = 0
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = 0.0
    stop_reason: str = "done"  # done | max_turns | max_seconds | max_cost | no_answer | …
    model_retries: int = 0


@dataclass
class AgentEnv:
    """What an agent works with during one attempt."""

    sandbox: Sandbox
    user_tool: Callable[[], UserToolReply]
    """Runs the hidden test as a user would, with tracing; says where the trace is."""
    run: Callable[[str, float], ExecResult]
    """Runs a shell command in the task's directory, in the image's own shell environment (as
    upstream runs commands: `bash -i`, so the conda env of the image is active), with a
    timeout in seconds."""
    hidden_tests: Path | None = None
    """The host copy of the hidden tests. Only `mock/oracle` reads it, to build gold answers."""
    folder: Path | None = None
    """The attempt's folder on the host: an installed agent keeps its native log and the
    gateway's record of its model calls there."""


class Agent(Protocol):
    """Works on a task inside a prepared sandbox. Writes its transcript through `log`."""

    name: str

    def solve(
        self, task: Task, env: AgentEnv, limits: Limits, log: TranscriptLog
    ) -> AgentOutcome: ...

    def close(self) -> None:
        """Let go of what the agent holds for the whole run (its model gateway's
        connections); called once, when no attempt runs any more."""
        ...


class HoldsNothing:
    """For agents that keep nothing between attempts: `close` has nothing to let go of."""

    def close(self) -> None:
        return None


class TranscriptLog(Protocol):
    """Append-only transcript of an attempt; each event is written (and flushed) at once."""

    def event(self, kind: str, **data: Any) -> None: ...
