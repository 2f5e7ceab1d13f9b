"""What the `images` commands share: their options, short ids and the console."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

SplitOpt = Annotated[
    str | None,
    typer.Option(
        "--split",
        "-s",
        help="demo (default), diamond, nondiamond, all or lite: the tasks whose images count.",
    ),
]
ManifestOpt = Annotated[
    Path | None,
    typer.Option("--manifest", "-m", help="Take the tasks from this CSV instead of a split."),
]
PerTaskOpt = Annotated[
    bool,
    typer.Option(
        "--per-task-images",
        help="Upstream IC tasks in their own images (14 GB each) instead of the unified one.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def short_id(image_id: str | None) -> str:
    return (image_id or "").removeprefix("sha256:")[:12] or "—"


def console(stderr: bool = False):
    """A console on stdout (or stderr); 240 columns wide when it is not a terminal (logs,
    pipes), so that tables of long image names keep every column whole."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 240)
