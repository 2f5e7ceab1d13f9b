"""What a run shows while it works. The runner calls these hooks; renderers live here."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from swelancer import format as fmt
from swelancer.run.results import AttemptRecord
from swelancer.textsafe import clean, rich_text

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live


class ProgressSink(Protocol):
    """Receives a run's events. Calls come from worker threads: implementations lock."""

    def start(self, *, run_id: str, planned: int, done_before: int, to_run: int) -> None:
        """The run begins: `planned` attempts in all, `done_before` recorded already."""

    def phase(self, task_id: str, attempt: int, phase: str) -> None:
        """An attempt entered a phase: starting, setup, agent turn N, grading."""

    def finished(self, record: AttemptRecord, index: int) -> None:
        """An attempt was recorded; `index` counts recorded attempts including earlier ones."""

    def note(self, line: str) -> None:
        """A line worth showing (retries, warnings)."""

    def close(self) -> None:
        """The run ended (completed or not)."""


# ---------------------------------------------------------------------------------------------
# Shared bookkeeping


def _phase_kind(phase: str) -> str:
    """`agent turn 7` → `agent`: what a log line is worth writing for."""
    return phase.split(" turn", 1)[0].strip() or phase


@dataclass
class _Running:
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
    running: dict[tuple[str, int], _Running] = field(default_factory=dict)
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
            self.running[key] = _Running(phase, now)
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


class RunLog:
    """Plain lines appended to the run directory's `run.log`, each flushed at once. Lines written
    before a path is known are kept and written when `attach` gives one."""

    def __init__(self, path: Path | None) -> None:
        self.path: Path | None = None
        self._pending: list[str] = []
        self._handle: TextIO | None = None
        self._lock = threading.Lock()
        if path is not None:
            self.attach(path)

    def attach(self, path: Path) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
            path.parent.mkdir(parents=True, exist_ok=True)
            self.path = path
            self._handle = path.open("a", encoding="utf-8")
            for line in self._pending:
                self._handle.write(line + "\n")
            self._pending.clear()
            self._handle.flush()

    def write(self, line: str) -> None:
        with self._lock:
            if self._handle is None:
                self._pending.append(line)
                return
            self._handle.write(line + "\n")
            self._handle.flush()

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


def log_line(text: str) -> str:
    """Text as one line of `run.log` and of the plain display: cleaned of what a terminal acts
    on, with any newline in it shown as ⏎, so that no text can forge a line of its own."""
    return " ⏎ ".join(clean(text).splitlines())


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class _Sink:
    """What both renderers share: the tally, the log file, the lines worth logging.

    Hooks update the tally and write `run.log` under one lock, then show their lines after
    releasing it (a live display's refresh thread takes that lock to render)."""

    def __init__(self, log_path: Path | None) -> None:
        self.tally = Tally()
        self.log = RunLog(log_path)
        self._lock = threading.RLock()
        self._closed = False

    def attach_log(self, path: Path) -> None:
        """Start writing `run.log` at `path` (lines so far included), when it was not known yet."""
        self.log.attach(path)

    def _logged(self, text: str) -> str:
        line = f"{_stamp()} {log_line(text)}"
        self.log.write(line)
        return line

    def _show(self, line: str) -> None:
        raise NotImplementedError

    def _shows_phases(self) -> bool:
        return False

    def _shows_finished(self, record: AttemptRecord) -> bool:
        return True

    # The ProgressSink hooks -------------------------------------------------------------

    def start(self, *, run_id: str, planned: int, done_before: int, to_run: int) -> None:
        with self._lock:
            self.tally.begin(run_id, planned, done_before, to_run)
            line = self._logged(
                f"run {run_id}: {planned} attempts planned, {done_before} recorded before, "
                f"{to_run} to run"
            )
        self._show(line)

    def phase(self, task_id: str, attempt: int, phase: str) -> None:
        line = None
        with self._lock:
            previous = self.tally.enter(task_id, attempt, phase)
            if previous is None or _phase_kind(previous) != _phase_kind(phase):
                line = self._logged(f"{task_id} #{attempt}: {_phase_kind(phase)}")
        if line and self._shows_phases():
            self._show(line)

    def finished(self, record: AttemptRecord, index: int) -> None:
        with self._lock:
            self.tally.add(record, index)
            line = self._logged(finished_line(record, index, self.tally.planned))
        if self._shows_finished(record):
            self._show(line)

    def note(self, line: str) -> None:
        with self._lock:
            shown = self._logged(line)
        self._show(shown)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.tally.running.clear()
            line = self._logged(self.tally.summary())
            self.log.close()
        self._show(line)


class PlainProgress(_Sink):
    """One line per event, for CI logs and `--quiet`: the start, each finished attempt, notes and
    a closing summary (phase changes too with `phases=True`). Every line also goes to `run.log`."""

    def __init__(
        self, stream: TextIO | None = None, log_path: Path | None = None, *, phases: bool = False
    ) -> None:
        super().__init__(log_path)
        self.stream = stream if stream is not None else sys.stderr
        self.phases = phases
        self._out = threading.Lock()

    def _shows_phases(self) -> bool:
        return self.phases

    def _show(self, line: str) -> None:
        with self._out:
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass  # a closed or broken stream must not end the run; run.log keeps the line


