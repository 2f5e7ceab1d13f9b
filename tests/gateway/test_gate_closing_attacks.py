"""Attacks on the model gateway's closing gate, its key scrubbing and its metering, by raw
clients and providers of our own on 127.0.0.1: a stream read to its close when the gate closes
is cut, not a reply; a body still arriving at the close is not forwarded; a second request on a
kept-alive connection after the close is not forwarded; closes at once never raise; the real key
is cut out of answers split anywhere, of response headers, and even when the key holds `***`;
a complete event is never held back; a request with odd `stream_options` is still recorded;
metering takes any junk without raising."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from swelancer.gateway.ledger import read_records
from swelancer.gateway.server import Gateway, Upstream, _Scrub
from swelancer.models.prices import Prices
from tests.gateway.providers import Provider, completion, send_json

REAL = "sk-host-real-5e0c2a9d71b4"


SMALL_USAGE = {"prompt_tokens": 1, "completion_tokens": 1}
BIG_USAGE = {"prompt_tokens": 100000, "completion_tokens": 1000, "total_tokens": 101000}
BODY = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()


def request(body: bytes = BODY, length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n" % n
    ) + body


def connect(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(path))
    s.settimeout(20)
    return s


def asked(
    path: Path, until: bytes = b'"usage"', stream: bool = False
) -> tuple[socket.socket, bytes]:
    """A connection to the gate that sent one request (`stream`: asking for a stream), and its
    answer read until it holds `until` (an answer that ends before is a failure)."""
    s = connect(path)
    body = json.loads(BODY)
    if stream:
        body["stream"] = True
    s.sendall(request(json.dumps(body).encode()))
    got = b""
    while until not in got:
        more = s.recv(65536)
        assert more, got
        got += more
    return s, got


def gateway_for(provider: Provider, timeout_s: float = 60) -> Gateway:
    up = Upstream(family="openai", base_url=provider.base_url, api_key=REAL, sdk_base=True)
    return Gateway([up], Prices(), timeout_s=timeout_s)


def gateway_threads() -> list[threading.Thread]:
    out = []
    for t in threading.enumerate():
        args = getattr(t, "_args", ())
        if (
            t.is_alive()
            and args
            and isinstance(args[0], socket.socket)
            and args[0].family == socket.AF_UNIX
        ):
            out.append(t)
    return out


# -- gate closing ------------------------------------------------------------------------------


def test_a_close_delimited_stream_cut_by_close_is_recorded_as_cut_and_not_a_reply(
    tmp_path: Path,
) -> None:
    """Guarantee: a cut answer is not a reply and on_reply is not told. The provider streams
    SSE without content-length or chunking (ended by closing the connection, valid HTTP/1.1)."""
    release = threading.Event()

    def sse(h: BaseHTTPRequestHandler, n: int) -> None:
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("connection", "close")
        h.end_headers()
        h.close_connection = True
        for part in ("he", "llo"):  # the gateway passes a chunk on once the next one came
            h.wfile.write(b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"%s"}}]}\n\n'
                          % part.encode())  # fmt: skip
            h.wfile.flush()
            time.sleep(0.05)
        release.wait(30)  # the rest (and the usage) would follow

    provider = Provider(sse)
    gw = gateway_for(provider)
    told: list[Any] = []
    try:
        gate = gw.open(tmp_path, None, host=True)
        gate.on_reply = told.append
        s, _ = asked(gate.host_socket, b"he", stream=True)
        gate.close()
        records = read_records(tmp_path)
        s.close()
    finally:
        release.set()
        gw.close()
        provider.close()
    summary = [(r.status, r.cut, r.answered, r.error) for r in records]
    assert len(records) == 1 and records[0].cut and not told, (summary, len(told))


def test_a_streamed_answer_is_recorded_and_costed_before_its_end_reaches_the_client(
    tmp_path: Path,
) -> None:
    """Guarantee: whoever has the whole answer can read its record, and the next call sees its
    spend. The provider sends every event of a chunked stream, `[DONE]` included, then takes
    its time to end the body; the client has its last event only once the call is recorded."""
    events = [
        {"id": "x", "choices": [{"index": 0, "delta": {"content": "ok"}}]},
        {"id": "x", "choices": [], "usage": BIG_USAGE},
    ]

    def sse(h: BaseHTTPRequestHandler, n: int) -> None:
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("transfer-encoding", "chunked")
        h.end_headers()
        for data in [*map(json.dumps, events), "[DONE]"]:
            line = f"data: {data}\n\n".encode()
            h.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            h.wfile.flush()
        time.sleep(1.5)  # the body's end comes later
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()

    provider = Provider(sse)
    gw = gateway_for(provider)
    try:
        gate = gw.open(tmp_path, None, host=True)
        s, _ = asked(gate.host_socket, b"[DONE]", stream=True)
        records, spent = read_records(tmp_path), gate.ledger.spent_usd
        s.close()
        gate.close()
    finally:
        gw.close()
        provider.close()
    assert [(r.stream, r.cut, r.usage.input_tokens) for r in records] == [(True, False, 100000)]
    assert spent > 0


def test_a_body_still_arriving_at_close_is_not_forwarded(tmp_path: Path) -> None:
    """Guarantee: nothing is forwarded after the gate closes. The client sends the headers
    and a whole JSON body but promises more bytes (content-length); the gate closes."""
    provider = Provider(
        lambda h, n: send_json(
            h,
            completion(
                {"prompt_tokens": 100000, "completion_tokens": 1000, "total_tokens": 101000}
            ),
        )
    )
    gw = gateway_for(provider)
    try:
        gate = gw.open(tmp_path, None, host=True)
        s = connect(gate.host_socket)
        s.sendall(request(BODY + b" " * 10, length=len(BODY) + 1000))
        time.sleep(0.5)  # the handler waits in rfile.read for the rest of the body
        gate.close()
        time.sleep(0.5)
        records = read_records(tmp_path)
        spent = gate.ledger.spent_usd
        s.close()
    finally:
        gw.close()
        provider.close()
    summary = [(r.status, r.cut, r.cost_usd, r.usage.input_tokens, r.error) for r in records]
    assert provider.calls == 0, (
        f"provider got {provider.calls} call(s) after close began; records {summary}; "
        f"attempt spend ${spent}"
    )


def test_concurrent_closes_never_raise(tmp_path: Path) -> None:
    """close called from two threads at once: idempotent, neither raises."""
    provider = Provider(lambda h, n: None)
    gw = gateway_for(provider)
    errors: list[BaseException] = []
    try:
        for i in range(60):
            gate = gw.open(tmp_path / str(i), None, host=True)
            barrier = threading.Barrier(2)

            def closer(gate=gate, barrier=barrier) -> None:
                barrier.wait()
                try:
                    gate.close()
                except BaseException as e:
                    errors.append(e)

            ts = [threading.Thread(target=closer) for _ in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(10)
    finally:
        gw.close()
        provider.close()
    assert not errors, [repr(e) for e in errors]


def test_a_keep_alive_second_request_after_close_is_not_forwarded(tmp_path: Path) -> None:
    provider = Provider(lambda h, n: send_json(h, completion(SMALL_USAGE)))
    gw = gateway_for(provider)
    try:
        gate = gw.open(tmp_path, None, host=True)
        s, _ = asked(gate.host_socket)
        gate.close()
        try:
            s.sendall(request())
            s.recv(100)
        except OSError:
            pass
        time.sleep(0.5)
        s.close()
    finally:
        gw.close()
        provider.close()
    assert provider.calls == 1


# -- the key in answers ------------------------------------------------------------------------


def test_the_key_echoed_in_a_response_header_is_not_passed_to_the_agent(tmp_path: Path) -> None:
    """Guarantee: the real key is replaced by *** in answers. A provider (or a proxy in front
    of it) echoing the request's authorization in a header."""
    provider = Provider(
        lambda h, n: send_json(
            h,
            completion({"prompt_tokens": 1, "completion_tokens": 1}),
            {"x-echo-authorization": h.headers.get("authorization", "")},
        )
    )
    gw = gateway_for(provider)
    try:
        gate = gw.open(tmp_path, None, host=True)
        s, got = asked(gate.host_socket)
        gate.close()
        s.close()
    finally:
        gw.close()
        provider.close()
    assert REAL.encode() not in got, got.split(b"\r\n\r\n")[0]


