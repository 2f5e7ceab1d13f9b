"""What the commands share: the results-directory option, the line printer and the engine."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from swelancer.sandbox.engine import ImageEngine

ResultsOpt = Annotated[Path, typer.Option("--results-dir", help="Where run directories live.")]


def say(line: str) -> None:
    """One line to stderr, with terminal escapes removed (it may quote a container)."""
    from swelancer.textsafe import clean

    print(clean(line), file=sys.stderr, flush=True)


def engine() -> AbstractContextManager[ImageEngine]:
    """The engine the commands work on (Docker) for a `with` block: connected on first use (an
    `InfraError` saying how to start it when it does not answer), closed when the block ends."""
    from swelancer.sandbox.factory import open_engine

    return open_engine()
