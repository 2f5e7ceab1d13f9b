"""The chat-model seam: provider-neutral messages, tools, usage, replies, and `ChatModel`."""

from __future__ import annotations

import copy
import importlib
import threading
from pathlib import Path
from typing import Any, Literal, Protocol, Self

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
    `swelancer --help` imports no SDK. Subclasses name the module (which is also the family
    of its protocol, `openai` or `anthropic`) and its client class and hold `_lock`,
    `_client`, `_api_key`, `base_url` and `timeout_s`."""

    SDK_MODULE: str
    SDK_CLIENT: str
    _lock: Any
    _client: Any
    _api_key: str | None
    base_url: str | None
    timeout_s: float
    _socket: Path | None = None
    _http_client: Any = None

    def client(self) -> Any:
        """The SDK client; the harness retries, so the SDK's own retries are off."""
        with self._lock:
            if self._client is None:
                sdk = importlib.import_module(self.SDK_MODULE)
                extra: dict[str, Any] = {}
                if self._socket is not None:
                    self._http_client = extra["http_client"] = _socket_client(sdk, self._socket)
                self._client = getattr(sdk, self.SDK_CLIENT)(
                    api_key=self._api_key,
                    base_url=self.base_url,
                    timeout=self.timeout_s,
                    max_retries=0,
                    **extra,
                )
            return self._client

    def over_socket(self, socket: Path, *, base_url: str, api_key: str) -> Self:
        """A copy of this model whose SDK client sends every call over the Unix socket
        `socket` (the model gateway's host socket), to `base_url` (its path is what counts)
        with `api_key`, with state of its own (`_fresh`). Its errors still name this model's
        provider, model and key variable; `close` closes its connections."""
        twin = copy.copy(self)
        twin.base_url, twin._api_key, twin._socket = base_url, api_key, socket
        twin._client, twin._http_client, twin._lock = None, None, threading.Lock()
        twin._fresh()
        return twin

    def _fresh(self) -> None:
        """Give a copy (`over_socket`) state of its own; a subclass's memory of a conversation."""

    def close(self) -> None:
        """Close the connections of a model made by `over_socket` (others keep theirs)."""
        with self._lock:
            if self._http_client is not None:
                self._http_client.close()


def _socket_client(sdk: Any, socket: Path) -> Any:
    """An HTTP client of the SDK's own kind (its `DefaultHttpxClient`, on whichever HTTP
    library the SDK is built) over the Unix socket `socket`, reading no proxy settings:
    nothing stands between the host and its own socket."""
    default = sdk.DefaultHttpxClient
    client_class = next(c for c in default.__mro__ if c.__name__ == "Client")
    library = importlib.import_module(client_class.__module__.partition(".")[0])
    return default(transport=library.HTTPTransport(uds=str(socket)), trust_env=False)
