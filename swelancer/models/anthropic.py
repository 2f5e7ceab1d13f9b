"""ChatModel over the official `anthropic` SDK (Messages API).

System messages become the `system` parameter; assistant tool calls become `tool_use` blocks;
tool results become `tool_result` blocks in a user message (consecutive ones, and any user text
after them, merged into one). The final block of the conversation is marked for prompt caching
(`prompt_cache=False` turns that off), so a long agent loop reads its history from the cache.

`reasoning_effort` sets how much the model thinks. On models from Claude 4.6 on (and any name
this module cannot date) a level (`low`, `medium`, `high`, `xhigh`, `max`) asks for adaptive
thinking at that effort (`output_config.effort`); on older models it turns on extended thinking
with a budget (`low` 2048 … `max` 32000 tokens). A number is always a thinking budget; `none`
turns thinking off. Thinking blocks are not part of our `Message`: the model keeps those of
each tool-calling reply, keyed by tool-call id, and sends them back with the next request, as
the API requires when thinking and tools are combined.

`temperature` is accepted for a uniform signature but never sent: the Messages API version
the SDK speaks rejects sampling parameters.

The SDK is imported on first use; its own retries are off (`swelancer.models.retry` does them).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from typing import Any

from swelancer.errors import ConfigError
from swelancer.models.base import (
    ChatResponse,
    LazySdkClient,
    Message,
    ToolCall,
    ToolSpec,
    Usage,
)
from swelancer.models.prices import Prices
from swelancer.models.retry import Endpoint, RetryPolicy, call_with_retry
from swelancer.models.windows import context_window_for

log = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 8192
DEFAULT_MAX_TOKENS_ADAPTIVE = 32_000
DEFAULT_TIMEOUT_S = 600.0
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
THINKING_BUDGETS = {"low": 2048, "medium": 8192, "high": 16384, "xhigh": 24576, "max": 32000}
_THINKING_KEEP = 512  # replies whose thinking blocks are remembered
_VERSION = re.compile(
    r"claude-(?:(\d+)(?:-(\d))?-[a-z]+|[a-z]+-(\d+)(?:-(\d{1,2}))?)(?=$|[-@])", re.IGNORECASE
)


def claude_version(model: str) -> tuple[int, int] | None:
    """(major, minor) of a Claude model name (`claude-3-7-sonnet` → (3, 7), `claude-opus-4-6`
    → (4, 6), `claude-sonnet-4-20250514` → (4, 0)); None when the name tells no version."""
    found = _VERSION.search(model.rsplit("/", 1)[-1])
    if not found:
        return None
    major = found.group(1) or found.group(3)
    minor = found.group(2) or found.group(4) or "0"
    return int(major), int(minor)


def adaptive_thinking(model: str) -> bool:
    """Whether the model takes adaptive thinking with an effort level (Claude 4.6 and later,
    and names without a version, which are taken to be new)."""
    version = claude_version(model)
    return version is None or version >= (4, 6)


def thinking_params(model: str, reasoning_effort: str | None) -> tuple[dict[str, Any], int]:
    """(request parameters, thinking budget or 0) for a reasoning effort on `model`."""
    if reasoning_effort is None or not reasoning_effort.strip():
        return {}, 0
    effort = reasoning_effort.strip().lower()
    if effort in ("none", "off", "disabled"):
        return {"thinking": {"type": "disabled"}}, 0
    if effort == "minimal":
        effort = "low"
    if effort.isdigit() and int(effort) >= 1024:
        return {"thinking": {"type": "enabled", "budget_tokens": int(effort)}}, int(effort)
    if effort not in EFFORT_LEVELS:
        raise ConfigError(
            f"Reasoning effort '{reasoning_effort}' is not understood for Anthropic models: use "
            f"one of {', '.join(EFFORT_LEVELS)}, none, or a thinking budget of at least 1024 "
            "tokens."
        )
    if adaptive_thinking(model):
        return {"thinking": {"type": "adaptive"}, "output_config": {"effort": effort}}, 0
    budget = THINKING_BUDGETS[effort]
    return {"thinking": {"type": "enabled", "budget_tokens": budget}}, budget


def to_anthropic_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    """Our tool specs as Messages API tools."""
    return [
        {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
    ]


def to_anthropic_messages(
    messages: list[Message], thinking: dict[str, list[dict[str, Any]]] | None = None
) -> tuple[str | None, list[dict[str, Any]]]:
    """(system text, messages) for the Messages API; consecutive same-role turns merged.

    `thinking` maps a tool-call id to the thinking blocks that came with it, which are put
    back in front of the assistant turn that made the call.
    """
    system = [m.content for m in messages if m.role == "system" and m.content]
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": m.tool_call_id or "",
                "content": m.content,
            }
            add("user", [block])
        elif m.role == "assistant":
            blocks: list[dict[str, Any]] = []
            for call in m.tool_calls:
                if thinking and call.id in thinking:
                    blocks.extend(thinking[call.id])
                    break
            if m.content:
                blocks.append({"type": "text", "text": m.content})
            blocks.extend(
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                for c in m.tool_calls
            )
            add("assistant", blocks)
        elif m.content:
            add("user", [{"type": "text", "text": m.content}])
    return ("\n\n".join(system) or None), turns


def usage_from_anthropic(usage: Any) -> tuple[Usage, int]:
    """(our Usage, cache-write tokens). Our `input_tokens` is the total input: uncached +
    cache reads + cache writes."""
    if usage is None:
        return Usage(), 0
    uncached = getattr(usage, "input_tokens", None) or 0
    read = getattr(usage, "cache_read_input_tokens", None) or 0
    written = getattr(usage, "cache_creation_input_tokens", None) or 0
    details = getattr(usage, "output_tokens_details", None)
    reasoning = getattr(details, "thinking_tokens", None) or 0
    return (
        Usage(
            input_tokens=uncached + read + written,
            cached_input_tokens=read,
            output_tokens=getattr(usage, "output_tokens", None) or 0,
            reasoning_tokens=reasoning,
        ),
        written,
    )


def message_from_anthropic(reply: Any) -> tuple[Message, list[dict[str, Any]]]:
    """The assistant message of a Messages API reply, and its thinking blocks (as params)."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    thinking: list[dict[str, Any]] = []
    for block in getattr(reply, "content", None) or []:
        kind = getattr(block, "type", None)
        if kind == "text":
            texts.append(block.text)
        elif kind == "tool_use":
            args = block.input if isinstance(block.input, dict) else {"_input": block.input}
            calls.append(ToolCall(id=block.id, name=block.name, arguments=args))
        elif kind == "thinking":
            thinking.append(
                {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
            )
        elif kind == "redacted_thinking":
            thinking.append({"type": "redacted_thinking", "data": block.data})
    return Message(role="assistant", content="".join(texts), tool_calls=calls), thinking


def mark_cache_point(turns: list[dict[str, Any]]) -> None:
    """Ask the API to cache the prompt up to the last block of the last turn."""
    if not turns or not turns[-1]["content"]:
        return
    last = turns[-1]["content"][-1]
    if last.get("type") in ("text", "tool_result", "tool_use"):
        turns[-1]["content"][-1] = {**last, "cache_control": {"type": "ephemeral"}}


class AnthropicChatModel(LazySdkClient):
    """A chat model served by Anthropic's Messages API."""

    SDK_MODULE = "anthropic"
    SDK_CLIENT = "Anthropic"

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        temperature: float | None = None,
        reasoning_effort: str | None = None,
        max_output_tokens: int | None = None,
        context_window: int | None = None,
        retry_budget_s: float = 1200.0,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry_policy: RetryPolicy | None = None,
        unreachable_s: float = 120.0,
        prompt_cache: bool = True,
        prices: Prices | None = None,
        name: str | None = None,
        provider: str = "Anthropic",
        key_env: str | None = "ANTHROPIC_API_KEY",
    ) -> None:
        """`max_output_tokens` caps all output, thinking included (default 8192 plus any
        thinking budget; 32000 with adaptive thinking). `retry_policy` replaces the default
        policy (and `retry_budget_s`). `prices` costs each call (the built-in table when
        None)."""
        self.model = model
        self.name = name or model
        self.context_window = context_window or context_window_for(model)
        self.prices = Prices() if prices is None else prices
        self.base_url = base_url
        self.reasoning_effort = reasoning_effort
        self.thinking, budget = thinking_params(model, reasoning_effort)
        default_max = (
            DEFAULT_MAX_TOKENS_ADAPTIVE
            if self.thinking.get("thinking", {}).get("type") == "adaptive"
            else DEFAULT_MAX_TOKENS + budget
        )
        self.max_tokens = max_output_tokens or default_max
        if budget and budget >= self.max_tokens:
            raise ConfigError(
                f"max output tokens ({self.max_tokens}) must exceed the thinking budget "
                f"({budget}) of reasoning effort '{reasoning_effort}'."
            )
        if temperature is not None:
            log.warning("%s: temperature is not sent (the Messages API rejects it)", model)
        self.prompt_cache = prompt_cache
        self.timeout_s = timeout_s
        self.retry_policy = retry_policy or RetryPolicy(
            budget_s=retry_budget_s, unreachable_s=unreachable_s
        )
        self.endpoint = Endpoint(provider=provider, model=model, key_env=key_env)
        self._api_key = api_key
        self._client: Any = None
        self._lock = threading.Lock()
        self._thinking: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    def _fresh(self) -> None:
        self._thinking = OrderedDict()

    def __repr__(self) -> str:
        return f"AnthropicChatModel({self.model!r}, base_url={self.base_url!r})"

    def request_params(
        self, messages: list[Message], tools: list[ToolSpec] | None = None
    ) -> dict[str, Any]:
        """The keyword arguments of `messages.create` for this call."""
        with self._lock:
            thinking = dict(self._thinking)
        system, turns = to_anthropic_messages(messages, thinking)
        if self.prompt_cache:
            mark_cache_point(turns)
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": turns,
        }
        if system:
            params["system"] = system
        if tools:
            params["tools"] = to_anthropic_tools(tools)
        params.update(self.thinking)
        return params

    def _remember_thinking(self, calls: list[ToolCall], blocks: list[dict[str, Any]]) -> None:
        if not calls or not blocks:
            return
        with self._lock:
            for call in calls:
                self._thinking[call.id] = blocks
            while len(self._thinking) > _THINKING_KEEP:
                self._thinking.popitem(last=False)

    def complete(
        self, messages: list[Message], tools: list[ToolSpec] | None = None
    ) -> ChatResponse:
        """One model call, retried on transient faults; `ModelError` on fatal ones."""
        params = self.request_params(messages, tools)
        client = self.client()
        reply, retries = call_with_retry(
            lambda: client.messages.create(**params),
            endpoint=self.endpoint,
            policy=self.retry_policy,
        )
        message, thinking = message_from_anthropic(reply)
        self._remember_thinking(message.tool_calls, thinking)
        usage, written = usage_from_anthropic(getattr(reply, "usage", None))
        return ChatResponse(
            message=message,
            usage=usage,
            cost_usd=self.prices.cost_usd(self.model, usage, cache_write_tokens=written),
            model=getattr(reply, "model", None) or self.model,
            finish_reason=getattr(reply, "stop_reason", None),
            retries=retries,
        )
