"""The HTML page of one attempt: its blocks (`blocks.attempt_blocks`), escaped, with long outputs
folded and the whole text a click away. Transcript pages run no script at all."""

from __future__ import annotations

import re

from swelancer.report.blocks import Block, Part, fold
from swelancer.report.page import css_name, e, page

FULL_TEXT_LIMIT = 400_000
"""Characters of one output kept in a transcript page (the files on disk hold the rest)."""
FOLD_MARK = re.compile(r"… [\d,]+ (lines|characters) folded …")


_DIFF_HEADER = ("diff --git ", "index ", "--- ", "+++ ", "new file mode", "deleted file mode",
                "old mode", "new mode", "similarity index", "rename from", "rename to",
                "Binary files")  # fmt: skip


def _marked(text: str) -> str:
    """Escaped text with the fold marks set apart."""
    return FOLD_MARK.sub(lambda m: f'<span class="fold">{m.group(0)}</span>', e(text))


def looks_like_diff(text: str) -> bool:
    """Whether a text is a unified diff (a patch, `git diff`'s output): a file header, then a
    hunk."""
    head = text[:20_000]
    return bool(re.search(r"^(diff --git |\+\+\+ )", head, re.M)) and bool(
        re.search(r"^@@ ", head, re.M)
    )


def _diff_html(text: str) -> str:
    """A diff escaped line by line, each line classed as it reads: file header (`dh`), hunk
    (`dk`), added (`da`), removed (`dd`) or context (none)."""
    out = []
    in_hunk = False
    for line in text.split("\n"):
        if line.startswith("diff --git "):
            in_hunk = False
        if line.startswith("@@"):
            in_hunk, cls = True, "dk"
        elif not in_hunk and line.startswith(_DIFF_HEADER):
            cls = "dh"
        elif line.startswith("+"):
            cls = "da"
        elif line.startswith("-"):
            cls = "dd"
        else:
            cls = ""
        out.append(f'<span class="{cls}">{_marked(line)}</span>' if cls else _marked(line))
    return "\n".join(out)


def part_html(part: Part) -> str:
    label = f'<div class="label">{e(part.label)}</div>' if part.label else ""
    cls = {"code": "code", "output": "output", "diff": "output"}.get(part.style, "text")
    text = part.text
    cut = ""
    if len(text) > FULL_TEXT_LIMIT:
        cut = f"\n… {len(text) - FULL_TEXT_LIMIT:,} more characters are in the run directory"
        text = text[:FULL_TEXT_LIMIT]
    diff = part.style == "diff" or (part.style == "output" and looks_like_diff(text))
    show = _diff_html if diff else _marked
    cls += " diff" if diff else ""
    folded, hidden = fold(text, part.fold)
    if not hidden:
        return f'{label}<pre class="{cls}">{show(folded + cut)}</pre>'
    lines = len(text.splitlines())
    return (
        f'{label}<div class="foldbox"><pre class="{cls} folded">{show(folded)}</pre>'
        f"<details><summary>show all {lines:,} lines</summary>"
        f'<pre class="{cls}">{show(text + cut) if diff else e(text + cut)}</pre></details></div>'
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