def test_scrub_many_chunk_splits() -> None:
    for key in (REAL, "abababababab", "aaaaaaaaaa", "abcabcabxabcabcab"):
        for pad in ("", "a", "ab", "aba", key[:-1], key[:3], key + key[:4]):
            sent = f"data: {pad}{key}{pad}{key}{key}\n\n{key}".encode()
            whole = _Scrub(key).all(sent)
            assert key.encode() not in whole
            for size in (1, 2, 3, 5, 7):
                scrub = _Scrub(key)
                chunks = [sent[i : i + size] for i in range(0, len(sent), size)]
                passed = b"".join(scrub.stream(iter(chunks)))
                assert key.encode() not in passed, (key, pad, size, passed)


def test_scrub_a_key_holding_stars_is_rebuilt_by_its_own_replacement() -> None:
    """A key holding `***` (unlikely for real providers): the replacement rebuilds it."""
    key = "a***b-secret"
    sent = ("a" + key + "b-secret").encode()  # replaced: 'a' + '***' + 'b-secret' == key
    out = _Scrub(key).all(sent)
    assert key.encode() not in out, out


def test_scrub_never_holds_back_a_complete_event() -> None:
    scrub = _Scrub(REAL)
    for ev in (b'data: {"x": "sk-host"}\n\n', b"data: sk\n\n", b"data: s\n\n"):
        assert scrub.feed(ev) == ev


