"""A fake OpenAI Chat Completions server (`POST /v1/chat/completions`), non-streaming.

Point the SDK at `server.base_url` (`http://127.0.0.1:PORT/v1`). Answers follow the real JSON
shapes: `id`, `object`, `created`, `model`, `choices[].message` (with `tool_calls`),
`finish_reason`, `usage` with `prompt_tokens_details` / `completion_tokens_details`; errors are
`{"error": {"message", "type", "param", "code"}}`.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes._http import FakeModelServer, now
from tests.fakes.script import Fault, Reply

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_denied",
    404: "invalid_request_error",
    429: "requests",
}


class FakeOpenAIServer(FakeModelServer):
    """Speaks enough of the Chat Completions API for the real `openai` SDK."""

    provider = "openai"
    path = "/v1/chat/completions"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def key_of(self, headers: dict[str, str]) -> str | None:
        auth = headers.get("authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None

    def extra_headers(self, n: int) -> dict[str, str]:
        return {"x-request-id": f"req_fake_{n}"}

    def render_models(self, names: list[str]) -> dict[str, Any]:
        data = [{"id": n, "object": "model", "created": now(), "owned_by": "fake"} for n in names]
        return {"object": "list", "data": data}

    def render_reply(self, reply: Reply, body: dict[str, Any], n: int) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.text if reply.text or not reply.tool_calls else None,
            "refusal": None,
        }
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                }
                for c in reply.tool_calls
            ]
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        out: dict[str, Any] = {
            "id": f"chatcmpl-fake{n}",
            "object": "chat.completion",
            "created": now(),
            "model": reply.model or body.get("model", "fake-model"),
            "system_fingerprint": "fp_fake",
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
        }
        if not reply.omit_usage:
            out["usage"] = (
                reply.raw_usage
                if reply.raw_usage is not None
                else {
                    "prompt_tokens": reply.input_tokens,
                    "completion_tokens": reply.output_tokens,
                    "total_tokens": reply.input_tokens + reply.output_tokens,
                    "prompt_tokens_details": {
                        "cached_tokens": reply.cached_tokens,
                        "audio_tokens": 0,
                    },
                    "completion_tokens_details": {
                        "reasoning_tokens": reply.reasoning_tokens,
                        "audio_tokens": 0,
                        "accepted_prediction_tokens": 0,
                        "rejected_prediction_tokens": 0,
                    },
                }
            )
        return out

    def render_fault(self, fault: Fault, body: dict[str, Any]) -> dict[str, Any]:
        kind = fault.type or _ERROR_TYPES.get(fault.status, "server_error")
        code = fault.code
        if code is None and fault.status == 429:
            code = "rate_limit_exceeded"
        return {
            "error": {
                "message": fault.message.replace("{model}", str(body.get("model", ""))),
                "type": kind,
                "param": None,
                "code": code,
            }
        }
