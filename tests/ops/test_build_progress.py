"""An image build on the screen and on disk (`ops.build_log`): one live line on a terminal, a
few lines when piped, every line of the build in its log, and a failed build's error naming
the log with its last lines. The runner's and `images build`'s use of it are tested with
them (`tests/run/test_runner_fake.py`, `tests/cli/test_cli_images_fake.py`)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from swelancer.errors import FaultKind, InfraError
from swelancer.ops.build_log import TAIL_LINES, build_progress
from tests.fakes.engine import build_output

HEADLINE = "building swelancer/demo:latest (first use; takes a few minutes)"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def build(progress, lines: list[str], error: str | None = None) -> None:
    """Feed a build's lines to `progress` as the engine's stream would, then end it."""
    with progress:
        progress.line(HEADLINE)
        for line in lines:
            progress.line(line)
        if error is not None:
            raise InfraError(f"building swelancer/demo:latest failed: {error}",
                             kind=FaultKind.IMAGE_BUILD)  # fmt: skip


def test_a_piped_build_is_a_few_lines_and_its_log_holds_every_line(tmp_path: Path) -> None:
    said: list[str] = []
    log = tmp_path / "run" / "image-build.log"
    lines = build_output(steps=12, lines=570)
    build(build_progress(log, said.append, stream=io.StringIO()), lines)
    assert len(said) <= 3, said
    assert said[0].startswith(HEADLINE) and str(log) in said[0]
    assert "image built in" in said[-1] and "12 steps" in said[-1] and str(log) in said[-1]
    assert log.read_text().splitlines() == [HEADLINE, *lines]


def test_on_a_terminal_the_build_is_one_line_redrawn(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    said: list[str] = []
    screen = Terminal()
    log = tmp_path / "image-build.log"
    build(build_progress(log, said.append, stream=screen), build_output(steps=12, lines=570))
    shown = screen.getvalue()
    assert shown.count("\n") == 1 and shown.startswith(HEADLINE)  # the rest redraws one line
    drawn = [d for d in shown.split("\n", 1)[1].split("\r\x1b[2K") if d]
    assert drawn and all(len(d) < 60 for d in drawn)
    assert "step 1/12" in drawn[0] and "step 12/12" in drawn[-1]
    assert len(said) == 1 and "image built in" in said[0] and str(log) in said[0]
    assert len(log.read_text().splitlines()) == 571
    quiet = Terminal()  # --quiet: lines, not a live line
    build(build_progress(tmp_path / "q.log", said.append, quiet=True, stream=quiet), ["x"])
    assert quiet.getvalue() == ""


def test_a_failed_build_names_its_log_and_shows_its_last_lines(tmp_path: Path) -> None:
    said: list[str] = []
    log = tmp_path / "image-build.log"
    lines = build_output(steps=12, lines=570, fail_at=5)
    why = "The command '/bin/sh -c make part-5' returned a non-zero code: 2"
    with pytest.raises(InfraError) as failed:
        build(build_progress(log, said.append, stream=io.StringIO()), lines, why)
    error = failed.value
    assert error.kind == FaultKind.IMAGE_BUILD and why in str(error) and str(log) in str(error)
    assert len(error.tail) == TAIL_LINES
    assert error.tail[-2] == lines[-1] and error.tail[-1].startswith("build failed:")
    assert log.read_text().splitlines()[-TAIL_LINES:] == list(error.tail)
    assert not any("image built" in line for line in said)


def test_nothing_is_written_or_shown_when_nothing_is_built(tmp_path: Path) -> None:
    said: list[str] = []
    screen = Terminal()
    with build_progress(tmp_path / "image-build.log", said.append, stream=screen):
        pass
    assert said == [] and screen.getvalue() == "" and list(tmp_path.iterdir()) == []


def test_escape_sequences_in_build_output_reach_neither_screen_nor_log(tmp_path: Path) -> None:
    said: list[str] = []
    screen = Terminal()
    log = tmp_path / "image-build.log"
    hostile = ["Step 1/1 : RUN x \x1b]52;c;ZXZpbA==\x07", "\x1b[2Jcleared \x9b31m"]
    build(build_progress(log, said.append, stream=screen), hostile)
    shown = screen.getvalue().replace("\r\x1b[2K", "")
    for text in (shown, log.read_text(), "\n".join(said)):
        assert "\x1b]" not in text and "\x07" not in text and "\x1b[2J" not in text
        assert "\x9b" not in text
