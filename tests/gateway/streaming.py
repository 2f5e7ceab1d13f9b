"""The fake model servers with streaming, and a fake OpenAI Responses server.

A request with `"stream": true` is answered with server-sent events built from the same
scripted `Reply` the JSON answer is rendered from, in each protocol's event shapes
(Anthropic: `message_start`, `content_block_*`, `message_delta`, `message_stop`; Chat
Completions: `chat.completion.chunk`s, a usage chunk when `stream_options.include_usage`, then
`[DONE]`; Responses: `response.created`, `response.output_item.*`, `response.completed`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes import FakeAnthropicServer, FakeOpenAIServer
from tests.fakes._http import FakeModelServer, RecordedRequest, now
from tests.fakes.script import Fault, Reply


def _sse(events: Iterator[tuple[str | None, Any]]) -> bytes:
    out = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        out.append((f"event: {name}\n" if name else "") + f"data: {text}\n\n")
    return "".join(out).encode()


class _Streaming(FakeModelServer):
    def events(
        self, payload: dict[str, Any], body: dict[str, Any]
    ) -> Iterator[tuple[str | None, Any]]:
        raise NotImplementedError

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        if not (isinstance(body, dict) and body.get("stream")):
            h.rfile = io.BytesIO(raw)  # type: ignore[assignment]
            return super()._handle(h)
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self._lock:
            self.requests.append(RecordedRequest(h.command, h.path, headers, body, raw))
            self._count += 1
            n = self._count
        if self.expected_key is not None and self.key_of(headers) != self.expected_key:
            fault = Fault(401, "Incorrect API key provided.", code="invalid_api_key")
            return self._send(h, 401, self.render_fault(fault, body), {})
        step = self._next_step(body)
        if isinstance(step, Fault):
            return self._send(h, step.status, self.render_fault(step, body), step.headers)
        assert isinstance(step, Reply), step
        data = _sse(self.events(self.render_reply(step, body, n), body))
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("content-length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()
        return None


class StreamingAnthropicServer(_Streaming, FakeAnthropicServer):
    """Anthropic Messages, JSON or streamed."""

    def events(
        self, payload: dict[str, Any], body: dict[str, Any]
    ) -> Iterator[tuple[str | None, Any]]:
        usage = dict(payload.get("usage") or {})
        start = {
            **payload,
            "content": [],
            "stop_reason": None,
            "usage": {**usage, "output_tokens": 1},
        }
        yield "message_start", {"type": "message_start", "message": start}
        for i, block in enumerate(payload["content"]):
            kind = block["type"]
            empty = {
                "text": {"type": "text", "text": ""},
                "thinking": {"type": "thinking", "thinking": "", "signature": ""},
                "tool_use": {**block, "input": {}},
            }[kind]
            yield (
                "content_block_start",
                {"type": "content_block_start", "index": i, "content_block": empty},
            )
            if kind == "text":
                delta = {"type": "text_delta", "text": block["text"]}
            elif kind == "thinking":
                delta = {"type": "thinking_delta", "thinking": block["thinking"]}
            else:
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            yield "content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}
            if kind == "thinking":
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": i,
                        "delta": {"type": "signature_delta", "signature": block["signature"]},
                    },
                )
            yield "content_block_stop", {"type": "content_block_stop", "index": i}
        yield (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": payload["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage.get("output_tokens", 0)},
            },
        )
        yield "message_stop", {"type": "message_stop"}


class StreamingOpenAIServer(_Streaming, FakeOpenAIServer):
    """Chat Completions, JSON or streamed."""

    def events(
        self, payload: dict[str, Any], body: dict[str, Any]
    ) -> Iterator[tuple[str | None, Any]]:
        base = {k: payload[k] for k in ("id", "created", "model", "system_fingerprint")}
        base["object"] = "chat.completion.chunk"
        choice = payload["choices"][0]
        message = choice["message"]
        delta: dict[str, Any] = {"role": "assistant", "content": message.get("content") or ""}
        if message.get("tool_calls"):
            delta["tool_calls"] = [{"index": i, **c} for i, c in enumerate(message["tool_calls"])]
        yield None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        yield (
            None,
            {
                **base,
                "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}],
            },
        )
        if (body.get("stream_options") or {}).get("include_usage"):
            yield None, {**base, "choices": [], "usage": payload.get("usage")}
        yield None, "[DONE]"


class FakeResponsesServer(_Streaming, FakeOpenAIServer):
    """OpenAI Responses (`POST /v1/responses`), JSON or streamed."""

    path = "/v1/responses"

    def render_reply(self, reply: Reply, body: dict[str, Any], n: int) -> dict[str, Any]:
        output: list[dict[str, Any]] = []
        if reply.text:
            output.append(
                {
                    "type": "message",
                    "id": f"msg_{n}",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
                }
            )
        output += [
            {
                "type": "function_call",
                "id": f"fc_{n}_{i}",
                "call_id": c.id,
                "name": c.name,
                "arguments": json.dumps(c.arguments),
                "status": "completed",
            }
            for i, c in enumerate(reply.tool_calls)
        ]
        return {
            "id": f"resp_fake{n}",
            "object": "response",
            "created_at": now(),
            "status": "completed",
            "model": reply.model or body.get("model", "fake-model"),
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": {
                "input_tokens": reply.input_tokens,
                "input_tokens_details": {"cached_tokens": reply.cached_tokens},
                "output_tokens": reply.output_tokens,
                "output_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
                "total_tokens": reply.input_tokens + reply.output_tokens,
            },
        }

    def events(
        self, payload: dict[str, Any], body: dict[str, Any]
    ) -> Iterator[tuple[str | None, Any]]:
        seq = iter(range(10_000))
        started = {**payload, "status": "in_progress", "output": [], "usage": None}
        yield (
            "response.created",
            {"type": "response.created", "response": started, "sequence_number": next(seq)},
        )
        for i, item in enumerate(payload["output"]):
            yield (
                "response.output_item.added",
                {
                    "type": "response.output_item.added",
                    "output_index": i,
                    "item": item,
                    "sequence_number": next(seq),
                },
            )
            yield (
                "response.output_item.done",
                {
                    "type": "response.output_item.done",
                    "output_index": i,
                    "item": item,
                    "sequence_number": next(seq),
                },
            )
        yield (
            "response.completed",
            {"type": "response.completed", "response": payload, "sequence_number": next(seq)},
        )
