"""The stand-in browser's network: HTTP(S) through the launch proxy, cookies, and routes."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import re
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from playwright._impl.errors import Error

USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.6668.29 Safari/537.36"
)


@dataclass
class Request:
    """A request the page makes (`playwright.sync_api.Request`)."""

    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    post_data: str | None = None
    resource_type: str = "document"
    navigation: bool = True

    def all_headers(self) -> dict[str, str]:
        return dict(self.headers)

    def header_value(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def post_data_json(self) -> Any:
        if self.post_data is None:
            return None
        try:
            return json.loads(self.post_data)
        except ValueError:
            from urllib.parse import parse_qsl

            return dict(parse_qsl(self.post_data))

    @property
    def post_data_buffer(self) -> bytes | None:
        return None if self.post_data is None else self.post_data.encode()

    def is_navigation_request(self) -> bool:
        return self.navigation


@dataclass
class Response:
    """A response (`playwright.sync_api.Response`)."""

    url: str
    status: int
    status_text: str
    headers: dict[str, str]
    content: bytes
    request: Request
    timings: dict[str, float] = field(default_factory=dict)
    from_route: bool = False
    raw_headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == 0 or 200 <= self.status <= 299

    def body(self) -> bytes:
        return self.content

    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def all_headers(self) -> dict[str, str]:
        return dict(self.headers)

    def header_value(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def finished(self) -> None:
        return None


class Route:
    """A routed request; the handler must fulfill, continue, abort or fall back."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.outcome: str | None = None
        self.response: Response | None = None
        self.overrides: dict[str, Any] = {}

    def _settle(self, outcome: str) -> None:
        if self.outcome is not None:
            raise Error("Route is already handled!")
        self.outcome = outcome

    def fulfill(
        self,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        body: str | bytes | None = None,
        json: Any = None,
        path: str | None = None,
        content_type: str | None = None,
        response: Response | None = None,
    ) -> None:
        import json as json_module

        self._settle("fulfill")
        out_headers = {k.lower(): v for k, v in (headers or {}).items()}
        if response is not None:
            out_headers = {**response.headers, **out_headers}
        data: bytes
        if json is not None:
            data = json_module.dumps(json).encode()
            out_headers.setdefault("content-type", "application/json")
        elif path is not None:
            with open(path, "rb") as handle:
                data = handle.read()
        elif body is not None:
            data = body.encode() if isinstance(body, str) else body
        else:
            data = response.content if response is not None else b""
        if content_type:
            out_headers["content-type"] = content_type
        code = status or (response.status if response is not None else 200)
        self.response = Response(
            url=self.request.url,
            status=code,
            status_text=http.client.responses.get(code, ""),
            headers=out_headers,
            content=data,
            request=self.request,
            from_route=True,
        )

    def continue_(
        self,
        url: str | None = None,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        post_data: str | bytes | None = None,
    ) -> None:
        self._settle("continue")
        self.overrides = {"url": url, "method": method, "headers": headers, "post_data": post_data}

    def fallback(
        self,
        url: str | None = None,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        post_data: str | bytes | None = None,
    ) -> None:
        self._settle("fallback")
        self.overrides = {"url": url, "method": method, "headers": headers, "post_data": post_data}

    def abort(self, error_code: str | None = None) -> None:
        self._settle("abort")
        self.overrides = {"error": error_code or "failed"}


Matcher = str | re.Pattern[str] | Callable[[str], bool]
Handler = Callable[..., Any]


def glob_to_regex(glob: str) -> re.Pattern[str]:
    """Playwright's URL globs: `**` any characters, `*` any but `/`, `{a,b}` alternatives."""
    out, i, in_group = ["^"], 0, False
    while i < len(glob):
        char = glob[i]
        if char == "*":
            if glob.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif char == "{":
            in_group = True
            out.append("(")
        elif char == "}" and in_group:
            in_group = False
            out.append(")")
        elif char == "," and in_group:
            out.append("|")
        else:
            out.append(re.escape(char))
        i += 1
    out.append("$")
    return re.compile("".join(out))


