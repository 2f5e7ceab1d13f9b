"""What the model gateway adds to a model call: a Messages call (JSON, and streamed) to a
local stand-in provider, made directly and through the gateway the way a container makes it
(the forwarder's listening end on a loopback port, the Unix socket, the gateway, the provider).
Prints the median and 90th percentile of each and the median added per call (goal: < 5 ms).

    .venv/bin/python benchmarks/gateway_overhead.py [--calls 300]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from swelancer.gateway.server import PLACEHOLDER_KEY, Gateway, Upstream
from swelancer.models.prices import Prices
from swelancer.sandbox.docker.reach import forwarder_code

MESSAGE = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
    "stop_sequence": None, "usage": {"input_tokens": 1000, "output_tokens": 20},
}  # fmt: skip
EVENTS = [
    ("message_start", {"type": "message_start", "message": {**MESSAGE, "content": []}}),
    ("content_block_start", {"type": "content_block_start", "index": 0,
                             "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": "ok"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                       "usage": {"output_tokens": 20}}),
    ("message_stop", {"type": "message_stop"}),
]  # fmt: skip
SSE = "".join(f"event: {n}\ndata: {json.dumps(d)}\n\n" for n, d in EVENTS).encode()


class Provider(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        data = SSE if body.get("stream") else json.dumps(MESSAGE).encode()
        kind = "text/event-stream" if body.get("stream") else "application/json"
        head = f"HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\ncontent-length: {len(data)}\r\n\r\n"
        self.wfile.write(head.encode() + data)  # one write: no wait on a delayed ACK

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def loopback(sock: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [sys.executable, "-c", forwarder_code(), "listen", str(sock), str(port), "3600", "64",
            "127.0.0.1"]  # fmt: skip
    proc = subprocess.Popen(argv)
    try:
        for _ in range(500):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def timed(client: httpx.Client, url: str, stream: bool, calls: int) -> list[float]:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 5, "stream": stream,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    headers = {"x-api-key": PLACEHOLDER_KEY, "anthropic-version": "2023-06-01"}
    seconds = []
    for _ in range(calls):
        t0 = time.perf_counter()
        client.post(f"{url}/v1/messages", json=body, headers=headers).read()
        seconds.append(time.perf_counter() - t0)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    direct = f"http://127.0.0.1:{server.server_address[1]}"
    upstream = Upstream(family="anthropic", base_url=direct, api_key="sk-real")
    with (
        tempfile.TemporaryDirectory() as folder,
        Gateway([upstream], Prices()) as gw,
        gw.open(Path(folder)) as gate,
        loopback(gate.socket) as through,
        httpx.Client() as client,
    ):
        for stream in (False, True):
            timed(client, direct, stream, 20)  # warm both paths
            timed(client, through, stream, 20)
            plain = timed(client, direct, stream, args.calls)
            gated = timed(client, through, stream, args.calls)
            med_p, med_g = statistics.median(plain), statistics.median(gated)
            p90 = statistics.quantiles(gated, n=10)[-1]
            kind = "streamed" if stream else "JSON"
            print(f"{kind:8}  direct median {med_p * 1e3:6.2f} ms   through the gateway median "
                  f"{med_g * 1e3:6.2f} ms (p90 {p90 * 1e3:6.2f} ms)   added "
                  f"{(med_g - med_p) * 1e3:5.2f} ms per call")  # fmt: skip
    server.shutdown()


if __name__ == "__main__":
    main()
