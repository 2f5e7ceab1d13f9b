"""The shell of every HTML page of a report: its style and script, inlined from the package's
`assets/` (`report.css`, `report.js`), a Content-Security-Policy that admits only that script
(by its hash) and loads nothing, and escaping for everything that comes from a run.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import quote

ASSETS = "assets"


@cache
def asset(name: str) -> str:
    """A file of the package's `assets/` folder, as installed (`report.css`, `report.js`)."""
    return (files("swelancer.report") / ASSETS / name).read_text(encoding="utf-8")


def e(value: Any) -> str:
    """Escaped text for HTML content and attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


def csp(script: str | None) -> str:
    """The page's policy: inline style, data: images, and `script` only (none without one)."""
    scripts = "'none'"
    if script is not None:
        digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
        scripts = f"'sha256-{digest}'"
    return (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src {scripts}; "
        "base-uri 'none'; form-action 'none'"
    )


def page(title: str, body: str, *, script: str | None = None) -> str:
    """A whole HTML document: the report's style inline, and `script` admitted by its hash."""
    tail = f"<script>{script}</script>" if script is not None else ""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{e(csp(script))}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{e(title)}</title><style>{asset('report.css')}</style></head>\n"
        f"<body><main>\n{body}\n</main>{tail}</body></html>\n"
    )


def td(key: str, text: str, *, sort: Any = None, cls: str = "n") -> str:
    """A table cell that names the figure it shows (`data-key`) and, to sort by, its value."""
    value = "" if sort is None else f' data-v="{e(sort)}"'
    return f'<td class="{cls}" data-key="{e(key)}"{value}>{e(text)}</td>'


def notes_html(found: list[str]) -> str:
    if not found:
        return ""
    items = "".join(f"<li>{e(n)}</li>" for n in found)
    return f'<h2>Notes</h2><ul class="notes">{items}</ul>'


def safe_name(task_id: str) -> str:
    """A file name for a task id (ids are plain upstream, but a page must never escape)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", task_id).lstrip(".")
    return name or "_"


def css_name(text: str) -> str:
    """Text made into a class name."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text) or "none"


def transcript_href(files_dir: str, task_id: str, attempt: int) -> str:
    return f"{quote(files_dir)}/{quote(safe_name(task_id))}/{attempt}.html"
