"""What a run has shown so far (Tally) and the line each finished attempt gets."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from swelancer import format as fmt
from swelancer.records import AttemptRecord


def phase_kind(phase: str) -> str:
    """`agent turn 7` → `agent`: what a log line is worth writing for."""
    return phase.split(" turn", 1)[0].strip() or phase


@dataclass
class Running:
    phase: str
    started: float
    """When the attempt's first phase began (monotonic seconds)."""


@dataclass
class Tally:
    """What a run has shown so far. Figures cover the attempts finished in this session."""

    run_id: str = ""
    planned: int = 0
    done_before: int = 0
    to_run: int = 0
    recorded: int = 0
    """Attempts recorded in the run directory, earlier sessions included."""
    finished: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    earned_usd: float = 0.0
    attempted_usd: float = 0.0
    """Prices of the finished attempts that were not infrastructure errors."""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    cost_unknown: bool = False
    durations: list[float] = field(default_factory=list)
    running: dict[tuple[str, int], Running] = field(default_factory=dict)
    peak_running: int = 0
    started: float = field(default_factory=time.monotonic)

    def begin(self, run_id: str, planned: int, done_before: int, to_run: int) -> None:
        self.run_id, self.planned, self.done_before = run_id, planned, done_before
        self.to_run, self.recorded = to_run, done_before
        self.started = time.monotonic()

    def enter(self, task_id: str, attempt: int, phase: str) -> str | None:
        """Note a phase; returns the previous phase of that attempt (None when it is new)."""
        key = (task_id, attempt)
        now = time.monotonic()
        current = self.running.get(key)
        if current is None:
            self.running[key] = Running(phase, now)
            self.peak_running = max(self.peak_running, len(self.running))
            return None
        previous, current.phase = current.phase, phase
        return previous

    def add(self, record: AttemptRecord, index: int) -> None:
        running = self.running.pop((record.task_id, record.attempt), None)
        s = record.seconds
        measured = s.setup + s.agent + s.grading
        if measured <= 0 and running is not None:
            measured = time.monotonic() - running.started
        self.durations.append(measured)
        self.finished += 1
        self.recorded = max(self.recorded, index)
        if record.status == "passed":
            self.passed += 1
        elif record.status == "failed":
            self.failed += 1
        else:
            self.errors += 1
        self.earned_usd += record.earned_usd
        if record.status != "error":
            self.attempted_usd += record.price_usd
        self.tokens_in += record.tokens.input
        self.tokens_out += record.tokens.output
        if record.cost_usd is None:
            self.cost_unknown = True
        else:
            self.cost_usd += record.cost_usd

    def eta_seconds(self) -> float | None:
        """Seconds left, from the mean duration of finished attempts and the attempts running at
        once (the most seen so far); None until an attempt has finished."""
        remaining = max(self.to_run - self.finished, 0)
        if not self.durations:
            return None
        if remaining == 0:
            return 0.0
        mean = sum(self.durations) / len(self.durations)
        now = time.monotonic()
        under_way = sum(min(now - r.started, mean) for r in self.running.values())
        parallel = max(self.peak_running, 1)
        return max(remaining * mean - under_way, 0.0) / parallel

    def cost_text(self) -> str:
        return "unknown" if self.cost_unknown else fmt.money(self.cost_usd, cents=True)

    def summary(self) -> str:
        word = "finished" if self.finished >= self.to_run else "stopped"
        return (
            f"{word}: {self.finished} of {self.to_run} attempts this session "
            f"({self.passed} passed, {self.failed} failed, {self.errors} "
            f"error{'' if self.errors == 1 else 's'}); "
            f"earned {fmt.money(self.earned_usd)} of {fmt.money(self.attempted_usd)} "
            f"attempted; tokens {fmt.count(self.tokens_in)} in / "
            f"{fmt.count(self.tokens_out)} out; API cost {self.cost_text()}"
        )


def finished_line(record: AttemptRecord, index: int, planned: int) -> str:
    """`[k/N] 12345_1 #1: passed +$500 (setup 3s, agent 20s, grading 9s; 12 turns, $0.42)`."""
    if record.status == "passed":
        outcome = f"passed +{fmt.money(record.earned_usd)}"
    elif record.status == "failed":
        outcome = f"failed ({fmt.money(record.price_usd)})"
    else:
        kind = record.error.kind if record.error else "infra"
        message = (record.error.message if record.error else "").strip().splitlines()
        outcome = f"error {kind}, not scored" + (f": {message[0][:160]}" if message else "")
    s = record.seconds
    times = (
        f"setup {fmt.duration(s.setup)}, agent {fmt.duration(s.agent)}, "
        f"grading {fmt.duration(s.grading)}"
    )
    extra = []
    if record.turns:
        extra.append(f"{record.turns} turns")
    if record.tokens.input or record.tokens.output:
        extra.append(f"{fmt.count(record.tokens.input)} in / {fmt.count(record.tokens.output)} out")
    if record.cost_usd is None:
        extra.append("API cost unknown")
    elif record.cost_usd:
        extra.append(fmt.money(record.cost_usd, cents=True))
    details = times + ("; " + ", ".join(extra) if extra else "")
    return f"[{index}/{planned}] {record.task_id} #{record.attempt}: {outcome} ({details})"
