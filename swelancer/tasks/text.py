"""The text of a task as its authors wrote it, from the manifest's cells.

Upstream's manifest writes every newline of a title, description or proposals cell as the two
characters `\\n` and leaves everything else as it is (tabs, quotes, backslashes): a regex's
`\\b` or `\\1` in a proposal is in the cell as written. So only `\\n` is decoded here (a
literal `\\n` that an author typed cannot be told from a newline in the cell; it becomes one).

A manager task's proposals are also in its `manager_data` (`game.all_formal_proposals`),
unambiguously: the proposals cell is `render_proposals` of them with carriage returns dropped
and newlines escaped. Those are the text sent; `cell_of` gives what the cell would be, to check.
"""

from __future__ import annotations

import re

PROPOSAL_RULE = "-" * 44
"""The line between two proposals in upstream's proposals cell."""

_SURROGATE = re.compile("[\ud800-\udfff]")


def decode_newlines(cell: str) -> str:
    """A title, description or proposals cell with each `\\n` turned back into a newline."""
    return cell.replace("\\n", "\n")


def normalise_newlines(text: str) -> str:
    """`\\r\\n` as `\\n`, any other `\\r` dropped: what upstream's cells hold of a proposal."""
    return text.replace("\r\n", "\n").replace("\r", "")


def render_proposals(proposals: list[tuple[int, str]]) -> str:
    """The proposals block of a manager prompt, in the shape of upstream's proposals cell."""
    blocks = (f"Proposal: {pid}:\n\n{text}\n\n{PROPOSAL_RULE}\n\n" for pid, text in proposals)
    return "".join(blocks) + "\n\n---"


def cell_of(text: str) -> str:
    """What upstream's manifest would write in a cell for `text` (newlines escaped)."""
    return text.replace("\n", "\\n")


def surrogate_problem(text: str) -> str | None:
    """Why `text` cannot be sent as UTF-8 (a lone surrogate, e.g. from `'\\ud83d'` in a Python
    literal), naming where it is; None when it can."""
    match = _SURROGATE.search(text)
    if match is None:
        return None
    at = match.start()
    return (
        f"holds a lone surrogate (U+{ord(match.group()):04X}) at character {at}, near "
        f"{text[max(0, at - 30) : at].encode('utf-8', 'backslashreplace').decode()!r}: such "
        "text cannot be encoded as UTF-8 nor sent to a model. Write the character itself (or "
        "a surrogate pair as one \\U0001xxxx escape) in the manifest."
    )
