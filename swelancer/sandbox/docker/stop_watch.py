"""One thread per run reading the engine's events of the run's containers into a
`StopLedger`, from a moment before its first container; reconnected when the stream breaks
(the break is recorded: containers that lived through it count as stopped from outside).

A container paused from outside is removed at once (its removal marked as the harness's own):
whatever the attempt waits on in it would otherwise wait for ever, and a frozen container's
timings cannot be trusted; the attempt is retried, as for any stop from outside."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any

from swelancer.sandbox.base import Sandbox, StopCause
from swelancer.sandbox.docker.stop_ledger import WATCHED, StopLedger

if TYPE_CHECKING:
    from docker.client import DockerClient

RUN_LABEL = "swelancer.run_id"


class StopWatch:
    """The `StopWitness` of one run on a Docker engine."""

    reconnect_s: float = 0.5

    def __init__(self, client: DockerClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        self.ledger = StopLedger()
        self._ids: dict[str, str] = {}
        """Each adopted sandbox's container id, by its name."""
        self._since = int(time.time()) - 2  # a moment before the run's first container
        self._closed = threading.Event()
        self._stream: Any = None
        self._thread = threading.Thread(
            target=self._loop, name=f"swelancer-stops-{run_id}", daemon=True
        )
        self._thread.start()

    # -- the StopWitness protocol ---------------------------------------------------------------

    def cause(self, sandbox: Sandbox, *, wait: float = 3.0) -> StopCause:
        return self.ledger.cause(self._ids.get(sandbox.name, ""), wait=wait)

    def outside_since(self, marks: dict[str, str], since_ns: int) -> str | None:
        return self.ledger.outside_since(marks, since_ns)

    # -- the harness's own requests -------------------------------------------------------------

    def expect(self, container_id: str, *actions: str) -> None:
        self.ledger.expect(container_id, *actions)

    def adopt(self, container_id: str, name: str) -> None:
        """A container this process made (only those are judged and acted on here), and the
        sandbox name it goes by."""
        self._ids[name] = container_id
        self.ledger.adopt(container_id)

    # -- the thread -----------------------------------------------------------------------------

    def _loop(self) -> None:
        label = f"{RUN_LABEL}={self.run_id}"
        filters: dict[str, Any] = {"label": label, "type": "container", "event": list(WATCHED)}
        while not self._closed.is_set():
            try:
                self._stream = self.client.events(since=self._since, filters=filters, decode=True)
                self.ledger.resumed()
                for event in self._stream:
                    seen = self.ledger.record(event)
                    if seen is None:
                        continue
                    self._since = seen.time_ns // 1_000_000_000  # whole seconds: repeats
                    # of the last second's events after a reconnection are taken once
                    cid = str(event.get("id") or "")
                    if seen.action == "pause" and not seen.ours and self.ledger.owns(cid):
                        self._remove_paused(cid)
            except Exception:  # the engine went away, or the connection failed
                pass
            if self._closed.is_set():
                return
            self.ledger.broke()
            self._closed.wait(self.reconnect_s)

    def _remove_paused(self, container_id: str) -> None:
        def remove() -> None:
            self.ledger.expect(container_id, "unpause", "kill", "destroy")
            # thawed first: on cgroup v1 a SIGKILL waits in a frozen cgroup, and a forced
            # removal of a paused container was seen to hang until it was thawed
            with contextlib.suppress(Exception):
                self.client.api.unpause(container_id)
            with contextlib.suppress(Exception):
                self.client.api.remove_container(container_id, force=True, v=True)

        threading.Thread(target=remove, name="swelancer-stops-remove", daemon=True).start()

    def close(self) -> None:
        """Stop reading (the thread ends once its stream is closed)."""
        self._closed.set()
        stream = self._stream
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
