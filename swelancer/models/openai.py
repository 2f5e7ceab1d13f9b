"""ChatModel over the official `openai` SDK (Chat Completions), also for any OpenAI-compatible
server (OpenRouter, vLLM, a local proxy) through `base_url`.

The SDK is imported on first use, so importing this module stays cheap. The SDK's own retries
are off; `swelancer.models.retry` does them, within one time budget.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

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

DEFAULT_TIMEOUT_S = 600.0
_REASONING_NAME = re.compile(r"^(o\d|gpt-([5-9]|\d\d))", re.IGNORECASE)


def is_reasoning_model(model: str) -> bool:
    """o-series and gpt-5 (and later) models, except `*-chat*` ones: these take
    `max_completion_tokens` and `reasoning_effort`, and no temperature."""
    name = model.rsplit("/", 1)[-1].lower()
    return bool(_REASONING_NAME.match(name)) and "-chat" not in name


def to_openai_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Our messages as Chat Completions messages (tool calls with JSON-encoded arguments)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content})
        elif m.role == "assistant" and m.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    "content": m.content or None,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                        }
                        for c in m.tool_calls
                    ],
                }
            )
        else:
            out.append({"role": m.role, "content": m.content})
    return out


def to_openai_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    """Our tool specs as Chat Completions function tools."""
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def parse_arguments(raw: str | None) -> dict[str, Any]:
    """Tool-call arguments from the model's JSON text. Text that is not a JSON object is kept
    whole under `_invalid_json`, so the agent loop can tell the model."""
    if not raw or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {"_invalid_json": raw}
    return value if isinstance(value, dict) else {"_invalid_json": raw}


def usage_from_openai(usage: Any) -> Usage:
    """Our Usage from a `CompletionUsage` (any field may be missing or None)."""
    if usage is None:
        return Usage()
    prompt = getattr(usage, "prompt_tokens", None) or 0
    completion = getattr(usage, "completion_tokens", None) or 0
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    cached = getattr(prompt_details, "cached_tokens", None) or 0
    reasoning = getattr(completion_details, "reasoning_tokens", None) or 0
    return Usage(
        input_tokens=prompt,
        cached_input_tokens=cached,
        output_tokens=completion,
        reasoning_tokens=reasoning,
    )


def message_from_openai(completion: Any) -> tuple[Message, str | None]:
    """The assistant message and finish reason of a `ChatCompletion` (empty if no choice)."""
    choices = getattr(completion, "choices", None) or []
    if not choices:
        return Message(role="assistant"), None
    choice = choices[0]
    msg = choice.message
    content = msg.content or getattr(msg, "refusal", None) or ""
    calls = [
        ToolCall(id=c.id, name=c.function.name, arguments=parse_arguments(c.function.arguments))
        for c in (msg.tool_calls or [])
        if getattr(c, "type", "function") == "function" and getattr(c, "function", None)
    ]
    return Message(role="assistant", content=content, tool_calls=calls), choice.finish_reason


class OpenAIChatModel(LazySdkClient):
    """A chat model served by the Chat Completions API of OpenAI or a compatible server."""

    SDK_MODULE = "openai"
    SDK_CLIENT = "OpenAI"

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
        reasoning: bool | None = None,
        prices: Prices | None = None,
        name: str | None = None,
        provider: str = "OpenAI",
        key_env: str | None = "OPENAI_API_KEY",
    ) -> None:
        """`reasoning` forces (or denies) reasoning-model parameters; by default it follows the
        name. `retry_policy` replaces the default policy (and `retry_budget_s`) entirely.
        `prices` costs each call (the built-in table when None)."""
        self.model = model
        self.name = name or model
        self.context_window = context_window or context_window_for(model)
        self.prices = Prices() if prices is None else prices
        self.base_url = base_url
        self.temperature = temperature
        self.reasoning_effort = reasoning_effort
        self.max_output_tokens = max_output_tokens
        self.timeout_s = timeout_s
        self.reasoning = is_reasoning_model(model) if reasoning is None else reasoning
        self.retry_policy = retry_policy or RetryPolicy(
            budget_s=retry_budget_s, unreachable_s=unreachable_s
        )
        self.endpoint = Endpoint(provider=provider, model=model, key_env=key_env)
        self._api_key = api_key
        self._client: Any = None
        self._lock = threading.Lock()
        if self.reasoning and temperature is not None:
            log.warning("%s is a reasoning model: temperature %s is not sent", model, temperature)

    def __repr__(self) -> str:
        return f"OpenAIChatModel({self.model!r}, base_url={self.base_url!r})"

    def request_params(
        self, messages: list[Message], tools: list[ToolSpec] | None = None
    ) -> dict[str, Any]:
        """The keyword arguments of `chat.completions.create` for this call."""
        params: dict[str, Any] = {"model": self.model, "messages": to_openai_messages(messages)}
        if tools:
            params["tools"] = to_openai_tools(tools)
        if self.reasoning:
            if self.max_output_tokens is not None:
                params["max_completion_tokens"] = self.max_output_tokens
        else:
            if self.max_output_tokens is not None:
                params["max_tokens"] = self.max_output_tokens
            if self.temperature is not None:
                params["temperature"] = self.temperature
        if self.reasoning_effort is not None:
            params["reasoning_effort"] = self.reasoning_effort
        return params

    def complete(
        self, messages: list[Message], tools: list[ToolSpec] | None = None
    ) -> ChatResponse:
        """One model call, retried on transient faults; `ModelError` on fatal ones."""
        params = self.request_params(messages, tools)
        client = self.client()
        completion, retries = call_with_retry(
            lambda: client.chat.completions.create(**params),
            endpoint=self.endpoint,
            policy=self.retry_policy,
        )
        message, finish_reason = message_from_openai(completion)
        usage = usage_from_openai(getattr(completion, "usage", None))
        return ChatResponse(
            message=message,
            usage=usage,
            cost_usd=self.prices.cost_usd(self.model, usage),
            model=getattr(completion, "model", None) or self.model,
            finish_reason=finish_reason,
            retries=retries,
        )
