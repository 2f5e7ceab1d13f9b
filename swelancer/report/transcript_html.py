"""The HTML page of one attempt: its blocks (`blocks.attempt_blocks`), escaped, with long outputs
folded and the whole text a click away. Transcript pages run no script at all."""

from __future__ import annotations

import re

from swelancer.report.blocks import Block, Part, fold
from swelancer.report.page import css_name, e, page

FULL_TEXT_LIMIT = 400_000
"""Characters of one output kept in a transcript page (the files on disk hold the rest)."""
FOLD_MARK = re.compile(r"… [\d,]+ (lines|characters) folded …")


def _marked(text: str) -> str:
    """Escaped text with the fold marks set apart."""
    return FOLD_MARK.sub(lambda m: f'<span class="fold">{m.group(0)}</span>', e(text))


def part_html(part: Part) -> str:
    label = f'<div class="label">{e(part.label)}</div>' if part.label else ""
    cls = {"code": "code", "output": "output"}.get(part.style, "text")
    text = part.text
    cut = ""
    if len(text) > FULL_TEXT_LIMIT:
        cut = f"\n… {len(text) - FULL_TEXT_LIMIT:,} more characters are in the run directory"
        text = text[:FULL_TEXT_LIMIT]
    folded, hidden = fold(text, part.fold)
    if not hidden:
        return f'{label}<pre class="{cls}">{_marked(folded + cut)}</pre>'
    lines = len(text.splitlines())
    return (
        f'{label}<div class="foldbox"><pre class="{cls} folded">{_marked(folded)}</pre>'
        f"<details><summary>show all {lines:,} lines</summary>"
        f'<pre class="{cls}">{e(text + cut)}</pre></details></div>'
    )


def blocks_html(blocks: list[Block]) -> str:
    out = []
    for block in blocks:
        meta = f'<div class="meta">{e(" · ".join(block.meta))}</div>' if block.meta else ""
        parts = "".join(part_html(p) for p in block.parts)
        out.append(
            f'<section class="block kind-{css_name(block.kind)} tone-{css_name(block.tone)}">'
            f"<h2>{e(block.title)}</h2>{meta}{parts}</section>"
        )
    return "\n".join(out)


def transcript_page(blocks: list[Block], back: str, siblings: list[tuple[int, str]]) -> str:
    """The page of one attempt, with links back to the report and to the task's other
    attempts (`siblings`: number and href)."""
    nav = [f'<a href="{e(back)}">← report</a>']
    nav += [f'<a href="{e(href)}">attempt {n}</a>' for n, href in siblings]
    title = blocks[0].title if blocks else "attempt"
    body = f'<nav class="top">{"".join(nav)}</nav>\n{blocks_html(blocks)}'
    return page(f"{title} · swelancer", body)
