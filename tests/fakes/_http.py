"""The scripted HTTP server both fake providers share: threads, recording, script, faults."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.script import Fault, Reply, Step, model_not_found, unauthorized


@dataclass
class RecordedRequest:
    """One request as received: method, path, headers (lower-case names), JSON body."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes


class FakeModelServer:
    """A threaded HTTP server on 127.0.0.1 that answers a model API from a script.

    Subclasses give the protocol: which path, how a key is sent, how replies and errors look.
    Use as a context manager; it also stops by itself after `lifetime_s`.
    """

    provider = "fake"
    path = "/"
    models_path = "/v1/models"
    """`GET` here lists the known models (key checked), as both real APIs do."""

    def __init__(
        self,
        script: Iterable[Step] | Callable[[dict[str, Any]], Any] | None = None,
        *,
        expected_key: str | None = None,
        known_models: Iterable[str] | None = None,
        lifetime_s: float = 120.0,
    ) -> None:
        """`script`: steps answered in order, or one callable answering every request.
        `expected_key`: other keys get 401. `known_models`: other models get 404."""
        self._queue: deque[Step] = deque()
        self._handler: Callable[[dict[str, Any]], Any] | None = None
        if callable(script):
            self._handler = script
        elif script is not None:
            self._queue.extend(script)
        self.expected_key = expected_key
        self.known_models = set(known_models) if known_models is not None else None
        self.lifetime_s = lifetime_s
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        self._count = 0

    # script ---------------------------------------------------------------------------------

    def push(self, *steps: Step) -> None:
        """Queue more steps."""
        with self._lock:
            self._queue.extend(steps)

    def answer_with(self, handler: Callable[[dict[str, Any]], Any] | None) -> None:
        """Answer with `handler(request_json)` whenever the queue is empty."""
        self._handler = handler

    @property
    def bodies(self) -> list[Any]:
        """The JSON bodies of the model calls received so far."""
        with self._lock:
            return [r.body for r in self.requests if r.path.startswith(self.path)]

    def _next_step(self, body: dict[str, Any]) -> Step:
        with self._lock:
            step: Step | None = self._queue.popleft() if self._queue else None
        if step is None:
            if self._handler is None:
                return Fault(
                    400,
                    f"fake {self.provider} server: no scripted reply left for this request",
                    type="invalid_request_error",
                )
            step = self._handler
        if callable(step):
            step = step(body)
        return step

    # protocol (overridden) --------------------------------------------------------------------

    def key_of(self, headers: dict[str, str]) -> str | None:
        raise NotImplementedError

    def render_reply(self, reply: Reply, body: dict[str, Any], n: int) -> dict[str, Any]:
        raise NotImplementedError

    def render_fault(self, fault: Fault, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def extra_headers(self, n: int) -> dict[str, str]:
        return {}

    def render_models(self, names: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    # lifecycle ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, without a path."""
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """The base URL to give the SDK."""
        return self.url

    def start(self) -> FakeModelServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server._handle(self)

            def do_POST(self) -> None:
                server._handle(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self._timer = threading.Timer(self.lifetime_s, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        """Stop serving (idempotent); slow answers in progress are cut short."""
        self._stopping.set()
        httpd, self._httpd = self._httpd, None
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()

    def __enter__(self) -> FakeModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # one request ------------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self._lock:
            self.requests.append(RecordedRequest(h.command, h.path, headers, body, raw))
            self._count += 1
            n = self._count
        request = body if isinstance(body, dict) else {}
        path = h.path.split("?", 1)[0]
        if h.command == "GET" and path.rstrip("/") == self.models_path:
            if self.expected_key is not None and self.key_of(headers) != self.expected_key:
                fault = unauthorized()
                return self._send(h, fault.status, self.render_fault(fault, request), {})
            names = sorted(self.known_models or {"fake-model"})
            return self._send(h, 200, self.render_models(names), {})
        if h.command != "POST" or path.rstrip("/") != self.path:
            fault = Fault(404, f"Unknown path {h.command} {h.path}", type="not_found_error")
            return self._send(h, fault.status, self.render_fault(fault, request), {})
        if self.expected_key is not None and self.key_of(headers) != self.expected_key:
            fault = unauthorized()
            return self._send(h, fault.status, self.render_fault(fault, request), {})
        if self.known_models is not None and request.get("model") not in self.known_models:
            fault = model_not_found()
            return self._send(h, fault.status, self.render_fault(fault, request), {})

        if request.get("stream"):
            fault = Fault(400, f"fake {self.provider} server: streaming is not supported")
            return self._send(h, fault.status, self.render_fault(fault, request), {})
        step = self._next_step(request)
        if isinstance(step, Fault):
            if step.delay_s:
                self._stopping.wait(step.delay_s)
            if step.drop:
                h.close_connection = True
                with contextlib.suppress(OSError):
                    h.connection.shutdown(socket.SHUT_RDWR)
                return None
            return self._send(h, step.status, self.render_fault(step, request), step.headers)
        if isinstance(step, Reply):
            if step.delay_s:
                self._stopping.wait(step.delay_s)
            return self._send(h, 200, self.render_reply(step, request, n), step.headers)
        if isinstance(step, dict):
            return self._send(h, 200, step, {})
        raise TypeError(f"a script step must be a Reply, Fault, dict or callable, not {step!r}")

    def _send(
        self, h: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str]
    ) -> None:
        data = json.dumps(payload).encode()
        try:
            h.send_response(status)
            h.send_header("content-type", "application/json")
            h.send_header("content-length", str(len(data)))
            for name, value in {**self.extra_headers(len(self.requests)), **headers}.items():
                h.send_header(name, value)
            h.end_headers()
            h.wfile.write(data)
            h.wfile.flush()
        except OSError:  # the client gave up (timeout) before the answer
            h.close_connection = True


def now() -> int:
    """Unix time in seconds, as the APIs report `created`."""
    return int(time.time())
