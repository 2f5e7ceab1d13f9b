#!/usr/bin/python3
"""`pusher-fake` stand-in: listens on the socket and web ports and answers every request.

run.sh starts it in the background (`--id --key --secret --web-host --web-port --socket-host
--socket-port --verbose`) and nginx proxies ws-mt1.pusher.com to it; nothing in the stand-in app
talks to Pusher, so plain HTTP answers are enough.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = json.dumps({"pusher-fake": "contract stand-in"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(prog="pusher-fake")
    for name in ("--id", "--key", "--secret"):
        parser.add_argument(name, required=True)
    parser.add_argument("--web-host", default="0.0.0.0")
    parser.add_argument("--web-port", type=int, default=8081)
    parser.add_argument("--socket-host", default="0.0.0.0")
    parser.add_argument("--socket-port", type=int, default=8080)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    servers = [
        ThreadingHTTPServer((args.socket_host, args.socket_port), Handler),
        ThreadingHTTPServer((args.web_host, args.web_port), Handler),
    ]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
