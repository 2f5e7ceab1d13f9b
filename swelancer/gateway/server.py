"""The model gateway: a run's one way to its models, served on a Unix socket per attempt.

`Gateway` (one per run) holds the real keys, the upstreams, the price table and the run's
ledger; `Gateway.open(folder, cap_usd)` serves one attempt on a socket of its own in a fresh
folder (`AttemptGate.socket_dir`, the folder to mount into the attempt's container; it holds
the socket and nothing else). A connection starts with two bytes naming a port, as the
forwarder's listening end sends them (`sandbox.forwarder`, run in the container on a loopback
port), then speaks HTTP/1.1.

`Gateway.open(..., host=True)` serves the host itself instead (a host-driven agent's SDK
client, `gateway.host`) on `AttemptGate.host_socket`, in a private folder of its own that is
never mounted anywhere, speaking HTTP/1.1 from the first byte; such a gate serves no container
socket. Either way every call of every kind of agent is checked, forwarded, metered, costed
and recorded by the same code, in the attempt's ledger, under its caps.

Each request: its path must be one of `protocols.ROUTES`; its body must use no provider-side
tool; the attempt's and the run's caps must not be spent (else a refusal in the protocol's own
error shape, status 403, recorded). Then the placeholder key is dropped, the real one put in,
and the call forwarded to the family's upstream; the answer (a stream passed on event by event)
is metered, costed and recorded in the attempt's `gateway.jsonl`. The real key is cut out of
every answer (`***`), streamed or not, before the agent or the record sees it.

When the gate closes (the attempt ends), calls still under way are cut, recorded as cut, and
their threads waited for; a call that arrives after it is not forwarded.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket as sockets
import socketserver
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swelancer.gateway.ledger import AttemptLedger, CallRecord, RunLedger, bounded
from swelancer.gateway.protocols import (
    EventReader,
    Family,
    Metered,
    Route,
    bypassing_tools,
    error_body,
    json_object,
    meter_json,
    route_for,
)
from swelancer.gateway.upstream import PLACEHOLDER_KEY, Upstream, socket_env

__all__ = ["PLACEHOLDER_KEY", "AttemptGate", "Gateway", "Upstream", "socket_env"]

if TYPE_CHECKING:
    import httpx

    from swelancer.models.prices import Prices

SOCKET_NAME = "gateway.sock"
HOST_SOCKET_NAME = "host.sock"
USER_TOOL_PATH = "/swelancer/user-tool"
"""`POST` here runs the attempt's user tool (`AttemptGate.user_tool`) and answers its message
as `{"reply": ...}`: the `user-tool` command in the container asks through the same port."""
MIN_SECRET_CHARS = 8
"""A key shorter than this (a local server's throwaway `x`, `EMPTY`) is no secret: cutting it
out of answers would cut the model's own words."""
CLOSE_WAIT_S = 5.0
"""How long a closing gate waits for the calls it cut to be recorded."""
_DROPPED_REQUEST = {
    "host", "content-length", "connection", "keep-alive", "transfer-encoding", "upgrade",
    "accept-encoding", "authorization", "x-api-key", "api-key", "proxy-authorization",
    "cookie", "te", "trailer",
}  # fmt: skip
_PASSED_RESPONSE_EXCLUDED = {
    "content-length", "connection", "keep-alive", "transfer-encoding", "content-encoding",
    "set-cookie", "server", "date",
}  # fmt: skip


class Gateway:
    """One run's gateway: upstreams by family, prices, the run's ledger."""

    def __init__(
        self,
        upstreams: list[Upstream],
        prices: Prices,
        *,
        run_cap_usd: float | None = None,
        budget: Any = None,
        timeout_s: float = 600.0,
    ) -> None:
        import httpx

        self.upstreams: dict[Family, Upstream] = {u.family: u for u in upstreams}
        self.prices = prices
        self.run = RunLedger(run_cap_usd, budget)
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=30.0), follow_redirects=False
        )
        self._open: list[AttemptGate] = []

    def open(
        self, folder: Path, cap_usd: float | None = None, *, host: bool = False
    ) -> AttemptGate:
        """Serve one attempt, recording into `folder`, until its gate is closed; `host`: on
        the host's own socket too (`AttemptGate.host_socket`)."""
        gate = AttemptGate(self, AttemptLedger(folder, self.run, cap_usd), host=host)
        self._open.append(gate)
        return gate

    def close(self) -> None:
        for gate in list(self._open):
            gate.close()
        self.client.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    gate: AttemptGate


