"""A recorded model call as a turn of the transcript: the reply's text, tool calls and finish
reason, read from the answer the gateway kept (a JSON body, or a stream's events) in any of the
three protocols, in the shape of the turn loop's `model` events (so `swelancer view`, the HTML
report and the spend read from a transcript show an installed agent's turns as any model's)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from swelancer.gateway.ledger import CallRecord


def _calls(pairs: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for name, arguments in pairs:
        if isinstance(arguments, str):
            with contextlib.suppress(ValueError):  # a cut-off stream keeps its text
                arguments = json.loads(arguments) if arguments.strip() else {}
        out.append({"name": name, "arguments": arguments})
    return out


def _anthropic(response: Any) -> tuple[str, list[dict[str, Any]], str | None]:
    if isinstance(response, dict):  # a whole message
        blocks = response.get("content") or []
        text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
        calls = [(b.get("name", "?"), b.get("input")) for b in blocks
                 if b.get("type") == "tool_use"]  # fmt: skip
        return text, _calls(calls), response.get("stop_reason")
    texts: dict[int, str] = {}
    tools: dict[int, list[Any]] = {}
    finish = None
    for event in response if isinstance(response, list) else []:
        kind, index = event.get("type"), event.get("index", 0)
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                tools[index] = [block.get("name", "?"), ""]
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                texts[index] = texts.get(index, "") + delta.get("text", "")
            elif delta.get("type") == "input_json_delta" and index in tools:
                tools[index][1] += delta.get("partial_json", "")
        elif kind == "message_delta":
            finish = (event.get("delta") or {}).get("stop_reason") or finish
    text = "".join(texts[i] for i in sorted(texts))
    return text, _calls([(n, a) for n, a in (tools[i] for i in sorted(tools))]), finish


def _responses(response: Any) -> tuple[str, list[dict[str, Any]], str | None]:
    if isinstance(response, list):  # a stream: its last `response.*` event holds the whole
        done = [e.get("response") for e in response if isinstance(e.get("response"), dict)]
        response = done[-1] if done else {}
    items = response.get("output") or [] if isinstance(response, dict) else []
    text = "".join(
        part.get("text", "")
        for item in items
        if item.get("type") == "message"
        for part in item.get("content") or []
        if part.get("type") == "output_text"
    )
    calls = [(i.get("name", "?"), i.get("arguments")) for i in items
             if i.get("type") == "function_call"]  # fmt: skip
    return text, _calls(calls), response.get("status") if isinstance(response, dict) else None


def _chat(response: Any) -> tuple[str, list[dict[str, Any]], str | None]:
    if isinstance(response, dict):
        choice = (response.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        calls = [((c.get("function") or {}).get("name", "?"), (c.get("function") or {}).get(
            "arguments")) for c in message.get("tool_calls") or []]  # fmt: skip
        return message.get("content") or "", _calls(calls), choice.get("finish_reason")
    text, finish = "", None
    tools: dict[int, list[str]] = {}
    for chunk in response if isinstance(response, list) else []:
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            text += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                slot = tools.setdefault(call.get("index", 0), ["?", ""])
                function = call.get("function") or {}
                slot[0] = function.get("name") or slot[0]
                slot[1] += function.get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    return text, _calls([(n, a) for n, a in (tools[i] for i in sorted(tools))]), finish


def turn_event(record: CallRecord, turn: int) -> dict[str, Any]:
    """The fields of the transcript's `model` event for one answered call."""
    path = record.path.split("?", 1)[0]
    read = _anthropic if path.startswith("/v1/messages") else (
        _responses if path.startswith("/v1/responses") else _chat)  # fmt: skip
    try:
        text, calls, finish = read(record.response)
    except (AttributeError, TypeError):  # an answer of an unexpected shape: its turn, no text
        text, calls, finish = "", [], None
    return {
        "turn": turn,
        "content": text,
        "tool_calls": calls,
        "usage": record.usage.model_dump(),
        "cost_usd": record.cost_usd,
        "seconds": record.seconds,
        "finish_reason": finish,
        "model_name": record.model,
    }
