"""Flow files: `FlowReader(f).stream()` yields the recorded flows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from mitmproxy.exceptions import FlowReadException
from mitmproxy.http import HTTPFlow
from mitmproxy.io import tnetstring

__all__ = ["FlowReader", "FlowWriter", "tnetstring"]


class FlowReader:
    """Reads the flows of a mitmproxy flow file (a sequence of tnetstring dicts)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.fo = handle

    def stream(self) -> Iterator[HTTPFlow]:
        while True:
            try:
                state = tnetstring.load(self.fo)
            except EOFError:
                return
            except ValueError as exc:
                raise FlowReadException(f"Invalid data format: {exc}") from None
            if not isinstance(state, dict) or "type" not in state:
                raise FlowReadException("Invalid data format: not a flow")
            if state["type"] != "http":
                continue
            yield HTTPFlow.from_state(state)


class FlowWriter:
    """Writes flows in the same format."""

    def __init__(self, handle: BinaryIO) -> None:
        self.fo = handle

    def add(self, flow: HTTPFlow | dict[str, Any]) -> None:
        state = flow.get_state() if isinstance(flow, HTTPFlow) else flow
        self.fo.write(tnetstring.dumps(state))
