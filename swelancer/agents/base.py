"""Protocols and value types shared by every agent: chat messages, usage, ChatModel, Agent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from swelancer.sandbox.base import ExecResult, Sandbox
    from swelancer.tasks.models import Task


class ToolSpec(BaseModel):
    """A tool offered to the model: name, what it does, JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolCall(BaseModel):
    """One call of a tool by the model."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Message(BaseModel):
    """One chat message in a provider-neutral shape."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None


class Usage(BaseModel):
    """Tokens of one or more model calls. `input_tokens` includes the cached ones."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
        )


class ChatResponse(BaseModel):
    """What one model call gave back."""

    message: Message
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = None
    model: str = ""
    finish_reason: str | None = None
    retries: int = 0


class ChatModel(Protocol):
    """A chat model behind one method. Transient faults are retried inside; fatal ones raise
    `ModelError`."""

    name: str
    context_window: int

    def complete(
        self, messages: list[Message], tools: list[ToolSpec] | None = None
    ) -> ChatResponse: ...


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
    user_tool: Callable[[], str]
    """Runs the hidden test as a user would, with tracing; says where the trace is."""
    run: Callable[[str, float], ExecResult]
    """Runs a shell command in the task's directory, in the image's own shell environment (as
    upstream runs commands: `bash -i`, so the conda env of the image is active), with a
    timeout in seconds."""
    hidden_tests: Path | None = None
    """The host copy of the hidden tests. Only `mock/oracle` reads it, to build gold answers."""


class Agent(Protocol):
    """Works on a task inside a prepared sandbox. Writes its transcript through `log`."""

    name: str

    def solve(
        self, task: Task, env: AgentEnv, limits: Limits, log: TranscriptLog
    ) -> AgentOutcome: ...


class TranscriptLog(Protocol):
    """Append-only transcript of an attempt; each event is written (and flushed) at once."""

    def event(self, kind: str, **data: Any) -> None: ...
