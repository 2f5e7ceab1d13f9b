"""What the commands share: the results-directory option and the line printer."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

ResultsOpt = Annotated[Path, typer.Option("--results-dir", help="Where run directories live.")]


def say(line: str) -> None:
    """One line to stderr, with terminal escapes removed (it may quote a container)."""
    from swelancer.textsafe import clean

    print(clean(line), file=sys.stderr, flush=True)
