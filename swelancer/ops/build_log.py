"""An image build as the user sees it: every line of its output kept in a log file, and on
the screen one live line (step N of M) on a terminal, or a few summary lines when piped.

    with build_progress(run_dir / BUILD_LOG, say) as build:
        provider.prepare_images(images, build_demo=True, on_line=build.line)

Nothing is written or shown until the first line comes (most runs build nothing). A build that
fails raises an `InfraError` naming the log, with its last lines as the error's `tail`.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from swelancer.errors import FaultKind, InfraError
from swelancer.format import duration
from swelancer.textsafe import clean

BUILD_LOG = "image-build.log"
"""The build log's name: in the run directory for a run, in the cache for `images build`."""
TAIL_LINES = 15
"""Lines of the log a failed build's error shows."""
PIPED_EVERY_S = 60.0
"""When piped, a line saying which step the build is at, at most this often."""
REDRAW_EVERY_S = 0.1
"""On a terminal, the live line is redrawn at most this often (and at every new step)."""
_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


class BuildProgress:
    """Receives a build's output a line at a time (`line`), as `on_line` callbacks do."""

    def __init__(
        self,
        log_path: Path,
        say: Callable[[str], None],
        *,
        live: TextIO | None = None,
        piped_every_s: float = PIPED_EVERY_S,
    ) -> None:
        self.log_path = log_path
        self.say = say
        self.live = live
        """A terminal to draw the live line on; None: summary lines through `say`."""
        self.piped_every_s = piped_every_s
        self.lines = 0
        self.step: tuple[int, int] | None = None
        self.last = ""
        self._log: TextIO | None = None
        self._started = 0.0
        self._shown_at = 0.0
        self._drawn = False

    # -- the on_line callback ---------------------------------------------------------------

    def line(self, text: str) -> None:
        """One line of the build's output (or the caller's note that a build starts)."""
        text = clean(text).rstrip()
        if self._log is None:
            self._open(text)
        assert self._log is not None
        self._log.write(text + "\n")
        self._log.flush()
        self.lines += 1
        self.last = text.strip() or self.last
        match = _STEP.match(text.strip())
        new_step = False
        if match:
            self.step = (int(match[1]), int(match[2]))
            self.last = match[3]
            new_step = True
        now = time.monotonic()
        if self.live is not None:
            if new_step or now - self._shown_at >= REDRAW_EVERY_S:
                self._draw(now)
        elif new_step and now - self._shown_at >= self.piped_every_s:
            self._shown_at = now
            self.say(f"  {self._status(now)}")

    def _open(self, first: str) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w", encoding="utf-8")
        self._started = self._shown_at = time.monotonic()
        headline = first if first.startswith(("building", "rebuilding")) else "building an image"
        if self.live is None:
            self.say(f"{headline}; its log: {self.log_path}")
        else:
            self._write(f"{headline}; its log: {self.log_path}\n")

    # -- what is shown ------------------------------------------------------------------------

    def _status(self, now: float) -> str:
        step = f"step {self.step[0]}/{self.step[1]}" if self.step else f"{self.lines} lines"
        return f"{step} ({duration(now - self._started)}): {self.last}"

    def _draw(self, now: float) -> None:
        assert self.live is not None
        self._shown_at = now
        width = max(20, shutil.get_terminal_size((100, 24)).columns - 1)
        text = f"  {self._status(now)}"
        if len(text) > width:
            text = text[: width - 1] + "…"
        self._write(f"\r\x1b[2K{text}")
        self._drawn = True

    def _write(self, text: str) -> None:
        assert self.live is not None
        with contextlib.suppress(OSError, ValueError):  # a closed terminal must not end the build
            self.live.write(text)
            self.live.flush()

    # -- the end --------------------------------------------------------------------------------

    def __enter__(self) -> BuildProgress:
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, tb: object) -> None:
        built = self._log is not None
        if built and self._drawn:
            self._write("\r\x1b[2K")  # the live line gives way to what follows
        if built and error is None:
            steps = f", {self.step[1]} steps" if self.step else ""
            spent = duration(time.monotonic() - self._started)
            self.say(f"  image built in {spent}{steps}; its log: {self.log_path}")
        if built and isinstance(error, InfraError) and error.kind == FaultKind.IMAGE_BUILD:
            self._close_log(f"build failed: {error}")
            raise self.failed(error) from None
        self._close_log(None if error is None else f"build stopped: {type(error).__name__}")

    def _close_log(self, last: str | None) -> None:
        if self._log is None or self._log.closed:
            return
        if last:
            self._log.write(clean(last) + "\n")
        self._log.close()

    def failed(self, error: InfraError) -> InfraError:
        """The build's error, naming the log, with its last lines as the `tail`."""
        message = str(error).rstrip(". ")
        tail = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        out = InfraError(
            f"{message}. The whole build log is {self.log_path}; its last lines:",
            kind=FaultKind.IMAGE_BUILD,
        )
        out.tail = tuple(tail[-TAIL_LINES:])
        return out


def build_progress(
    log_path: Path,
    say: Callable[[str], None],
    *,
    quiet: bool = False,
    stream: TextIO | None = None,
) -> BuildProgress:
    """A live line when `stream` (default stderr) is a terminal and not `quiet`; else lines."""
    stream = stream if stream is not None else sys.stderr
    is_terminal = False
    with contextlib.suppress(AttributeError, ValueError, OSError):
        is_terminal = stream.isatty()
    return BuildProgress(log_path, say, live=stream if is_terminal and not quiet else None)
