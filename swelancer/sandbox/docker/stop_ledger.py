"""Who stopped a container, from the engine's own events.

The engine emits `kill` (with the signal), `stop`, `destroy` and `pause` only when its API is
asked to (`docker stop`, `kill`, `rm -f`, `pause`, or its own shutdown); a container whose
init exits by itself (the agent killed what it runs, or it outgrew its memory) gives `die`
(with `exitCode`) and nothing before it. Checked on the engine (Docker 20.10): `docker stop`
gives kill(15), die(143), stop; `docker kill` kill(9), die(137); `rm -f` kill(9), die(137),
destroy; `pause` pause; init's child killed inside die alone; `kill -TERM 1` inside (docker-init
forwards it) die(143) alone; `kill -9 1` inside is ignored (pid 1 ignores SIGKILL from its own
namespace); a host process's `kill -9` of init gives die(137) alone, as an agent's SIGKILL of
init's child does: the one stop from outside that events cannot tell.

The harness's own requests (its removals, a snapshot's commit pausing the container) are
recorded with `expect` before they are made, and do not count as outside. A break of the
event stream (the engine restarted or went away) counts as outside for every container
that lived through it: an agent cannot break the harness's connection to its engine.
A container that never started is no stop: a create the engine refused (a disk cap its
storage driver cannot give) is undone with a `destroy` of its own.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from swelancer.sandbox.base import StopCause

REQUESTS = frozenset({"kill", "stop", "destroy", "pause", "restart"})
"""Actions the engine reports only when its API was asked for them."""
WATCHED = (*sorted(REQUESTS), "die", "oom", "start", "unpause")
"""The actions the watcher subscribes to."""

_ASKED = {
    "kill": "the engine was asked to kill it (signal {signal})",
    "stop": "the engine was asked to stop it",
    "destroy": "the engine was asked to remove it",
    "pause": "the engine was asked to pause it",
    "restart": "the engine was asked to restart it",
}


@dataclass(frozen=True)
class Seen:
    """One event of one container."""

    action: str
    time_ns: int
    signal: str | None = None
    exit_code: str | None = None
    ours: bool = False

    def told(self) -> str:
        return _ASKED[self.action].format(signal=self.signal or "?")


class StopLedger:
    """Per container of one run: the events the engine reported, which of the requests were
    the harness's own, and the times the event stream was broken. Thread-safe."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seen: dict[str, list[Seen]] = {}
        self._keys: set[tuple[str, str, int]] = set()
        self._labels: dict[str, dict[str, str]] = {}
        self._born: dict[str, int] = {}
        self._expected: dict[str, Counter[str]] = {}
        self._own: set[str] = set()
        """The containers this process made: others of the run (another node's, on one
        engine) are another process's to judge and to act on."""
        self._gaps: list[list[int | None]] = []
        self.connected = False

    # -- what the watcher and the harness tell it -------------------------------------------

    def adopt(self, container_id: str) -> None:
        """The container is this process's: its stops are judged here."""
        with self._cond:
            self._own.add(container_id)

    def owns(self, container_id: str) -> bool:
        with self._cond:
            return container_id in self._own

    def expect(self, container_id: str, *actions: str) -> None:
        """The harness is about to ask the engine for `actions` on the container."""
        with self._cond:
            self._expected.setdefault(container_id, Counter()).update(actions)

    def record(self, event: dict[str, Any]) -> Seen | None:
        """Take one event of the engine's stream (decoded JSON); the entry made, or None for
        an event already taken (a reconnection repeats the last ones) or not watched."""
        actor = event.get("Actor") or {}
        cid = str(event.get("id") or actor.get("ID") or "")
        action = str(event.get("Action") or event.get("status") or "")
        if not cid or action not in WATCHED:
            return None
        attrs = dict(actor.get("Attributes") or {})
        at = int(event.get("timeNano") or int(event.get("time") or 0) * 1_000_000_000)
        with self._cond:
            key = (cid, action, at)
            if key in self._keys:
                return None
            self._keys.add(key)
            expected = self._expected.get(cid)
            ours = bool(expected and expected[action] > 0)
            if ours and expected is not None:
                expected[action] -= 1
            seen = Seen(action, at, attrs.get("signal"), attrs.get("exitCode"), ours)
            self._seen.setdefault(cid, []).append(seen)
            self._labels.setdefault(cid, attrs)
            if action == "start":
                self._born.setdefault(cid, at)
            self._cond.notify_all()
            return seen

    def broke(self, at_ns: int | None = None) -> None:
        """The event stream ended or failed: events from now on may be lost."""
        with self._cond:
            self.connected = False
            if not self._gaps or self._gaps[-1][1] is not None:
                self._gaps.append([at_ns or time.time_ns(), None])
            self._cond.notify_all()

    def resumed(self, at_ns: int | None = None) -> None:
        """The event stream is connected again (or for the first time)."""
        with self._cond:
            self.connected = True
            if self._gaps and self._gaps[-1][1] is None:
                self._gaps[-1][1] = at_ns or time.time_ns()
            self._cond.notify_all()

    # -- what it answers ----------------------------------------------------------------------

    def cause(self, container_id: str, *, wait: float = 3.0) -> StopCause:
        """Why the container (found stopped) stopped: a request the harness did not make or
        a broken stream since it started (outside); a `die` with neither (inside); else, once
        `wait` seconds pass with no report, unknown."""
        deadline = time.monotonic() + wait
        with self._cond:
            while True:
                seen = self._seen.get(container_id, [])
                asked = next((s for s in seen if s.action in REQUESTS and not s.ours), None)
                if asked is not None:
                    return StopCause(True, asked.told())
                gap = self._gap_after(self._born.get(container_id, 0))
                if gap is not None:
                    return StopCause(True, gap)
                died = next((s for s in seen if s.action == "die"), None)
                if died is not None:
                    oom = " after running out of memory" if self._oom(seen) else ""
                    return StopCause(
                        False,
                        f"its main process exited{oom} (exit code {died.exit_code}) and the "
                        "engine was asked nothing",
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    return StopCause(None, "the engine reported nothing of its stop")
                self._cond.wait(left)

    def outside_since(self, marks: dict[str, str], since_ns: int) -> str | None:
        """The first stop from outside, since `since_ns`, of a container labelled `marks`."""
        with self._cond:
            gap = self._gap_after(since_ns)
            if gap is not None:
                return gap
            for cid, seen in self._seen.items():
                if cid not in self._born or cid not in self._own:  # never started (a create
                    continue  # the engine undid), or another process's (another node's)
                labels = self._labels.get(cid, {})
                if any(labels.get(k) != v for k, v in marks.items()):
                    continue
                for s in seen:
                    if s.action in REQUESTS and not s.ours and s.time_ns >= since_ns:
                        name = labels.get("name") or cid[:12]
                        role = labels.get("swelancer.role", "?")
                        return f"{name} ({role}): {s.told()}"
            return None

    def _gap_after(self, since_ns: int) -> str | None:
        for _start, end in self._gaps:
            if end is None or end >= since_ns:
                return (
                    "the engine's event stream broke while it ran (the engine restarted or "
                    "went away)"
                )
        return None

    @staticmethod
    def _oom(seen: list[Seen]) -> bool:
        return any(s.action == "oom" for s in seen)
