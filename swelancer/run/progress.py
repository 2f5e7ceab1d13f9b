"""What a run shows while it works. The runner calls these hooks; renderers live here."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from swelancer import format as fmt
from swelancer.records import AttemptRecord
from swelancer.run.runlog import RunLog, log_line, stamp
from swelancer.run.tally import Tally, finished_line, phase_kind
from swelancer.textsafe import rich_text

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
        line = f"{stamp()} {log_line(text)}"
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
            if previous is None or phase_kind(previous) != phase_kind(phase):
                line = self._logged(f"{task_id} #{attempt}: {phase_kind(phase)}")
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
