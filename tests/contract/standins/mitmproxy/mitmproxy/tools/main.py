"""`mitmdump`: a plain HTTP proxy on port 8080 that accepts mitmdump's command line.

What it does at the contract upstream's playbooks rely on:
- creates mitmproxy's CA in `~/.mitmproxy/` on start (`mitmproxy-ca.pem`,
  `mitmproxy-ca-cert.pem`, `.cer`, `.p12`), as the real one does in every mode;
- listens on `--listen-host`/`--listen-port` (default `*:8080`), IPv4 and IPv6;
- proxies absolute-form HTTP requests and tunnels `CONNECT` (it does not intercept TLS);
- checks that each `-s` script exists (the real one fails to start without it) but does not
  run it: upstream's `replay.py` serves recorded API calls, which the stand-in app never makes;
- `--quiet` silences the per-request lines; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import select
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from mitmproxy.version import VERSION

RELAY_CHUNK = 65536


def _log(message: str) -> None:
    stamp = dt.datetime.now().strftime("%H:%M:%S.%f")[:-3]
    print(f"[{stamp}] {message}", flush=True)


def ensure_ca(confdir: Path) -> None:
    """Create mitmproxy's CA files unless they exist (openssl does the work)."""
    confdir.mkdir(parents=True, exist_ok=True)
    cert_pem = confdir / "mitmproxy-ca-cert.pem"
    if cert_pem.exists() and (confdir / "mitmproxy-ca.pem").exists():
        return
    with tempfile.TemporaryDirectory() as tmp:
        key, cert = Path(tmp) / "key.pem", Path(tmp) / "cert.pem"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-sha256",
                "-days",
                "3650",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-subj",
                "/CN=mitmproxy/O=mitmproxy",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
            check=True,
            capture_output=True,
        )
        key_text, cert_text = key.read_text(), cert.read_text()
        (confdir / "mitmproxy-ca.pem").write_text(key_text + cert_text)
        cert_pem.write_text(cert_text)
        (confdir / "mitmproxy-ca-cert.cer").write_text(cert_text)
        for name, extra in (
            ("mitmproxy-ca-cert.p12", ["-nokeys"]),
            ("mitmproxy-ca.p12", ["-inkey", str(key)]),
        ):
            subprocess.run(
                [
                    "openssl",
                    "pkcs12",
                    "-export",
                    *extra,
                    "-in",
                    str(cert),
                    "-out",
                    str(confdir / name),
                    "-passout",
                    "pass:",
                ],
                check=True,
                capture_output=True,
            )
    for path in confdir.glob("mitmproxy-ca*"):
        path.chmod(0o600 if path.name in ("mitmproxy-ca.pem", "mitmproxy-ca.p12") else 0o644)


