"""`swelancer view`: one attempt on the terminal, as rich text or, in a pipe, as plain text.

The attempt is read by `attempt_dir.load_attempt` and laid out by `blocks.attempt_blocks`; this
module draws the blocks. Text is cleaned of what a terminal would act on (`textsafe.clean`).
"""

from __future__ import annotations

from typing import Any

from swelancer.report.attempt_dir import AttemptView, load_attempt, one_line, resolve_run
from swelancer.report.blocks import Block, Part, attempt_blocks, fold
from swelancer.textsafe import clean

__all__ = [
    "AttemptView",
    "Block",
    "attempt_blocks",
    "fold",
    "load_attempt",
    "plain_text",
    "render_terminal",
    "resolve_run",
]

# -- the terminal -------------------------------------------------------------------------

TONE_STYLE = {"good": "bold green", "bad": "bold red", "warn": "bold yellow"}
KIND_STYLE = {
    "header": "bold white on blue",
    "prompt": "bold magenta",
    "model": "bold blue",
    "command": "bold cyan",
    "user_tool": "bold magenta",
}
PART_STYLE = {"code": "yellow", "output": "", "text": ""}


def _part_text(part: Part, full: bool) -> str:
    """The part's text, cleaned of what a terminal would act on, then folded."""
    text, _ = fold(clean(part.text), None if full else part.fold)
    return text


def plain_text(blocks: list[Block], *, full: bool = False) -> str:
    """The blocks as plain text, for a pipe or a file; nothing in it a terminal acts on."""
    out: list[str] = []
    for block in blocks:
        title = one_line(block.title)
        out.append(f"== {title} " + "=" * max(3, 76 - len(title)))
        if block.meta:
            out.append("   " + one_line(" · ".join(block.meta)))
        for part in block.parts:
            if part.label:
                out.append(f"--- {one_line(part.label)}")
            out.append(_part_text(part, full))
        out.append("")
    return "\n".join(out)


def render_terminal(blocks: list[Block], *, full: bool = False, out: Any = None) -> None:
    """The blocks with rich on a terminal, as plain text otherwise. Text is cleaned of what a
    terminal would act on and drawn as rich `Text`, which reads no markup."""
    from rich.console import Console
    from rich.padding import Padding
    from rich.rule import Rule
    from rich.text import Text

    out = out or Console(highlight=False)
    if not out.is_terminal:
        out.file.write(plain_text(blocks, full=full))
        out.file.flush()
        return
    for block in blocks:
        style = TONE_STYLE[block.tone] if block.tone else KIND_STYLE.get(block.kind, "bold cyan")
        out.print(Rule(Text(one_line(block.title), style=style), align="left", style="dim"))
        if block.meta:
            out.print(Text(one_line(" · ".join(block.meta)), style="dim"))
        for part in block.parts:
            if part.label:
                out.print(Text(one_line(part.label), style="dim italic"))
            text = Text(_part_text(part, full), style=PART_STYLE.get(part.style, ""))
            text.highlight_regex(r"… [\d,]+ (lines|characters) folded …", "reverse")
            out.print(Padding(text, (0, 0, 0, 2)))
        out.print()
