#!/usr/bin/env node
"""`webpack` stand-in (the local registry's `webpack/bin/webpack.js`).

The stand-in app is a Python package under `src/`; "building" it means what webpack's checks
mean for a real app:
- `webpack --config <file>`: every module must parse and the entry must import (a syntax error
  or a missing module fails the build, exit 1); the bundle is written to the output folder
  (`dist/` by default) with the files of `assets/`.
- `webpack serve --config <file>`: the dev server. It builds again in memory, as
  webpack-dev-server does, and serves the app over HTTPS on the config's port (8082) with the
  certificate and key the config names (upstream's setup makes them with mkcert). A failed build
  is served as a "Compiled with problems" page.

The config file (`config/webpack/webpack.dev.ts`) must exist; the stand-in reads `entry`,
`path`, `port`, `cert` and `key` from it with regular expressions.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import importlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

WEBPACK_VERSION = "5.94.0"


@dataclass
class Config:
    """The values of the config the stand-in uses."""

    path: Path
    entry: str = "./src/index.py"
    output: str = "./dist"
    port: int = 8082
    cert: str | None = None
    key: str | None = None

    @property
    def entry_module(self) -> str:
        return self.entry.removeprefix("./").removesuffix(".py").replace("/", ".")

    @property
    def source_root(self) -> str:
        return self.entry.removeprefix("./").split("/", 1)[0]


def load_config(root: Path, argv: list[str]) -> Config:
    name = None
    for index, arg in enumerate(argv):
        if arg in ("--config", "-c") and index + 1 < len(argv):
            name = argv[index + 1]
        elif arg.startswith("--config="):
            name = arg.split("=", 1)[1]
    path = root / (name or "webpack.config.js")
    if not path.is_file():
        print(
            f"[webpack-cli] Failed to load '{path}' config\n[webpack-cli] Error: Cannot find "
            f"module '{path}'",
            file=sys.stderr,
        )
        sys.exit(2)
    text = path.read_text()

    def value(key: str) -> str | None:
        match = re.search(rf"\b{key}\s*:\s*['\"]([^'\"]+)['\"]", text)
        return match.group(1) if match else None

    port = re.search(r"\bport\s*:\s*(\d+)", text)
    return Config(
        path=path,
        entry=value("entry") or "./src/index.py",
        output=value("path") or "./dist",
        port=int(port.group(1)) if port else 8082,
        cert=value("cert"),
        key=value("key"),
    )


def build(root: Path, config: Config, outdir: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """Check and emit the bundle; return (errors, built modules with sizes)."""
    source_root = root / config.source_root
    modules = sorted(source_root.rglob("*.py")) if source_root.is_dir() else []
    errors: list[str] = []
    if not (root / config.entry).is_file():
        errors.append(
            f"ERROR in main\nModule not found: Error: Can't resolve '{config.entry}' in '{root}'"
        )
    for module in modules:
        rel = module.relative_to(root)
        try:
            compile(module.read_bytes(), str(rel), "exec")
        except SyntaxError as exc:
            errors.append(
                f"ERROR in ./{rel} {exc.lineno}:{exc.offset or 0}\nModule parse "
                f"failed: {exc.msg}\n{(exc.text or '').rstrip()}"
            )
    if errors:
        return errors, []
    staged = outdir / config.source_root
    if staged.exists():
        shutil.rmtree(staged)
    shutil.copytree(source_root, staged, ignore=shutil.ignore_patterns("__pycache__"))
    check = subprocess.run(
        [
            sys.executable,
            "-I",
            "-B",
            "-c",
            f"import sys; sys.path.insert(0, {str(outdir)!r}); import {config.entry_module}",
        ],
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        last = (check.stderr.strip().splitlines() or ["unknown error"])[-1]
        errors.append(f"ERROR in {config.entry}\nModule not found: Error: {last}")
        return errors, []
    assets = root / "assets"
    if assets.is_dir():
        shutil.copytree(assets, outdir, dirs_exist_ok=True)
    built = [(str(m.relative_to(root)), m.stat().st_size) for m in modules]
    digest = hashlib.sha256(b"".join(m.read_bytes() for m in modules)).hexdigest()[:20]
    (outdir / "main.bundle.js").write_text(
        f"/*! contract stand-in bundle {digest}: {len(modules)} modules */\n"
        + "".join(f"/* ./{name} {size} bytes */\n" for name, size in built)
    )
    return errors, built


def report(errors: list[str], built: list[tuple[str, int]], started: float) -> None:
    took = round((time.monotonic() - started) * 1000)
    if errors:
        print("\n\n".join(errors) + "\n", file=sys.stderr)
        print(
            f"webpack {WEBPACK_VERSION} compiled with {len(errors)} error"
            f"{'s' if len(errors) > 1 else ''} in {took} ms",
            flush=True,
        )
        return
    total = sum(size for _, size in built) / 1024
    print(f"asset main.bundle.js {total:.2f} KiB [emitted] (name: main)")
    for name, size in built:
        print(f"./{name} {size / 1024:.2f} KiB [built] [code generated]")
    print(f"webpack {WEBPACK_VERSION} compiled successfully in {took} ms", flush=True)


# ---- dev server ------------------------------------------------------------------------------


class DevServer(ThreadingHTTPServer):
    """HTTPS, threaded, on every interface (IPv6 and IPv4 when the host allows)."""

    daemon_threads = True
    address_family = socket.AF_INET6

    def __init__(
        self,
        port: int,
        tls: ssl.SSLContext | None,
        app: ModuleType | None,
        outdir: Path,
        problems: list[str],
    ) -> None:
        self.tls, self.app, self.outdir, self.problems = tls, app, outdir, problems
        try:
            super().__init__(("::", port), Handler, bind_and_activate=False)
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            self.server_bind()
            self.server_activate()
        except OSError:
            self.server_close()
            self.address_family = socket.AF_INET
            super().__init__(("0.0.0.0", port), Handler)


class Handler(BaseHTTPRequestHandler):
    server: DevServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        if self.server.tls is not None:
            self.request.settimeout(30)
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        sys.stdout.write(f"<i> [webpack-dev-server] {self.command} {self.path}\n")

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _static(self) -> bool:
        path = self.path.split("?", 1)[0].lstrip("/")
        if not path or ".." in path:
            return False
        file = self.server.outdir / path
        if not file.is_file() or file.suffix == ".py":
            return False
        kind = {
            ".js": "application/javascript",
            ".css": "text/css",
            ".svg": "image/svg+xml",
            ".png": "image/png",
            ".ico": "image/x-icon",
        }.get(file.suffix, "text/plain")
        self._send(200, [("Content-Type", kind)], file.read_bytes())
        return True

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self._static():
            return
        if self.server.app is None:
            problems = "".join(f"<pre>{html.escape(p)}</pre>" for p in self.server.problems)
            page = (
                f"<!DOCTYPE html><html><head><title>Compiled with problems</title></head>"
                f"<body><h1>Compiled with problems:</h1>{problems}</body></html>"
            )
            self._send(200, [("Content-Type", "text/html; charset=utf-8")], page.encode())
            return
        try:
            status, headers, payload = self.server.app.handle(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
        except Exception as exc:  # the app's own bug: show it as the dev server's overlay
            import traceback

            trace = html.escape(traceback.format_exc())
            page = (
                f"<html><body><h1>Uncaught runtime error: {html.escape(str(exc))}</h1>"
                f"<pre>{trace}</pre></body></html>"
            )
            self._send(500, [("Content-Type", "text/html; charset=utf-8")], page.encode())
            return
        self._send(status, headers, payload)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _dispatch


def serve(root: Path, config: Config, started: float) -> int:
    outdir = Path(tempfile.mkdtemp(prefix="webpack-dev-server-"))
    errors, built = build(root, config, outdir)
    tls = None
    if config.cert and config.key:
        cert, key = root / config.cert, root / config.key
        for file in (cert, key):
            if not file.is_file():
                print(
                    f"[webpack-cli] Error: ENOENT: no such file or directory, open '{file}'",
                    file=sys.stderr,
                )
                return 2
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
    app = None
    if not errors:
        sys.path.insert(0, str(outdir))
        app = importlib.import_module(config.entry_module)
    try:
        server = DevServer(config.port, tls, app, outdir, errors)
    except OSError as exc:
        print(
            f"[webpack-cli] Error: listen EADDRINUSE: address already in use :::{config.port}"
            f" ({exc})",
            file=sys.stderr,
        )
        return 2
    scheme = "https" if tls else "http"
    print(
        f"<i> [webpack-dev-server] Project is running at:\n<i> [webpack-dev-server] "
        f"Loopback: {scheme}://localhost:{config.port}/\n<i> [webpack-dev-server] On Your "
        f"Network (IPv4): {scheme}://dev.new.expensify.com:{config.port}/",
        flush=True,
    )
    report(errors, built, started)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def main() -> int:
    started = time.monotonic()
    argv = sys.argv[1:]
    root = Path.cwd()
    modules = root / "node_modules"
    if argv and argv[0] == "serve":
        if not (modules / "webpack-dev-server").is_dir():
            print(
                "[webpack-cli] For using the 'serve' command you need to install: "
                "'webpack-dev-server' package.",
                file=sys.stderr,
            )
            return 2
        return serve(root, load_config(root, argv[1:]), started)
    if argv and argv[0] in ("-v", "--version", "version"):
        print(f"webpack: {WEBPACK_VERSION}")
        return 0
    if not (modules / "webpack-cli").is_dir():
        print(
            "CLI for webpack must be installed.\n  webpack-cli (https://github.com/webpack/"
            "webpack-cli)",
            file=sys.stderr,
        )
        return 2
    config = load_config(root, [a for a in argv if a != "build"])
    outdir = root / config.output
    outdir.mkdir(parents=True, exist_ok=True)
    errors, built = build(root, config, outdir)
    report(errors, built, started)
    return 1 if errors else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