class _Handler(socketserver.StreamRequestHandler):
    server: ProxyServer
    rbufsize = 0  # read the head byte by byte so that nothing after it is swallowed

    def handle(self) -> None:
        try:
            line = self.rfile.readline(65537).decode("latin-1")
            if not line.strip():
                return
            method, target, _version = [*line.split(), "", ""][:3]
            headers: list[str] = []
            while True:
                header = self.rfile.readline(65537).decode("latin-1")
                if header in ("\r\n", "\n", ""):
                    break
                headers.append(header.rstrip("\r\n"))
            if method.upper() == "CONNECT":
                self._tunnel(target)
            elif "://" in target:
                self._forward(method, target, headers)
            else:
                self._reply(
                    502,
                    "Bad Gateway",
                    "The stand-in proxy only forwards proxy requests (absolute URLs or CONNECT).",
                )
        except (ConnectionError, TimeoutError, OSError):
            return

    def _reply(self, code: int, reason: str, text: str) -> None:
        body = text.encode()
        self.wfile.write(
            f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        self.server.note(f"{self.client_address[0]}: << {code} {reason}")

    def _connect(self, host: str, port: int) -> socket.socket | None:
        try:
            return socket.create_connection((host, port), timeout=30)
        except OSError as exc:
            self._reply(502, "Bad Gateway", f"Cannot connect to {host}:{port}: {exc}")
            return None

    def _tunnel(self, target: str) -> None:
        host, _, port_text = target.rpartition(":")
        upstream = self._connect(host.strip("[]"), int(port_text or 443))
        if upstream is None:
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        self.server.note(f"{self.client_address[0]}: CONNECT {target}")
        _relay(self.connection, upstream)

    def _forward(self, method: str, target: str, headers: list[str]) -> None:
        parts = urlsplit(target)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        upstream = self._connect(parts.hostname or "", port)
        if upstream is None:
            return
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        kept = [h for h in headers if not h.lower().startswith(("proxy-", "connection:"))]
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{h}\r\n" for h in kept)
        upstream.sendall((head + "Connection: close\r\n\r\n").encode("latin-1"))
        self.server.note(f"{self.client_address[0]}: {method} {target}")
        _relay(self.connection, upstream)


def _relay(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sockets = [client, upstream]
    try:
        while True:
            readable, _, broken = select.select(sockets, [], sockets, 120)
            if broken or not readable:
                return
            for sock in readable:
                data = sock.recv(RELAY_CHUNK)
                if not data:
                    return
                (upstream if sock is client else client).sendall(data)
    except OSError:
        return
    finally:
        with contextlib.suppress(OSError):
            upstream.close()


class ProxyServer(socketserver.ThreadingTCPServer):
    """Threaded, dual-stack when the host allows it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, quiet: bool) -> None:
        self.quiet = quiet
        self.address_family = (
            socket.AF_INET6 if host in ("", "::") and socket.has_ipv6 else socket.AF_INET
        )
        try:
            super().__init__((host or "::", port), _Handler, bind_and_activate=False)
            if self.address_family == socket.AF_INET6:
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            self.server_bind()
            self.server_activate()
        except OSError:
            self.server_close()
            self.address_family = socket.AF_INET
            super().__init__((host if host not in ("", "::") else "0.0.0.0", port), _Handler)

    def note(self, message: str) -> None:
        if not self.quiet:
            _log(message)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mitmdump", add_help=True)
    parser.add_argument("--version", action="store_true")
    parser.add_argument("-s", "--scripts", action="append", default=[])
    parser.add_argument("-q", "--quiet", action="store_true")
    parser.add_argument("--ssl-insecure", "-k", action="store_true")
    parser.add_argument("--showhost", action="store_true")
    parser.add_argument("-m", "--mode", action="append", default=[])
    parser.add_argument("-p", "--listen-port", type=int, default=8080)
    parser.add_argument("--listen-host", default="")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("-w", "--save-stream-file")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    parser.add_argument("filter", nargs="*")
    return parser


def mitmdump(argv: list[str] | None = None) -> None:
    """Entry point of the `mitmdump` command."""
    args = _parser().parse_args(argv)
    if args.version:
        print(f"Mitmproxy: {VERSION} (contract stand-in)\nPython:    {sys.version.split()[0]}")
        return
    options = dict(s.split("=", 1) for s in args.set if "=" in s)
    for script in args.scripts:
        if not Path(script).expanduser().is_file():
            print(f"Error: No such script: {script}", file=sys.stderr, flush=True)
            sys.exit(1)
    confdir = Path(options.get("confdir", "~/.mitmproxy")).expanduser()
    ensure_ca(confdir)
    mode = (args.mode or ["regular"])[0]
    try:
        server = ProxyServer(args.listen_host, args.listen_port, args.quiet)
    except OSError as exc:
        print(f"Error starting proxy server: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    signal.signal(signal.SIGTERM, lambda *_: (server.server_close(), os._exit(0)))
    label = "Transparent Proxy" if mode.startswith("transparent") else "HTTP(S) proxy"
    if not args.quiet:
        _log(f"{label} listening at *:{args.listen_port}.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()


if __name__ == "__main__":
    mitmdump()
