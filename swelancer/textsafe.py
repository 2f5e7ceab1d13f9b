"""Text from tasks, models and containers made safe to show: on a terminal, in a log, in Markdown.

Such text is written by whoever controls a manifest or a container. `clean` drops everything a
terminal would act on instead of showing (escape sequences, control characters, bidi overrides)
and keeps ordinary unicode; `rich_text` also keeps rich from reading markup in it; `md_text`
keeps a Markdown viewer from rendering HTML, links or images from it; `json_text` writes JSON
whose strings hold no raw control character, losslessly.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

_PRINTABLE = r"[^\x00-\x1f\x7f-\x9f]"
_SEQUENCES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI: ESC [ params intermediates final
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # CSI as one C1 character
    rf"|\x1b[\]PX^_]{_PRINTABLE}*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC strings
    rf"|[\x90\x98\x9d\x9e\x9f]{_PRINTABLE}*(?:\x07|\x1b\\|\x9c)?"  # the same as C1 characters
    r"|\x1b[ -/]*[0-~]?"  # any other escape: ESC c, ESC ( B, ESC 7, a lone ESC
)
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"  # C0 but \t \n, DEL, C1, bidi
)
_SURROGATES = re.compile("[\ud800-\udfff]")
_MD_SPECIAL = re.compile(r"([\\`|\[\]])")
_MD_WWW = re.compile(r"(?i)(?<![A-Za-z0-9])(www)\.")
# What JSON written with ensure_ascii=False would leave raw inside its strings.
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def clean(text: Any) -> str:
    """`text` without escape sequences, control characters (but newline and tab) and bidi
    overrides; lone surrogates (undecodable bytes) become U+FFFD. Other unicode is kept."""
    plain: str = text if isinstance(text, str) else str(text)
    if plain.isprintable():
        return plain
    plain = _SEQUENCES.sub("", plain)
    plain = _CONTROLS.sub("", plain)
    return _SURROGATES.sub("\ufffd", plain)


def rich_text(text: Any, style: str = "") -> Text:
    """`text` cleaned, as a rich `Text`: rich shows it as it is and reads no markup in it."""
    from rich.text import Text

    return Text(clean(text), style=style)


def md_text(text: Any) -> str:
    """`text` cleaned and on one line, safe inside Markdown (a table cell, a heading, an item).

    HTML is escaped (`<`, `>`, `&`); `[` and `]` are escaped, so no link, image or reference can
    be made (`![x](http://…)` shows as written); so are backticks, `|` and backslashes; and bare
    URLs (`://`, `www.`) get an escape a viewer does not show, so none becomes a link.
    """
    flat = " ".join(clean(text).split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    flat = _MD_SPECIAL.sub(r"\\\1", flat).replace("://", "\\://")
    return _MD_WWW.sub(r"\1\\.", flat)


def json_text(data: Any, **options: Any) -> str:
    """`json.dumps(data, ensure_ascii=False, **options)` with the characters a terminal acts on
    (DEL, C1 controls, bidi overrides, line separators) written as `\\uXXXX` escapes: the same
    JSON value, and nothing raw on the terminal (C0 controls JSON escapes itself)."""
    text = json.dumps(data, ensure_ascii=False, **options)
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
