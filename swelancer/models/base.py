"""The chat-model seam: provider-neutral messages, tools, usage, replies, and `ChatModel`."""

from __future__ import annotations

import importlib
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field


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


class LazySdkClient:
    """The provider SDK's client, made (and the SDK imported) on first use, once per model:
    `swelancer --help` imports no SDK. Subclasses name the module and its client class and
    hold `_lock`, `_client`, `_api_key`, `base_url` and `timeout_s`."""

    SDK_MODULE: str
    SDK_CLIENT: str
    _lock: Any
    _client: Any
    _api_key: str | None
    base_url: str | None
    timeout_s: float

    def client(self) -> Any:
        """The SDK client; the harness retries, so the SDK's own retries are off."""
        with self._lock:
            if self._client is None:
                sdk = importlib.import_module(self.SDK_MODULE)
                self._client = getattr(sdk, self.SDK_CLIENT)(
                    api_key=self._api_key,
                    base_url=self.base_url,
                    timeout=self.timeout_s,
                    max_retries=0,
                )
            return self._client
