"""What the gateway knows of the three protocols: which paths it serves, how each family's
errors look, where each response puts its tokens, and which requests use provider-side tools.

Families: `anthropic` (Messages) and `openai` (Chat Completions and Responses). Everything here
works on parsed JSON; nothing imports an SDK.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from swelancer.models.base import Usage

Family = Literal["anthropic", "openai"]


@dataclass(frozen=True)
class Route:
    """A path the gateway serves: its family, and whether calls on it are metered."""

    family: Family
    metered: bool


ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/v1/messages"): Route("anthropic", True),
    ("POST", "/v1/messages/count_tokens"): Route("anthropic", False),
    ("POST", "/v1/chat/completions"): Route("openai", True),
    ("POST", "/v1/responses"): Route("openai", True),
    ("GET", "/v1/models"): Route("openai", False),
}
"""Everything else is refused (404): the gateway is no general proxy."""


def route_for(method: str, path: str, *, anthropic_hint: bool) -> Route | None:
    """The route of a request, or None. `GET /v1/models` is both families' listing; a request
    with Anthropic's version header is taken as Anthropic's."""
    route = ROUTES.get((method, path.split("?", 1)[0].rstrip("/")))
    if route is not None and path.startswith("/v1/models") and anthropic_hint:
        return Route("anthropic", False)
    return route


def error_body(family: Family, kind: str, message: str) -> bytes:
    """An error in the family's own shape, so that its SDKs and CLIs show `message`."""
    if family == "anthropic":
        payload: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    else:
        payload = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
    return json.dumps(payload).encode()


# Provider-side tools: run by the provider, outside the sandbox. Client-side tools (bash, the
# text editor, computer use) are run by the agent in the container and stay allowed.
_ANTHROPIC_SERVER_TOOLS = ("web_search", "web_fetch", "code_execution", "mcp")
_OPENAI_SERVER_TOOLS = (
    "web_search",
    "file_search",
    "code_interpreter",
    "mcp",
    "image_generation",
)


def bypassing_tools(path: str, body: dict[str, Any]) -> list[str]:
    """Names of the provider-side tools `body` asks for (web search, code execution, remote
    MCP, …): each would reach outside the sandbox through the provider."""
    found: list[str] = []
    tools = body.get("tools")
    kinds = (
        [str(t.get("type", "")) for t in tools if isinstance(t, dict)]
        if isinstance(tools, list)
        else []
    )
    if path.startswith("/v1/messages"):
        found += [k for k in kinds if k.startswith(_ANTHROPIC_SERVER_TOOLS)]
        if body.get("mcp_servers"):
            found.append("mcp_servers")
    else:
        found += [k for k in kinds if k.startswith(_OPENAI_SERVER_TOOLS)]
        if body.get("web_search_options") is not None:
            found.append("web_search_options")
        if "search" in str(body.get("model", "")).rsplit("/", 1)[-1].split("-"):
            found.append(f"model {body.get('model')}")
    return found


@dataclass
class Metered:
    """Tokens read from one response (JSON or its stream's events), and the model it names."""

    usage: Usage = field(default_factory=Usage)
    cache_write_tokens: int = 0
    model: str | None = None
    seen: bool = False
    """Whether the response carried a usage at all."""
    fault: str | None = None
    """Why part of the response could not be read for its usage, if it could not."""
    _anthropic: dict[str, int] = field(default_factory=dict)


MAX_TOKENS = 10**12
"""A count past this is taken as this: no reply holds more, and a float could not price it."""


