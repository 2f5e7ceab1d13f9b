"""What a fake model server answers: scripted replies and faults, provider-neutral.

Each fake server renders these in its own protocol. A script is a queue of steps; a step is a
`Reply`, a `Fault`, a raw JSON body (dict, sent with status 200) or a callable that receives
the request's JSON body and returns one of those.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Union

from swelancer.models.base import ToolCall


@dataclass
class Reply:
    """A successful model answer.

    `input_tokens` is the whole prompt, cached tokens included (as OpenAI counts it); the
    Anthropic server splits it into uncached, cache-read and cache-write parts.
    """

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    input_tokens: int = 12
    output_tokens: int = 7
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_tokens: int = 0
    finish_reason: str | None = None  # default: tool_calls/stop or tool_use/end_turn
    model: str | None = None  # default: the model of the request
    thinking: str | None = None  # Anthropic: a thinking block before the text
    raw_usage: dict[str, Any] | None = None  # the usage object verbatim, instead of the above
    omit_usage: bool = False
    delay_s: float = 0.0  # wait this long before answering (for client timeouts)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """An error answer, or a connection dropped without any answer (`drop=True`).

    `message` may contain `{model}`, filled from the request. `type`/`code` default to what the
    provider sends for the status.
    """

    status: int = 500
    message: str = "The server had an error while processing your request."
    headers: dict[str, str] = field(default_factory=dict)
    type: str | None = None
    code: str | None = None
    drop: bool = False
    delay_s: float = 0.0


Step = Union[Reply, Fault, dict[str, Any], Callable[[dict[str, Any]], Any]]  # noqa: UP007


def rate_limited(
    retry_after: float | str | None = 1, *, retry_after_ms: float | None = None
) -> Fault:
    """429 with `retry-after` (seconds) and/or `retry-after-ms` headers."""
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    return Fault(429, "Rate limit reached for {model}. Please try again later.", headers)


def server_error(status: int = 500) -> Fault:
    """A 5xx error."""
    return Fault(status, "The server had an error while processing your request.")


def overloaded() -> Fault:
    """Anthropic's 529 overloaded_error."""
    return Fault(529, "Overloaded", type="overloaded_error")


def unauthorized() -> Fault:
    """401: the key is not accepted."""
    return Fault(401, "Incorrect API key provided.", code="invalid_api_key")


def model_not_found(model: str | None = None) -> Fault:
    """404: the model does not exist (for `model`, or for whatever the request named)."""
    name = model or "{model}"
    return Fault(
        404,
        f"The model `{name}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def bad_request(message: str = "Invalid request.", code: str | None = None) -> Fault:
    """400 with a message."""
    return Fault(400, message, code=code)


def context_length_exceeded() -> Fault:
    """400: the prompt is longer than the context window."""
    return Fault(
        400,
        "This model's maximum context length is 128000 tokens; prompt is too long.",
        code="context_length_exceeded",
    )


def dropped() -> Fault:
    """Close the connection after reading the request, without answering."""
    return Fault(drop=True)


def slow(delay_s: float, text: str = "late answer") -> Reply:
    """A reply that comes after `delay_s` seconds (longer than a client timeout)."""
    return Reply(text=text, delay_s=delay_s)
