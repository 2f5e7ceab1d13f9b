"""What the gateway spent: a `RunLedger` (the run's dollars, its cap) and an `AttemptLedger`
per attempt (its dollars and tokens, its cap, its `gateway.jsonl` of every call).

A cap is checked before each call: once the dollars spent reach it, further calls are refused.
A call already under way when the cap is reached finishes and is counted, so a run may end a
few calls' worth past its cap, never more than the calls in flight.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from swelancer.models.base import Usage

RECORD_FILE = "gateway.jsonl"
MAX_BODY_CHARS = 1_000_000
"""A request or response kept in a record is cut to this many characters of JSON."""


class CallRecord(BaseModel):
    """One call through the gateway, as `gateway.jsonl` holds it."""

    at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())
    method: str
    path: str
    model: str | None = None
    stream: bool = False
    metered: bool = False
    """Whether the call should have carried a usage (a model call the provider answered)."""
    status: int = 0
    seconds: float = 0.0
    usage: Usage = Field(default_factory=Usage)
    cache_write_tokens: int = 0
    cost_usd: float | None = None
    refused: str | None = None
    """Why the gateway answered itself instead of forwarding: `cost_cap`, `run_cost_cap`,
    `tools`, `unpriced`, `path`, `bad_request`."""
    error: str | None = None
    """A fault on the way to the provider (the call answered with 502; on the host's socket
    left unanswered, status 0), or what cut the answer."""
    cut: bool = False
    """The answer did not reach the agent whole (the provider or the agent's side broke off,
    or the attempt ended): its tokens count only if the provider had told them."""
    request: Any = None
    response: Any = None

    @property
    def answered(self) -> bool:
        """A model call whose answer reached the agent whole: one turn of the agent's."""
        return self.metered and 200 <= self.status < 300 and not self.cut


def bounded(payload: Any) -> Any:
    """`payload` as it is, or its JSON text cut to `MAX_BODY_CHARS` when longer."""
    text = json.dumps(payload)
    return payload if len(text) <= MAX_BODY_CHARS else text[:MAX_BODY_CHARS] + "…"


class RunLedger:
    """The run's spend across all its attempts, and its cap (None: none). Given the run's
    `RunBudget` (`agents.loop`), it is that budget: what the host-driven agents spent counts
    here too, and the gateway's calls count there."""

    def __init__(self, cap_usd: float | None = None, budget: Any = None) -> None:
        self.budget = budget
        self.cap_usd = budget.limit_usd if budget is not None else cap_usd
        self._spent = 0.0
        self.lock = threading.Lock()

    @property
    def spent_usd(self) -> float:
        return float(self.budget.spent_usd) if self.budget is not None else self._spent

    def refusal(self) -> str | None:
        with self.lock:
            if self.cap_usd is not None and self.spent_usd >= self.cap_usd:
                return (
                    f"the run's cost cap (--max-run-cost-usd {self.cap_usd:g}) is spent "
                    f"(${self.spent_usd:.4f}); no further model calls are made"
                )
        return None

    def add(self, cost: float) -> None:
        with self.lock:
            if self.budget is not None:
                self.budget.add(cost)
            else:
                self._spent += cost


class AttemptLedger:
    """One attempt's calls: tokens and dollars summed, its cap, each call appended to
    `folder/gateway.jsonl` (one write of one line, flushed and fsynced)."""

    def __init__(self, folder: Path, run: RunLedger, cap_usd: float | None = None) -> None:
        self.folder, self.run, self.cap_usd = folder, run, cap_usd
        self.usage = Usage()
        self.spent_usd = 0.0
        self.unpriced_calls = 0
        self.calls = 0
        self.replies = 0
        """Model calls the provider answered (each a turn of the agent's)."""
        self.refusals: list[str] = []
        self._lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def path(self) -> Path:
        return self.folder / RECORD_FILE

    @property
    def capped(self) -> bool:
        return self.cap_usd is not None or self.run.cap_usd is not None

    def refusal(self) -> tuple[str, str] | None:
        """(kind, message) when a cap forbids another call, else None."""
        with self._lock:
            if self.cap_usd is not None and self.spent_usd >= self.cap_usd:
                return "cost_cap", (
                    f"this attempt's cost cap (--max-cost-usd {self.cap_usd:g}) is spent "
                    f"(${self.spent_usd:.4f}); no further model calls are made"
                )
        run = self.run.refusal()
        return ("run_cost_cap", run) if run else None

    def record(self, call: CallRecord) -> None:
        """Count `call` and append it to the record file."""
        with self._lock:
            self.calls += 1
            self.replies += int(call.answered)
            self.usage = self.usage + call.usage
            if call.refused:
                self.refusals.append(call.refused)
            if call.cost_usd is not None:
                self.spent_usd += call.cost_usd
            elif call.metered:
                self.unpriced_calls += 1
            line = (call.model_dump_json() + "\n").encode()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        if call.cost_usd:
            self.run.add(call.cost_usd)

    @property
    def cost_usd(self) -> float | None:
        """Dollars spent; None when some call's model had no known price."""
        return None if self.unpriced_calls else self.spent_usd


def read_records(folder: Path) -> list[CallRecord]:
    """The calls recorded in `folder/gateway.jsonl` (none when there is no file)."""
    path = folder / RECORD_FILE
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [CallRecord.model_validate_json(line) for line in lines if line.strip()]