def _int(value: Any) -> int:
    """A token count as the providers' SDKs read it: a positive whole number, also when
    written as a float (`1000.0`); anything else (negative, text, a bool, None) counts 0."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return 0
    return min(value, MAX_TOKENS)


def json_object(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


_ANTHROPIC_FIELDS = (
    "input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "output_tokens"
)  # fmt: skip


def _anthropic_usage(raw: dict[str, Any], into: Metered) -> None:
    """Anthropic's counts (a stream's `message_delta` repeats them, cumulative; a field it
    leaves out keeps its earlier count). Its `input_tokens` is the uncached part; ours
    includes the cached and cache-write ones. Thinking tokens, when it tells them, are part
    of its output tokens (as `models.anthropic` reads them)."""
    into.seen = True
    for key in _ANTHROPIC_FIELDS:
        if key in raw:
            into._anthropic[key] = max(_int(raw[key]), into._anthropic.get(key, 0))
    details = raw.get("output_tokens_details")
    if isinstance(details, dict) and "thinking_tokens" in details:
        thinking = _int(details["thinking_tokens"])
        into._anthropic["thinking_tokens"] = max(
            thinking, into._anthropic.get("thinking_tokens", 0)
        )
    got = into._anthropic
    cached, written = (
        got.get("cache_read_input_tokens", 0),
        got.get("cache_creation_input_tokens", 0),
    )
    into.cache_write_tokens = written
    into.usage = Usage(
        input_tokens=got.get("input_tokens", 0) + cached + written,
        cached_input_tokens=cached,
        output_tokens=got.get("output_tokens", 0),
        reasoning_tokens=got.get("thinking_tokens", 0),
    )


def _openai_usage(raw: dict[str, Any], into: Metered) -> None:
    """Chat Completions (`prompt_tokens`…) or Responses (`input_tokens`…)."""
    into.seen = True
    if "prompt_tokens" in raw:
        inp, out = _int(raw.get("prompt_tokens")), _int(raw.get("completion_tokens"))
        cached = _int(json_object(raw.get("prompt_tokens_details")).get("cached_tokens"))
        reasoning = _int(json_object(raw.get("completion_tokens_details")).get("reasoning_tokens"))
    else:
        inp, out = _int(raw.get("input_tokens")), _int(raw.get("output_tokens"))
        cached = _int(json_object(raw.get("input_tokens_details")).get("cached_tokens"))
        reasoning = _int(json_object(raw.get("output_tokens_details")).get("reasoning_tokens"))
    into.usage = Usage(
        input_tokens=inp, cached_input_tokens=cached, output_tokens=out,
        reasoning_tokens=reasoning,
    )  # fmt: skip


def meter_json(family: Family, payload: Any, into: Metered) -> None:
    """Read the usage and model of one JSON body: a whole response or one stream event. A body
    it cannot read is noted (`Metered.fault`), never raised: the answer still goes through."""
    try:
        _meter(family, payload, into)
    except Exception as err:  # a provider's odd body must not cost the agent its answer
        into.fault = f"{type(err).__name__}: {err}"[:300]


def _meter(family: Family, payload: Any, into: Metered) -> None:
    if not isinstance(payload, dict):
        return
    if family == "anthropic":
        message = payload.get("message") if payload.get("type") == "message_start" else payload
        if isinstance(message, dict):
            if isinstance(message.get("model"), str):
                into.model = message["model"]
            if isinstance(message.get("usage"), dict):
                _anthropic_usage(message["usage"], into)
        if payload.get("type") == "message_delta" and isinstance(payload.get("usage"), dict):
            _anthropic_usage(payload["usage"], into)
        return
    # Responses streams wrap the response in `response.completed` / `.incomplete` / `.failed`.
    inner = payload.get("response")
    body = inner if isinstance(inner, dict) else payload
    if isinstance(body.get("model"), str):
        into.model = body["model"]
    if isinstance(body.get("usage"), dict):
        _openai_usage(body["usage"], into)


class EventReader:
    """Server-sent events read as they pass: each complete event's `data:` JSON is metered and
    kept (up to `keep` events) for the record."""

    def __init__(self, family: Family, into: Metered, keep: int = 2000) -> None:
        self.family, self.into, self.keep = family, into, keep
        self.events: list[Any] = []
        self._buffer = b""

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        *complete, self._buffer = self._buffer.replace(b"\r\n", b"\n").split(b"\n\n")
        for event in complete:
            self._event(event)

    def close(self) -> None:
        if self._buffer.strip():
            self._event(self._buffer)
        self._buffer = b""

    def _event(self, raw: bytes) -> None:
        data = b"\n".join(
            line[5:].lstrip() for line in raw.split(b"\n") if line.startswith(b"data:")
        )
        if not data or data == b"[DONE]":
            return
        try:
            payload = json.loads(data)
        except ValueError:
            return
        meter_json(self.family, payload, self.into)
        if len(self.events) < self.keep:
            self.events.append(payload)