class RichProgress(_Sink):
    """A live display on a terminal: overall bar with ETA, dollars earned of dollars attempted,
    passed / failed / errors, tokens and API cost, and one line per running attempt. Notes (and
    attempts ended by infrastructure errors) print above it. `run.log` gets the plain lines."""

    MAX_RUNNING_LINES = 16

    def __init__(
        self,
        console: Console | None = None,
        log_path: Path | None = None,
        *,
        refresh_per_second: float = 4,
        redirect: bool = True,
    ) -> None:
        from rich.console import Console

        super().__init__(log_path)
        self.console = console if console is not None else Console(stderr=True)
        self.refresh_per_second = refresh_per_second
        self.redirect = redirect
        """Route other prints to stdout/stderr above the live area while it is shown."""
        self._live: Live | None = None
        self._live_lock = threading.Lock()

    def start(self, *, run_id: str, planned: int, done_before: int, to_run: int) -> None:
        from rich.live import Live

        with self._lock:
            self.tally.begin(run_id, planned, done_before, to_run)
            self._logged(
                f"run {run_id}: {planned} attempts planned, {done_before} recorded before, "
                f"{to_run} to run"
            )
        with self._live_lock:
            if self._live is None and not self._closed:
                self._live = Live(
                    console=self.console,
                    get_renderable=self.renderable,
                    refresh_per_second=self.refresh_per_second,
                    transient=False,
                    redirect_stdout=self.redirect,
                    redirect_stderr=self.redirect,
                )
                self._live.start()

    def _shows_finished(self, record: AttemptRecord) -> bool:
        return record.status == "error"  # the rest shows in the figures

    def _show(self, line: str) -> None:
        self.console.print(rich_text(line), highlight=False, soft_wrap=True)

    def close(self) -> None:
        with self._live_lock:
            live, self._live = self._live, None
        with self._lock:
            self.tally.running.clear()  # what did not finish was abandoned
        if live is not None:
            live.stop()  # draws the final figures, which stay on screen
        super().close()

    def renderable(self) -> RenderableType:
        """The live area as it stands now (called by the refresh thread, or by tests)."""
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            t = self.tally
            done = t.recorded
            planned = max(t.planned, 1)
            elapsed = time.monotonic() - t.started
            eta = t.eta_seconds()
            running = sorted(t.running.items(), key=lambda item: item[1].started)
            now = time.monotonic()

            head = Table.grid(padding=(0, 1))
            head.add_column(no_wrap=True)
            head.add_column(ratio=1)
            head.add_column(no_wrap=True)
            percent = fmt.percent(done / planned if t.planned else 0, digits=0)
            eta_text = "ETA estimating…" if eta is None else f"ETA {fmt.duration(eta)}"
            head.add_row(
                rich_text(f"run {log_line(t.run_id)}", style="bold"),
                ProgressBar(total=planned, completed=min(done, planned)),
                Text(f"{done}/{t.planned}  {percent}  elapsed {fmt.duration(elapsed)}  {eta_text}"),
            )
            scope = " this session" if t.done_before else ""
            money = Text.assemble(
                ("earned ", ""),
                (fmt.money(t.earned_usd), "bold green"),
                (f" of {fmt.money(t.attempted_usd)} attempted{scope}   ", ""),
                (f"passed {t.passed}", "green"),
                ("  ", ""),
                (f"failed {t.failed}", "red"),
                ("  ", ""),
                (f"errors {t.errors}", "yellow" if t.errors else ""),
            )
            spend = Text(
                f"tokens {fmt.count(t.tokens_in)} in / {fmt.count(t.tokens_out)} out   "
                f"API cost {t.cost_text()}"
            )
            lines: list[RenderableType] = [head, money, spend]
            if running:
                table = Table.grid(padding=(0, 2))
                for _ in range(4):
                    table.add_column(no_wrap=True)
                for (task_id, attempt), r in running[: self.MAX_RUNNING_LINES]:
                    table.add_row(
                        rich_text(f"  {log_line(task_id)}"),
                        f"#{attempt}",
                        rich_text(log_line(r.phase)),
                        fmt.duration(now - r.started),
                    )
                lines.append(Text(f"running ({len(running)}):", style="dim"))
                lines.append(table)
                hidden = len(running) - self.MAX_RUNNING_LINES
                if hidden > 0:
                    lines.append(Text(f"  … and {hidden} more", style="dim"))
            return Group(*lines)


def make_progress(
    *, quiet: bool, log_path: Path | None, stream: TextIO | None = None
) -> ProgressSink:
    """A live display when `stream` (default stderr) is a terminal and not `quiet`; else lines."""
    stream = stream if stream is not None else sys.stderr
    is_terminal = False
    with contextlib.suppress(AttributeError, ValueError, OSError):
        is_terminal = stream.isatty()
    if is_terminal and not quiet:
        from rich.console import Console

        return RichProgress(Console(file=stream), log_path)
    return PlainProgress(stream, log_path)
