"""tnetstrings, the encoding of mitmproxy's flow files: `<length>:<payload><type>`.

Types: `,` bytes, `;` text, `#` int, `^` float, `!` bool, `~` null, `]` list, `}` dict.
"""

from __future__ import annotations

from typing import Any, BinaryIO

TNetValue = Any


def dumps(value: TNetValue) -> bytes:
    """Encode one value."""
    if value is None:
        payload, kind = b"", b"~"
    elif isinstance(value, bool):
        payload, kind = (b"true" if value else b"false"), b"!"
    elif isinstance(value, int):
        payload, kind = str(value).encode(), b"#"
    elif isinstance(value, float):
        payload, kind = repr(value).encode(), b"^"
    elif isinstance(value, bytes):
        payload, kind = value, b","
    elif isinstance(value, str):
        payload, kind = value.encode(), b";"
    elif isinstance(value, list | tuple):
        payload, kind = b"".join(dumps(v) for v in value), b"]"
    elif isinstance(value, dict):
        payload = b"".join(
            dumps(str(k) if not isinstance(k, bytes) else k) + dumps(v) for k, v in value.items()
        )
        kind = b"}"
    else:
        raise ValueError(f"cannot encode {type(value).__name__} as a tnetstring")
    return str(len(payload)).encode() + b":" + payload + kind


def loads(data: bytes) -> TNetValue:
    """Decode exactly one value."""
    value, rest = pop(data)
    if rest:
        raise ValueError("trailing data after the tnetstring")
    return value


def pop(data: bytes) -> tuple[TNetValue, bytes]:
    """Decode the first value; return it and what follows."""
    length_text, sep, rest = data.partition(b":")
    if not sep or not length_text.isdigit() or len(length_text) > 12:
        raise ValueError("not a tnetstring: no length prefix")
    length = int(length_text)
    if len(rest) < length + 1:
        raise ValueError("not a tnetstring: truncated")
    payload, kind, rest = rest[:length], rest[length : length + 1], rest[length + 1 :]
    return _parse(payload, kind), rest


def load(handle: BinaryIO) -> TNetValue:
    """Read one value from a binary file; `EOFError` at the end of the file."""
    digits = b""
    while True:
        char = handle.read(1)
        if not char:
            if digits:
                raise ValueError("not a tnetstring: truncated length")
            raise EOFError
        if char == b":":
            break
        if not char.isdigit() or len(digits) > 12:
            raise ValueError("not a tnetstring: bad length prefix")
        digits += char
    length = int(digits)
    payload = handle.read(length)
    kind = handle.read(1)
    if len(payload) != length or not kind:
        raise ValueError("not a tnetstring: truncated")
    return _parse(payload, kind)


def _parse(payload: bytes, kind: bytes) -> TNetValue:
    if kind == b",":
        return payload
    if kind == b";":
        return payload.decode("utf-8")
    if kind == b"#":
        return int(payload)
    if kind == b"^":
        return float(payload)
    if kind == b"!":
        if payload not in (b"true", b"false"):
            raise ValueError("not a tnetstring: bad boolean")
        return payload == b"true"
    if kind == b"~":
        if payload:
            raise ValueError("not a tnetstring: null with a payload")
        return None
    if kind == b"]":
        items = []
        while payload:
            item, payload = pop(payload)
            items.append(item)
        return items
    if kind == b"}":
        out: dict[Any, Any] = {}
        while payload:
            key, payload = pop(payload)
            value, payload = pop(payload)
            out[key.decode() if isinstance(key, bytes) else key] = value
        return out
    raise ValueError(f"not a tnetstring: unknown type {kind!r}")
