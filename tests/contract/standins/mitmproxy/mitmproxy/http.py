"""HTTP flows, requests and responses as flow files record them."""

from __future__ import annotations

from typing import Any


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


class Headers:
    """Case-insensitive, ordered header fields."""

    def __init__(self, fields: list[tuple[bytes, bytes]] | None = None) -> None:
        self.fields = [(bytes(k), bytes(v)) for k, v in (fields or [])]

    def get(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.fields:
            if key.decode("latin-1").lower() == name.lower():
                return value.decode("latin-1")
        return default

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def items(self) -> list[tuple[str, str]]:
        return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self.fields]

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"


class Message:
    """What requests and responses share."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self.headers = Headers([tuple(f) for f in state.get("headers") or []])
        self.raw_content: bytes | None = state.get("content")
        self.http_version = _text(state.get("http_version", b"HTTP/1.1"))
        self.timestamp_start = state.get("timestamp_start")
        self.timestamp_end = state.get("timestamp_end")

    @property
    def content(self) -> bytes | None:
        data = self.raw_content
        if data and self.headers.get("content-encoding", "").lower() == "gzip":
            import gzip

            try:
                return gzip.decompress(data)
            except OSError:
                return data
        return data

    @property
    def text(self) -> str | None:
        data = self.content
        return None if data is None else data.decode("utf-8", "replace")


class Request(Message):
    """A recorded request."""

    def __init__(self, state: dict[str, Any]) -> None:
        super().__init__(state)
        self.host = _text(state.get("host"))
        self.port = int(state.get("port") or 0)
        self.method = _text(state.get("method", b"GET"))
        self.scheme = _text(state.get("scheme", b"http"))
        self.authority = _text(state.get("authority"))
        self.path = _text(state.get("path", b"/"))

    @property
    def host_header(self) -> str | None:
        return self.authority or self.headers.get("host")

    @property
    def pretty_host(self) -> str:
        header = self.host_header
        if header:
            return header.rsplit(":", 1)[0] if not header.endswith("]") else header
        return self.host

    @property
    def url(self) -> str:
        default = (self.scheme == "https" and self.port == 443) or (
            self.scheme == "http" and self.port == 80
        )
        netloc = self.host if default or not self.port else f"{self.host}:{self.port}"
        return f"{self.scheme}://{netloc}{self.path}"

    @property
    def pretty_url(self) -> str:
        return self.url.replace(self.host, self.pretty_host, 1)


class Response(Message):
    """A recorded response."""

    def __init__(self, state: dict[str, Any]) -> None:
        super().__init__(state)
        self.status_code = int(state.get("status_code") or 0)
        self.reason = _text(state.get("reason"))


class HTTPFlow:
    """One recorded exchange."""

    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state
        self.id = _text(state.get("id"))
        self.request = Request(state.get("request") or {})
        response = state.get("response")
        self.response = Response(response) if isinstance(response, dict) else None
        self.error = state.get("error")
        self.websocket = state.get("websocket")

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> HTTPFlow:
        return cls(state)

    def get_state(self) -> dict[str, Any]:
        return self._state