def url_matches(matcher: Matcher, url: str, base_url: str | None = None) -> bool:
    if callable(matcher) and not isinstance(matcher, re.Pattern):
        return bool(matcher(url))
    if isinstance(matcher, re.Pattern):
        return matcher.search(url) is not None
    if base_url and not re.match(r"^\w+://", matcher) and not matcher.startswith("*"):
        from urllib.parse import urljoin

        matcher = urljoin(base_url, matcher)
    return glob_to_regex(matcher).match(url) is not None


@dataclass
class RouteEntry:
    matcher: Matcher
    handler: Handler
    times: int | None = None
    used: int = 0


class CookieJar:
    """Host-only cookies, enough for session logins."""

    def __init__(self) -> None:
        self.cookies: dict[tuple[str, str], dict[str, Any]] = {}

    def store(self, host: str, header: str) -> None:
        first, *attributes = header.split(";")
        name, _, value = first.strip().partition("=")
        cookie: dict[str, Any] = {
            "name": name,
            "value": value,
            "domain": host,
            "path": "/",
            "expires": -1,
            "httpOnly": False,
            "secure": False,
            "sameSite": "Lax",
        }
        expired = False
        for attribute in attributes:
            key, _, val = attribute.strip().partition("=")
            key = key.lower()
            if key == "max-age" and val.strip().lstrip("-").isdigit() and int(val) <= 0:
                expired = True
            elif key == "path":
                cookie["path"] = val or "/"
            elif key == "httponly":
                cookie["httpOnly"] = True
            elif key == "secure":
                cookie["secure"] = True
        if expired or value == "":
            self.cookies.pop((host, name), None)
        else:
            self.cookies[(host, name)] = cookie

    def header_for(self, host: str) -> str:
        return "; ".join(
            f"{c['name']}={c['value']}" for (h, _), c in self.cookies.items() if h == host
        )

    def all(self) -> list[dict[str, Any]]:
        return [dict(c) for c in self.cookies.values()]

    def add(self, cookie: dict[str, Any]) -> None:
        host = cookie.get("domain") or urlsplit(cookie.get("url", "")).hostname or ""
        self.cookies[(host.lstrip("."), cookie["name"])] = {
            "name": cookie["name"],
            "value": cookie["value"],
            "domain": host.lstrip("."),
            "path": cookie.get("path", "/"),
            "expires": cookie.get("expires", -1),
            "httpOnly": cookie.get("httpOnly", False),
            "secure": cookie.get("secure", False),
            "sameSite": cookie.get("sameSite", "Lax"),
        }

    def clear(self) -> None:
        self.cookies.clear()


def parse_proxy(proxy: dict[str, Any] | None) -> tuple[str, int] | None:
    if not proxy or not proxy.get("server"):
        return None
    server = proxy["server"]
    if "://" not in server:
        server = "http://" + server
    parts = urlsplit(server)
    return parts.hostname or "localhost", parts.port or 8080


def _net_error(exc: BaseException, url: str) -> Error:
    if isinstance(exc, socket.gaierror):
        code = "net::ERR_NAME_NOT_RESOLVED"
    elif isinstance(exc, ConnectionRefusedError):
        code = "net::ERR_CONNECTION_REFUSED"
    elif isinstance(exc, ssl.SSLCertVerificationError):
        code = "net::ERR_CERT_AUTHORITY_INVALID"
    elif isinstance(exc, ssl.SSLError):
        code = "net::ERR_SSL_PROTOCOL_ERROR"
    elif isinstance(exc, TimeoutError | socket.timeout):
        code = "net::ERR_TIMED_OUT"
    elif isinstance(exc, OSError) and "Tunnel connection failed" in str(exc):
        code = "net::ERR_TUNNEL_CONNECTION_FAILED"
    elif isinstance(exc, ConnectionResetError | http.client.RemoteDisconnected):
        code = "net::ERR_CONNECTION_RESET"
    else:
        code = "net::ERR_FAILED"
    return Error(f"{code} at {url}")


