"""The engine's own list of a container's changes (`GET /containers/{id}/changes`), read as a
stream: entry by entry into a packed `ChangeList`, stopped past `MAX_CHANGES` entries, so that
a container holding millions of new files costs the harness no more than the bound."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from swelancer.sandbox.changes import MAX_CHANGES, ChangeList

CHUNK = 1 << 16
MAX_ENTRY = 1 << 20
"""Bytes of one entry at most (a path is at most 4 KB; the engine's JSON escapes it)."""


class ListingTooLong(Exception):
    """More entries than the bound."""


class ListingUnreadable(Exception):
    """The engine's answer is not the JSON array of entries it should be."""


def engine_changes(chunks: Iterable[bytes], limit: int = MAX_CHANGES) -> ChangeList:
    """The entries of the engine's JSON array of `{"Path": ..., "Kind": ...}`, streamed."""
    found = ChangeList()
    for entry in _objects(chunks):
        if len(found) >= limit:
            raise ListingTooLong(f"more than {limit:,} entries")
        path = entry.get("Path", "") if isinstance(entry, dict) else ""
        kind = entry.get("Kind", 0) if isinstance(entry, dict) else 0
        found.append(str(path), int(kind) if isinstance(kind, int) else 0)
    return found


def _objects(chunks: Iterable[bytes]) -> Iterator[Any]:
    """The values of a JSON array (or `null`) given in pieces, one at a time."""
    decoder = json.JSONDecoder()
    text, at, started = "", 0, False
    pending = b""
    for chunk in chunks:
        pending += chunk
        try:  # a piece may end inside a UTF-8 character: keep its start for the next
            text, pending = text[at:] + pending.decode("utf-8"), b""
        except UnicodeDecodeError as exc:
            if exc.start < len(pending) - 4:
                raise ListingUnreadable("the engine's answer is not UTF-8") from exc
            text, pending = text[at:] + pending[: exc.start].decode("utf-8"), pending[exc.start :]
        at = 0
        while True:
            at = _skip(text, at)
            if at >= len(text):
                break
            if not started:
                if text.startswith("null", at):
                    return
                if "null".startswith(text[at:]):
                    break  # maybe `null`, cut: the next piece says
                if text[at] != "[":
                    raise ListingUnreadable(f"the engine's answer starts with {text[at]!r}")
                started, at = True, at + 1
                continue
            if text[at] in ",":
                at += 1
                continue
            if text[at] == "]":
                return
            try:
                value, end = decoder.raw_decode(text, at)
            except json.JSONDecodeError:
                if len(text) - at > MAX_ENTRY:
                    raise ListingUnreadable("an entry of the engine's answer is too long") from None
                break  # the entry goes on in the next piece
            yield value
            at = end
    raise ListingUnreadable("the engine's answer ended early")  # before its `]`


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at