# -- metering ----------------------------------------------------------------------------------


def test_a_request_with_odd_stream_options_is_recorded(tmp_path: Path) -> None:
    """Every call is recorded: a streamed chat call whose stream_options is not an object."""
    provider = Provider(lambda h, n: send_json(h, completion(SMALL_USAGE)))
    gw = gateway_for(provider)
    try:
        gate = gw.open(tmp_path, None, host=True)
        s = connect(gate.host_socket)
        body = json.loads(BODY)
        body.update(stream=True, stream_options="yes")
        s.sendall(request(json.dumps(body).encode()))
        s.settimeout(5)
        try:
            got = s.recv(65536)
        except OSError as e:
            got = repr(e).encode()
        gate.close()
        records = read_records(tmp_path)
        s.close()
    finally:
        gw.close()
        provider.close()
    assert len(records) == 1, (got[:200], records)


def test_meter_json_never_raises_on_junk() -> None:
    from swelancer.gateway.protocols import Metered, meter_json

    junk = [float("nan"), float("inf"), -1, 10**400, 1e300, "12", [1], {"a": 1}, True, None, 3.5]
    for fam in ("openai", "anthropic"):
        for v in junk:
            for payload in (
                {"usage": {"prompt_tokens": v, "completion_tokens": v, "prompt_tokens_details": v}},
                {
                    "usage": {
                        "input_tokens": v,
                        "output_tokens": v,
                        "input_tokens_details": {"cached_tokens": v},
                    }
                },
                {
                    "type": "message_delta",
                    "usage": {"output_tokens": v, "output_tokens_details": {"thinking_tokens": v}},
                },
                {"type": "message_start", "message": {"usage": {"input_tokens": v}, "model": v}},
                {"response": {"usage": v, "model": v}},
            ):
                m = Metered()
                meter_json(fam, payload, m)
                assert m.fault is None, (fam, payload, m.fault)
                assert 0 <= m.usage.input_tokens <= 10**13