def wire_fetch(
    request: Request,
    *,
    proxy: tuple[str, int] | None,
    ignore_https_errors: bool,
    cookies: CookieJar,
    timeout_s: float,
    extra_headers: dict[str, str] | None = None,
) -> Response:
    """Send one request, through the proxy when there is one (CONNECT for https)."""
    parts = urlsplit(request.url)
    host = parts.hostname or ""
    scheme = parts.scheme
    port = parts.port or (443 if scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Host": parts.netloc,
        "User-Agent": USER_AGENT,
        "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
        "Accept-Language": "en-US",
        "Connection": "close",
    }
    headers.update(extra_headers or {})
    headers.update({k.title(): v for k, v in request.headers.items()})
    jar = cookies.header_for(host)
    if jar:
        headers["Cookie"] = jar
    body = request.post_data.encode() if request.post_data is not None else None
    if body is not None:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        headers["Content-Length"] = str(len(body))
    request.headers = {k.lower(): v for k, v in headers.items()}
    started = time.monotonic()
    conn: http.client.HTTPConnection
    if scheme == "https":
        context = ssl.create_default_context()
        if ignore_https_errors:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if proxy:
            conn = http.client.HTTPSConnection(
                proxy[0], proxy[1], context=context, timeout=timeout_s
            )
            conn.set_tunnel(host, port)
        else:
            conn = http.client.HTTPSConnection(host, port, context=context, timeout=timeout_s)
    elif scheme == "http":
        if proxy:
            conn = http.client.HTTPConnection(proxy[0], proxy[1], timeout=timeout_s)
            target = request.url
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    else:
        raise Error(f"net::ERR_ABORTED at {request.url}")
    try:
        conn.request(request.method, target, body=body, headers=headers)
        sent = time.monotonic()
        raw = conn.getresponse()
        waited = time.monotonic()
        content = raw.read()
        raw_headers = raw.getheaders()
    except (OSError, http.client.HTTPException) as exc:
        raise _net_error(exc, request.url) from None
    finally:
        conn.close()
    done = time.monotonic()
    for name, value in raw_headers:
        if name.lower() == "set-cookie":
            cookies.store(host, value)
    return Response(
        url=request.url,
        status=raw.status,
        status_text=raw.reason,
        headers={k.lower(): v for k, v in raw_headers},
        content=content,
        request=request,
        raw_headers=raw_headers,
        timings={
            "connect": (sent - started) * 1000,
            "wait": (waited - sent) * 1000,
            "receive": (done - waited) * 1000,
            "started": started,
        },
    )


def har_entry(
    response: Response, page_id: str, sha1: str | None, started_wall: float, monotonic_ms: float
) -> dict[str, Any]:
    """One HAR 1.2 entry, as Playwright writes it to `trace.network`."""
    request = response.request
    mime = response.headers.get("content-type", "x-unknown")
    timings = response.timings
    return {
        "pageref": page_id,
        "startedDateTime": dt.datetime.fromtimestamp(started_wall, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "time": sum(timings.get(k, 0.0) for k in ("connect", "wait", "receive")),
        "request": {
            "method": request.method,
            "url": request.url,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [{"name": k, "value": v} for k, v in request.headers.items()],
            "queryString": [],
            "headersSize": -1,
            "bodySize": len(request.post_data or ""),
            **(
                {
                    "postData": {
                        "mimeType": request.headers.get("content-type", ""),
                        "text": request.post_data,
                        "params": [],
                    }
                }
                if request.post_data is not None
                else {}
            ),
        },
        "response": {
            "status": response.status,
            "statusText": response.status_text,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [{"name": k, "value": v} for k, v in response.headers.items()],
            "content": {
                "size": len(response.content),
                "mimeType": mime,
                **({"_sha1": sha1} if sha1 else {}),
            },
            "headersSize": -1,
            "bodySize": len(response.content),
            "redirectURL": response.headers.get("location", ""),
            "_transferSize": len(response.content),
        },
        "cache": {},
        "timings": {
            "dns": -1,
            "connect": round(timings.get("connect", -1), 3),
            "ssl": -1,
            "send": 0,
            "wait": round(timings.get("wait", -1), 3),
            "receive": round(timings.get("receive", -1), 3),
        },
        "_monotonicTime": monotonic_ms,
        "serverIPAddress": "127.0.0.1",
        "_serverPort": urlsplit(request.url).port or 443,
    }
