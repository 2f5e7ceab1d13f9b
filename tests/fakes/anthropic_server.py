"""A fake Anthropic Messages server (`POST /v1/messages`), non-streaming.

Point the SDK at `server.base_url` (`http://127.0.0.1:PORT`; the SDK adds `/v1/messages`).
Answers follow the real JSON shapes: `id`, `type: "message"`, `role`, `model`, `content`
blocks (`thinking`, `text`, `tool_use`), `stop_reason`, `stop_sequence`, `usage` with
`input_tokens` (uncached part), `cache_read_input_tokens`, `cache_creation_input_tokens`,
`output_tokens`; errors are `{"type": "error", "error": {"type", "message"}}`.
"""

from __future__ import annotations

from typing import Any

from tests.fakes._http import FakeModelServer
from tests.fakes.script import Fault, Reply

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class FakeAnthropicServer(FakeModelServer):
    """Speaks enough of the Messages API for the real `anthropic` SDK."""

    provider = "anthropic"
    path = "/v1/messages"

    def key_of(self, headers: dict[str, str]) -> str | None:
        """The key from `x-api-key`, or from `Authorization: Bearer` (as SDK 2.x sends it)."""
        auth = headers.get("authorization", "")
        return headers.get("x-api-key") or (auth[7:] if auth.startswith("Bearer ") else None)

    def extra_headers(self, n: int) -> dict[str, str]:
        return {"request-id": f"req_fake_{n}"}

    def render_models(self, names: list[str]) -> dict[str, Any]:
        data = [
            {"type": "model", "id": n, "display_name": n, "created_at": "2025-01-01T00:00:00Z"}
            for n in names
        ]
        return {"data": data, "has_more": False, "first_id": names[0], "last_id": names[-1]}

    def render_reply(self, reply: Reply, body: dict[str, Any], n: int) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if reply.thinking is not None:
            content.append({"type": "thinking", "thinking": reply.thinking, "signature": f"sig{n}"})
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        content.extend(
            {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
            for c in reply.tool_calls
        )
        stop = reply.finish_reason or ("tool_use" if reply.tool_calls else "end_turn")
        out: dict[str, Any] = {
            "id": f"msg_fake{n}",
            "type": "message",
            "role": "assistant",
            "model": reply.model or body.get("model", "fake-model"),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
        }
        if not reply.omit_usage:
            uncached = reply.input_tokens - reply.cached_tokens - reply.cache_write_tokens
            out["usage"] = (
                reply.raw_usage
                if reply.raw_usage is not None
                else {
                    "input_tokens": max(uncached, 0),
                    "cache_read_input_tokens": reply.cached_tokens,
                    "cache_creation_input_tokens": reply.cache_write_tokens,
                    "output_tokens": reply.output_tokens,
                }
            )
        return out

    def render_fault(self, fault: Fault, body: dict[str, Any]) -> dict[str, Any]:
        kind = fault.type or _ERROR_TYPES.get(fault.status, "api_error")
        message = fault.message.replace("{model}", str(body.get("model", "")))
        if fault.status == 404 and fault.code == "model_not_found":
            message = f"model: {body.get('model', '')}"
        if fault.code == "context_length_exceeded":
            message = "prompt is too long: 210000 tokens > 200000 maximum"
        return {"type": "error", "error": {"type": kind, "message": message}}
