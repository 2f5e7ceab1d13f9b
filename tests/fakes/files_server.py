"""A server of fixed files on 127.0.0.1 (a manifest or prompt mirror): each GET answers the
file at its path, or `missing_status` with a short body; the paths asked for are kept."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FilesServer:
    """`files` maps a path (`/a/b.csv`) to its bytes; may change while serving. `base` is the
    server's address followed by `prefix` (a mirror's root)."""

    def __init__(
        self, files: dict[str, bytes], missing_status: int = 404, prefix: str = ""
    ) -> None:
        self.files = files
        self.hits: list[str] = []
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.hits.append(self.path)
                body = served.files.get(self.path)
                status = 200 if body is not None else missing_status
                body = body if body is not None else b"oops!"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.base = self.url + prefix


@contextmanager
def serving(
    files: dict[str, bytes], missing_status: int = 404, prefix: str = ""
) -> Iterator[FilesServer]:
    """A `FilesServer` answering in a thread until the block ends."""
    server = FilesServer(files, missing_status, prefix)
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
