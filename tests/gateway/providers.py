"""A raw provider on 127.0.0.1 for attacks on the gateway: each POST is answered by a function
of the test's, which writes whatever bytes it likes (odd usages, cut or trickled bodies)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Provider:
    """A provider on 127.0.0.1; each POST handled by `answer(handler, n)` (n counts from 1);
    `got` is set at the first."""

    def __init__(self, answer: Any) -> None:
        self.answer, self.calls, self.got = answer, 0, threading.Event()
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                self.rfile.read(n)
                outer.calls += 1
                outer.got.set()
                outer.answer(self, outer.calls)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def completion(usage: Any, text: str = "ok") -> dict[str, Any]:
    return {
        "id": "chatcmpl-x", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": text, "refusal": None}}],
        "usage": usage,
    }  # fmt: skip


def send_json(h: BaseHTTPRequestHandler, payload: Any, extra: dict[str, str] | None = None) -> None:
    data = json.dumps(payload).encode()
    h.send_response(200)
    h.send_header("content-type", "application/json")
    for name, value in (extra or {}).items():
        h.send_header(name, value)
    h.send_header("content-length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)
    h.wfile.flush()