class AttemptGate:
    """One attempt's socket (in a folder of its own, for its container) or, for a host-driven
    agent, its host socket; and its ledger."""

    def __init__(self, gateway: Gateway, ledger: AttemptLedger, *, host: bool = False) -> None:
        self.gateway, self.ledger = gateway, ledger
        self.user_tool: Callable[[], str] | None = None
        """Runs the attempt's user tool and gives its message; None: not offered."""
        self.user_tool_lock = threading.Lock()
        self.on_reply: Callable[[CallRecord], None] | None = None
        """Told of each model call the provider answered, once it is recorded."""
        self.closed = False
        self._live: dict[_Handler, threading.Thread] = {}
        self._live_lock = threading.Lock()
        self._servers: list[_Server] = []
        self.socket_dir: Path | None = None
        """The folder to mount into the attempt's container, holding its socket; None for a
        host gate."""
        self.socket: Path | None = None
        self.host_socket: Path | None = None
        """The host's own way in (HTTP from the first byte); None unless asked for. Its
        folder is private to this user and is never mounted into a container."""
        self._host_dir: Path | None = None
        if host:
            self._host_dir = Path(tempfile.mkdtemp(prefix="swl-gwh-"))  # mode 0700
            self.host_socket = self._host_dir / HOST_SOCKET_NAME
            self._servers.append(self._serve(self.host_socket, _HostHandler))
            self.host_socket.chmod(0o600)
        else:
            self.socket_dir = Path(tempfile.mkdtemp(prefix="swl-gw-"))
            self.socket_dir.chmod(0o755)
            self.socket = self.socket_dir / SOCKET_NAME
            self._servers.append(self._serve(self.socket, _Handler))
            self.socket.chmod(0o666)  # the container's user may be anyone

    def _serve(self, socket: Path, handler: type[_Handler]) -> _Server:
        server = _Server(str(socket), handler)
        server.gate = self
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        ).start()
        return server

    def enter(self, handler: _Handler) -> bool:
        """Count a connection in; False once the gate is closed."""
        with self._live_lock:
            if not self.closed:
                self._live[handler] = threading.current_thread()
            return not self.closed

    def leave(self, handler: _Handler) -> None:
        with self._live_lock:
            self._live.pop(handler, None)

    def attach(self, handler: _Handler, response: httpx.Response) -> bool:
        """Let a closing gate cut this call's answer; False when it is closed already."""
        with self._live_lock:
            handler.upstream = response
            return not self.closed

    def close(self) -> None:
        """Stop serving, cut the calls still under way (each recorded as cut) and wait for
        them, and remove the sockets' folders (idempotent)."""
        with self._live_lock:
            self.closed = True
            live = dict(self._live)
        if self in self.gateway._open:
            self.gateway._open.remove(self)
            for server in self._servers:
                server.shutdown()
                server.server_close()
        for handler in live:
            handler.cut()
        deadline = time.monotonic() + CLOSE_WAIT_S
        for thread in live.values():
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        for folder in (self.socket_dir, self._host_dir):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)

    def __enter__(self) -> AttemptGate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _send_chunk(h: BaseHTTPRequestHandler, chunk: bytes) -> None:
    """One chunk of a chunked answer (none when empty: an empty one would end the answer)."""
    if chunk:
        h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        h.wfile.flush()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    unanswered_faults = False
    """Whether a provider that cannot be reached leaves the call unanswered (else 502)."""
    upstream: httpx.Response | None = None
    """The provider's answer being passed on, while it is."""

    def setup(self) -> None:
        super().setup()
        if not self.server.gate.enter(self):
            self.close_connection = True
            _shut(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.gate.leave(self)

    def cut(self) -> None:
        """End this connection now (its gate closes): the provider's answer and the client's
        connection are shut, so that the thread passing one to the other ends."""
        response = self.upstream
        if response is not None:
            stream = response.extensions.get("network_stream")
            raw = stream.get_extra_info("socket") if stream is not None else None
            if raw is not None:
                _shut(raw)
        self.close_connection = True
        _shut(self.connection)

    def handle(self) -> None:
        if len(self.rfile.read(2)) == 2:  # the forwarder's port bytes
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        _Call(self.server.gate, self).serve()

    def do_POST(self) -> None:
        _Call(self.server.gate, self).serve()


class _HostHandler(_Handler):
    """The host's socket: no forwarder in front, so no port bytes."""

    unanswered_faults = True

    def handle(self) -> None:
        BaseHTTPRequestHandler.handle(self)


class _Call:
    """One request through the gateway."""

    def __init__(self, gate: AttemptGate, handler: _Handler) -> None:
        self.gate, self.h = gate, handler
        self.started = time.monotonic()
        self.record = CallRecord(method=handler.command, path=handler.path)
        self.finished = False

    def serve(self) -> None:
        h = self.h
        if self.gate.closed:  # the attempt has ended: nothing more is forwarded
            h.close_connection = True
            return None
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length) if length else b""
        if self.gate.closed:  # it closed while the body came (and cut it short)
            h.close_connection = True
            return None
        if h.command == "POST" and h.path == USER_TOOL_PATH:
            return self.user_tool()
        hint = "anthropic-version" in h.headers
        route = route_for(h.command, h.path, anthropic_hint=hint)
        if route is None:
            return self.refuse("openai", 404, "path", "not_found_error",
                               f"the model gateway serves no {h.command} {h.path}")  # fmt: skip
        body: dict[str, Any] = {}
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                return self.refuse(route.family, 400, "bad_request", "invalid_request_error",
                                   "the request body is not a JSON object")  # fmt: skip
            body = parsed
        self.record.request = bounded(body) if body else None
        self.record.model = body.get("model") if isinstance(body.get("model"), str) else None
        self.record.stream = bool(body.get("stream"))
        if self.policy(route, body):
            return None
        upstream = self.gate.gateway.upstreams.get(route.family)
        if upstream is None:
            return self.refuse(route.family, 404, "path", "not_found_error",
                               f"this run reaches no {route.family} model")  # fmt: skip
        if route.metered and self.record.stream and h.path.startswith("/v1/chat/completions"):
            options = json_object(body.get("stream_options"))
            body["stream_options"] = {**options, "include_usage": True}
            raw = json.dumps(body).encode()
        self.forward(route, upstream, raw)
        return None

    def user_tool(self) -> None:
        """Run the user tool (one call at a time) and answer its message."""
        run = self.gate.user_tool
        if run is None:
            return self.refuse("openai", 404, "path", "not_found_error",
                               "this task offers no user tool")  # fmt: skip
        with self.gate.user_tool_lock:
            try:
                text = run()
            except Exception as err:  # its faults are the harness's; the agent gets a message
                self.record.error = f"{type(err).__name__}: {err}"
                text = "The user tool could not run (a fault of the harness, not yours)."
        data = json.dumps({"reply": text}).encode()
        self.record.status, self.record.response = 200, {"reply": text}
        self.finish()
        self.send(200, {"content-type": "application/json"}, data)
        return None

    def policy(self, route: Route, body: dict[str, Any]) -> bool:
        """Refuse (and say True) a call that uses provider-side tools or passes a cap."""
        if tools := bypassing_tools(self.h.path, body):
            self.refuse(route.family, 400, "tools", "invalid_request_error",
                        f"provider-side tools reach outside the sandbox and are refused by the "
                        f"model gateway: {', '.join(tools)}")  # fmt: skip
            return True
        if not route.metered:
            return False
        ledger = self.gate.ledger
        if cap := ledger.refusal():
            self.refuse(route.family, 403, cap[0], "permission_error", cap[1])
            return True
        model = self.record.model or ""
        if ledger.capped and self.gate.gateway.prices.price_for(model) is None:
            self.refuse(route.family, 403, "unpriced", "permission_error",
                        f"no price is known for model '{model}', so the run's cost cap "
                        "could not be kept; the model gateway refuses it")  # fmt: skip
            return True
        return False

    def refuse(self, family: Family, status: int, why: str, kind: str, message: str) -> None:
        data = error_body(family, kind, f"swelancer model gateway: {message}")
        self.record.refused, self.record.status = why, status
        self.record.response = json.loads(data)
        self.finish()
        self.send(status, {"content-type": "application/json"}, data)

    def forward(self, route: Route, upstream: Upstream, raw: bytes) -> None:
        gateway = self.gate.gateway
        headers = {k: v for k, v in self.h.headers.items() if k.lower() not in _DROPPED_REQUEST}
        headers.update(upstream.headers())
        headers["accept-encoding"] = "identity"
        request = gateway.client.build_request(
            self.h.command, upstream.url(self.h.path), headers=headers, content=raw or None
        )
        metered = Metered()
        try:
            response = gateway.client.send(request, stream=True)
        except Exception as err:  # any fault of the way out is the gateway's
            return self.upstream_fault(route.family, err)
        scrub = _Scrub(upstream.api_key)
        with contextlib.closing(response):
            self.record.status = response.status_code
            if not self.gate.attach(self.h, response):
                self.record.cut, self.record.error = True, "the attempt ended before the answer"
                self.finish()
                self.h.close_connection = True
                return None
            if response.status_code == 401:
                response.read()
                status = response.status_code
                self.record.error = f"the provider refused the gateway's key ({status})"
                data = error_body(route.family, "authentication_error",
                                  f"swelancer model gateway: {self.record.error}; "
                                  "check the key the harness was given")  # fmt: skip
                self.finish()
                return self.send(status, {"content-type": "application/json"}, data)
            passed = {k: scrub.text(v) for k, v in response.headers.items()
                      if k.lower() not in _PASSED_RESPONSE_EXCLUDED}  # fmt: skip
            streaming = "text/event-stream" in response.headers.get("content-type", "")
            try:
                if streaming:
                    self.stream(route, response, passed, metered, scrub)
                else:
                    data = scrub.all(response.read())
                    self.meter_body(route, data, metered)
                    self.settle(route, metered)
                    self.send(response.status_code, passed, data)
            except Exception as err:  # the client went away, or the provider mid-answer
                self.record.cut, self.record.error = True, f"{type(err).__name__}: {err}"
                if metered.seen:  # its tokens were told before the cut: they count
                    self.settle(route, metered)
                else:  # none were told; the agent got no answer to count
                    self.finish()
                self.h.close_connection = True  # the client sees the answer cut, not a wait
            finally:
                self.h.upstream = None
        return None

    def settle(self, route: Route, metered: Metered) -> None:
        """Cost and record the call (once), before its answer's last byte is sent: whoever
        has the answer can read its record, and the next call sees the spend."""
        if route.metered and 200 <= self.record.status < 300:
            self.cost(metered)
        self.finish()

    def stream(self, route: Route, response: httpx.Response, headers: dict[str, str],
               metered: Metered, scrub: _Scrub) -> None:  # fmt: skip
        reader = EventReader(route.family, metered)
        h = self.h
        h.send_response(response.status_code)
        for name, value in headers.items():
            h.send_header(name, value)
        h.send_header("transfer-encoding", "chunked")
        h.end_headers()
        held = b""  # the latest chunk, sent once the next one came: the last waits for the record
        for chunk in scrub.stream(_chunks(response)):
            if chunk:
                _send_chunk(h, held)
                held = chunk
                reader.feed(chunk)
        if self.gate.closed:  # a body read to its close may have ended only by the gate's cut
            raise ConnectionAbortedError("the attempt ended during the answer")
        reader.close()
        self.record.response = bounded(reader.events)
        self.settle(route, metered)
        _send_chunk(h, held)
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()

    def meter_body(self, route: Route, data: bytes, metered: Metered) -> None:
        try:
            payload = json.loads(data) if data else None
        except ValueError:
            payload = data[:2000].decode("utf-8", "replace")
        self.record.response = bounded(payload)
        if route.metered:
            meter_json(route.family, payload, metered)

    def cost(self, metered: Metered) -> None:
        self.record.metered = True
        self.record.usage = metered.usage
        self.record.cache_write_tokens = metered.cache_write_tokens
        if metered.fault and not self.record.error:
            self.record.error = f"part of the answer could not be metered: {metered.fault}"
        model = self.record.model or metered.model or ""
        if metered.seen and model:
            try:
                self.record.cost_usd = self.gate.gateway.prices.cost_usd(
                    model, metered.usage, cache_write_tokens=metered.cache_write_tokens
                )
            except (ArithmeticError, ValueError) as err:  # unknown, not a lost answer
                self.record.error = f"the call could not be priced: {err}"[:300]

    def upstream_fault(self, family: Family, err: Exception) -> None:
        """The provider could not be reached: a CLI in a container is answered 502; the host's
        SDK gets no answer (the connection closes), as it would have got none from the
        provider, so its retries tell an endpoint that does not answer apart."""
        self.record.error = f"{type(err).__name__}: {err}"
        if self.h.unanswered_faults:
            self.finish()
            self.h.close_connection = True
            return
        data = error_body(family, "api_error",
                          f"swelancer model gateway: the provider could not be reached "
                          f"({type(err).__name__})")  # fmt: skip
        self.record.status = 502
        self.finish()
        self.send(502, {"content-type": "application/json"}, data)

    def send(self, status: int, headers: dict[str, str], data: bytes) -> None:
        h = self.h
        try:
            h.send_response(status)
            for name, value in headers.items():
                h.send_header(name, value)
            h.send_header("content-length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            h.wfile.flush()
        except OSError:
            h.close_connection = True

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        self.record.seconds = round(time.monotonic() - self.started, 6)
        self.gate.ledger.record(self.record)
        told = self.gate.on_reply
        if told is not None and self.record.answered:
            told(self.record)


class _Scrub:
    """The real key cut out of an answer, whole or as it streams: a chunk's end that could
    begin the key is held back until the next chunk tells."""

    def __init__(self, key: str) -> None:
        self.secret = key.encode() if len(key) >= MIN_SECRET_CHARS else b""
        self.held = b""

    def all(self, data: bytes) -> bytes:
        while self.secret and self.secret in data:  # a key holding `***` could be rebuilt once
            data = data.replace(self.secret, b"***")
        return data

    def text(self, value: str) -> str:
        return self.all(value.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")

    def feed(self, chunk: bytes) -> bytes:
        if not self.secret:
            return chunk
        data = self.all(self.held + chunk)
        keep = next((k for k in range(min(len(self.secret) - 1, len(data)), 0, -1)
                     if data.endswith(self.secret[:k])), 0)  # fmt: skip
        self.held = data[len(data) - keep :]
        return data[: len(data) - keep]

    def stream(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            yield self.feed(chunk)
        held, self.held = self.held, b""
        yield held


def _shut(conn: sockets.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(sockets.SHUT_RDWR)


def _chunks(response: httpx.Response) -> Iterator[bytes]:
    for chunk in response.iter_raw():
        if chunk:
            yield chunk
