"""A small scripted browser for the demo app's end-to-end tests, with Playwright-style traces.

A test asks the dev server (run_tests.yml starts it on the app's side, port 8082) for a fresh
copy of the app and acts as a user would, over the network only: it opens pages, clicks links,
fills in and submits forms, and checks what the screen shows. The tests never run nor import
the app, so the app can run in another container than the tests (sharing only the network).

    from utils.demo_browser import expect, open_app

    def test_something(pytestconfig):
        with open_app(trace=pytestconfig.getoption("--user-tool-trace")) as browser:
            browser.goto("/expenses")
            page = browser.click("Add expense")
            expect(page).to_contain_text("New expense")

Every session is recorded the way Playwright records a browser context traced with
`screenshots=True, snapshots=True, sources=True`. With `trace=True`, leaving `open_app` saves
the recording as `$EXPENSIFY_DIR/user_tool/output_<uuid hex>.zip` (`trace.trace`,
`trace.network`, `resources/`) and hands it to `utils.trace_cleaner.trace_cleaner`, which
unzips it into `output_<uuid hex>/`, deletes the zip and drops the rows of the checks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import time
import traceback
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from http.client import HTTPConnection
from pathlib import Path
from typing import NoReturn, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit

from .trace_cleaner import trace_cleaner

APP_DIR = Path(os.environ.get("EXPENSIFY_DIR", "/app/expensify"))
T = TypeVar("T")

# Seconds to wait for the app to start and for each request; issues/conftest.py raises it.
_timeout = 20.0


def set_default_timeout(seconds: float) -> None:
    global _timeout
    _timeout = float(seconds)


def default_timeout() -> float:
    return _timeout


BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "footer",
    "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol",
    "p", "pre", "section", "table", "tbody", "thead", "tr", "ul",
}  # fmt: skip
HIDDEN_TAGS = {"script", "style", "head", "template"}
INLINE_GAP_TAGS = {"a", "button", "input", "label", "select", "textarea"}
ROW_TAGS = {"tr", "li", "dd", "p"}
VOID_TAGS = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip


class BrowserError(Exception):
    """The user could not do what the test asked (no such link, field or button)."""


# Pages


@dataclass
class Field:
    name: str
    kind: str  # input type, "select" or "textarea"
    value: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, label)


@dataclass
class Form:
    method: str
    action: str
    fields: list[Field] = field(default_factory=list)
    buttons: list[str] = field(default_factory=list)
    row: str = ""  # text of the table row or list item around the form, if any


@dataclass
class Link:
    text: str
    href: str
    row: str = ""


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.chunks: list[str] = []
        self.links: list[Link] = []
        self.forms: list[Form] = []
        self._hidden = 0
        self._in_title = False
        self._link: Link | None = None
        self._form: Form | None = None
        self._field: Field | None = None  # open select or textarea
        self._option: list[str] | None = None  # [value, label, selected]
        self._button: list[str] | None = None
        self._rows: list[list[object]] = []  # [text parts, forms and links inside]

    # Text

    def _text(self, text: str) -> None:
        self.chunks.append(text)
        for row in self._rows:
            row[0].append(text)  # type: ignore[union-attr]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in HIDDEN_TAGS:
            self._hidden += 1
        if tag == "title":
            self._in_title = True
        if tag in BLOCK_TAGS:
            self._text("\n")
        if tag in ("td", "th"):
            self._text(" | ")
        if tag in INLINE_GAP_TAGS:
            self._text(" ")
        if tag in ROW_TAGS:
            self._rows.append([[], []])
        if tag == "a" and "href" in a:
            self._link = Link("", a["href"])
        elif tag == "form":
            self._form = Form(a.get("method", "get").upper(), a.get("action", ""))
            self.forms.append(self._form)
            if self._rows:
                self._rows[-1][1].append(self._form)  # type: ignore[union-attr]
        elif tag == "input" and self._form is not None:
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button"):
                self._form.buttons.append(a.get("value", "Submit"))
                self._text(f"[{a.get('value', 'Submit')}]")
            elif kind in ("checkbox", "radio"):
                if "checked" in a and a.get("name"):
                    self._form.fields.append(Field(a["name"], kind, a.get("value", "on")))
            elif a.get("name"):
                self._form.fields.append(Field(a["name"], kind, a.get("value", "")))
                if kind != "hidden":
                    self._text(f"[{a.get('value', '')}]")
        elif tag in ("select", "textarea") and self._form is not None and a.get("name"):
            self._field = Field(a["name"], tag)
            self._form.fields.append(self._field)
        elif tag == "option" and self._field is not None:
            self._option = [a.get("value"), "", "selected" in a]  # type: ignore[list-item]
        elif tag == "button":
            self._button = []
        elif tag == "img":
            alt = a.get("alt", "").strip()
            self._text(f"[image: {alt}]" if alt else "[image]")

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        if tag == "title":
            self._in_title = False
        if tag == "a" and self._link is not None:
            self._link.text = " ".join(self._link.text.split())
            self.links.append(self._link)
            if self._rows:
                self._rows[-1][1].append(self._link)  # type: ignore[union-attr]
            self._link = None
        elif tag == "option" and self._option is not None and self._field is not None:
            value, label, selected = self._option
            label = " ".join(str(label).split())
            value = label if value is None else str(value)
            self._field.options.append((value, label))
            if selected or len(self._field.options) == 1:
                self._field.value = value
            self._option = None
        elif tag == "select" and self._field is not None:
            chosen = next((lbl for v, lbl in self._field.options if v == self._field.value), "")
            self._text(f"[{chosen} v]")
            self._field = None
        elif tag == "textarea" and self._field is not None:
            self._text(f"[{self._field.value}]")
            self._field = None
        elif tag == "button" and self._button is not None:
            label = " ".join("".join(self._button).split())
            if self._form is not None:
                self._form.buttons.append(label)
            self._text(f"[{label}]")
            self._button = None
        elif tag == "form":
            self._form = None
        if tag in ROW_TAGS and self._rows:
            parts, items = self._rows.pop()
            text = " ".join("".join(parts).split())  # type: ignore[arg-type]
            for item in items:  # type: ignore[union-attr]
                if not item.row:
                    item.row = text
        if tag in BLOCK_TAGS:
            self._text("\n")
        elif tag in INLINE_GAP_TAGS or tag in ("td", "th"):
            self._text(" ")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._hidden:
            return
        if self._option is not None:
            self._option[1] += data  # type: ignore[operator]
            return
        if self._field is not None and self._field.kind == "textarea":
            self._field.value += data
            return
        if self._button is not None:
            self._button.append(data)
            return
        if self._link is not None:
            self._link.text += data
        self._text(re.sub(r"\s+", " ", data))


def _screen_text(chunks: list[str]) -> str:
    lines = []
    for line in "".join(chunks).splitlines():
        cleaned = " ".join(line.split()).strip(" |").strip()
        if cleaned:
            lines.append(cleaned)
    return "\n".join(lines)


@dataclass
class Page:
    url: str  # path and query, e.g. /expenses?page=2
    status: int
    content_type: str
    body: str
    title: str = ""
    text: str = ""  # what the user reads on the screen
    links: list[Link] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)
    address: str = ""  # the full URL, as in the address bar
    tracing: Tracing | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, url: str, status: int, content_type: str, body: str) -> Page:
        page = cls(url, status, content_type, body)
        if "html" in content_type:
            parser = _PageParser()
            parser.feed(body)
            parser.close()
            page.title = " ".join(parser.title.split())
            page.text = _screen_text(parser.chunks)
            page.links, page.forms = parser.links, parser.forms
        else:
            page.text = body
        return page

    @property
    def html(self) -> str:
        return self.body

    def screen(self) -> str:
        """The screen as text: address bar, tab title, then what the page shows."""
        return f"[address] {self.address or self.url}\n[tab] {self.title}\n\n{self.text}\n"


# The app under test


LAUNCHER = os.environ.get("DEMO_APP_LAUNCHER", "127.0.0.1:8082")
"""The dev server run_tests.yml starts on the app's side: it starts fresh copies of the app."""


class App:
    """A fresh copy of the app, started by the dev server (the launcher on the app's side) and
    reached over the network only: the tests never run nor import the code under test."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.port: int | None = None

    @property
    def command(self) -> list[str]:
        return ["python3", "-m", "expenses", *self.args]

    def _call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        host, _, port = LAUNCHER.rpartition(":")
        connection = HTTPConnection(host, int(port), timeout=_timeout + 5)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read(1_000_000)
        finally:
            connection.close()
        try:
            return response.status, json.loads(raw) if raw else {}
        except ValueError:
            return response.status, {"error": raw[:500].decode("utf-8", "replace")}

    def start(self) -> None:
        try:
            status, body = self._call("POST", "/apps", {"args": list(self.args)})
        except OSError as exc:
            raise BrowserError(f"the dev server on {LAUNCHER} does not answer ({exc})") from exc
        if status != 201 or not isinstance(body.get("port"), int):
            raise BrowserError(str(body.get("error") or f"the dev server answered {status}"))
        self.port = body["port"]

    def stop(self) -> None:
        if self.port is None:
            return
        with contextlib.suppress(OSError):
            self._call("DELETE", f"/apps/{self.port}")


# Tracing, in the layout of a Playwright trace

TRACE_VERSION = 7
VIEWPORT = {"width": 1280, "height": 720}
_THIS_FILE = Path(__file__).resolve()
_LIBRARY_PARTS = ("/site-packages/", "/dist-packages/")
_PYTHON_ROOTS = tuple(
    {str(Path(p).resolve()) + "/" for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
)


def _clock() -> tuple[float, float]:
    """(monotonic, wall) time in milliseconds, as the rows of a Playwright trace carry them."""
    return round(time.monotonic() * 1000, 3), round(time.time() * 1000, 3)


def _caller_stack() -> list[dict[str, object]]:
    """The calling frames outside this module and the libraries, innermost first: the test's."""
    frames: list[dict[str, object]] = []
    for frame in reversed(traceback.extract_stack()):
        name = frame.filename
        if name.startswith("<") or any(part in name for part in _LIBRARY_PARTS):
            continue
        path = Path(name).resolve()
        if path == _THIS_FILE or str(path).startswith(_PYTHON_ROOTS):
            continue
        frames.append({"file": name, "line": frame.lineno, "column": 0, "function": frame.name})
    return frames


class _SnapshotBuilder(HTMLParser):
    """A page's DOM as Playwright stores it in a frame snapshot: nested lists
    `[TAG, {attributes}, *children]`, text nodes as strings."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root: list[object] = ["#document", {}]
        self._open: list[list[object]] = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node: list[object] = [tag.upper(), {k: v or "" for k, v in attrs}]
        self._open[-1].append(node)
        if tag not in VOID_TAGS:
            self._open.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open[-1].append([tag.upper(), {k: v or "" for k, v in attrs}])

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._open) - 1, 0, -1):
            if self._open[depth][0] == tag.upper():
                del self._open[depth:]
                return

    def handle_data(self, data: str) -> None:
        if data.strip():
            self._open[-1].append(data)


def _dom_snapshot(page: Page) -> list[object]:
    if "html" not in page.content_type:  # a browser shows other text in a <pre>
        return ["HTML", {}, ["HEAD", {}], ["BODY", {}, ["PRE", {}, page.body]]]
    builder = _SnapshotBuilder()
    builder.feed(page.body)
    builder.close()
    for node in builder.root[2:]:
        if isinstance(node, list) and node[0] == "HTML":
            return node
    return ["HTML", {}, *builder.root[2:]]


def _extension(content_type: str) -> str:
    mime = content_type.split(";")[0].strip()
    return {
        "text/html": ".html",
        "text/csv": ".csv",
        "application/json": ".json",
        "text/plain": ".txt",
        "text/css": ".css",
    }.get(mime, ".bin")


def _har_headers(headers: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers.items()]


class Tracing:
    """One browser session, kept in the rows and files of a Playwright trace.

    `stop(path)` writes the zip: `trace.trace` (JSONL: a `context-options` row, then for each
    call `before`, `log` and `after` rows, `frame-snapshot` rows with the page's DOM before
    and after navigations, `screencast-frame` rows naming the screen's picture in
    `resources/`), `trace.network` (JSONL `resource-snapshot` rows, one per HTTP exchange,
    bodies in `resources/<sha1>.<ext>`), and, as Playwright does with `sources=True`,
    `resources/src@<sha1 of the file's path>.txt` holding each calling test file's source.
    """

    def __init__(self) -> None:
        self.context_id = f"browser-context@{uuid.uuid4().hex}"
        self.page_id = f"page@{uuid.uuid4().hex}"
        self.frame_id = f"frame@{uuid.uuid4().hex}"
        self.events: list[dict[str, object]] = []
        self.network: list[dict[str, object]] = []
        self.resources: dict[str, bytes] = {}
        self.source_files: dict[str, None] = {}  # ordered set
        self._calls = 0
        monotonic, wall = _clock()
        self.events.append(
            {
                "version": TRACE_VERSION,
                "type": "context-options",
                "origin": "library",
                "browserName": "demo",
                "platform": sys.platform,
                "wallTime": wall,
                "monotonicTime": monotonic,
                "sdkLanguage": "python",
                "testIdAttributeName": "data-testid",
                "contextId": self.context_id,
                "options": {"viewport": VIEWPORT, "locale": "en-US"},
            }
        )

    # Calls

    def begin(
        self, api_name: str, method: str, params: dict[str, object], page: Page | None = None
    ) -> str:
        self._calls += 1
        call_id = f"call@{self._calls}"
        stack = _caller_stack()
        for frame in stack:
            self.source_files[str(frame["file"])] = None
        row: dict[str, object] = {
            "type": "before",
            "callId": call_id,
            "startTime": _clock()[0],
            "apiName": api_name,
            "class": "Frame",
            "method": method,
            "params": params,
            "stepId": f"pw:api@{self._calls}",
            "pageId": self.page_id,
            "stack": stack,
        }
        if page is not None:
            row["beforeSnapshot"] = f"before@{call_id}"
        self.events.append(row)
        if page is not None:
            self._snapshot(call_id, f"before@{call_id}", page)
        return call_id

    def log(self, call_id: str, message: str) -> None:
        self.events.append(
            {"type": "log", "callId": call_id, "time": _clock()[0], "message": message}
        )

    def end(
        self,
        call_id: str,
        page: Page | None = None,
        error: str | None = None,
        result: dict[str, object] | None = None,
    ) -> None:
        row: dict[str, object] = {"type": "after", "callId": call_id}
        if page is not None:
            self._snapshot(call_id, f"after@{call_id}", page)
            row["afterSnapshot"] = f"after@{call_id}"
        row["endTime"] = _clock()[0]
        if error is not None:
            row["error"] = {"message": error, "name": "Error"}
        if result is not None:
            row["result"] = result
        self.events.append(row)

    # What the page showed

    def _snapshot(self, call_id: str, name: str, page: Page) -> None:
        monotonic, wall = _clock()
        self.events.append(
            {
                "type": "frame-snapshot",
                "snapshot": {
                    "callId": call_id,
                    "snapshotName": name,
                    "pageId": self.page_id,
                    "frameId": self.frame_id,
                    "frameUrl": page.address or page.url,
                    "doctype": "html",
                    "html": _dom_snapshot(page),
                    "viewport": VIEWPORT,
                    "timestamp": monotonic,
                    "wallTime": wall,
                    "collectionTime": 0,
                    "resourceOverrides": [],
                    "isMainFrame": True,
                },
            }
        )

    def screencast(self, page: Page) -> None:
        """A frame of the screen. The demo has no pixels: the picture is the screen as text."""
        monotonic, wall = _clock()
        name = f"{self.page_id}-{int(wall)}.txt"
        n = 1
        while name in self.resources:
            n += 1
            name = f"{self.page_id}-{int(wall)}-{n}.txt"
        self.resources[name] = page.screen().encode("utf-8")
        self.events.append(
            {
                "type": "screencast-frame",
                "pageId": self.page_id,
                "sha1": name,
                "width": VIEWPORT["width"],
                "height": VIEWPORT["height"],
                "timestamp": monotonic,
                "frameSwapWallTime": wall,
            }
        )

    def exchange(
        self,
        request: tuple[str, str, dict[str, str], str | None],
        response: tuple[int, str, dict[str, str], bytes],
        started: float,
        elapsed_ms: float,
    ) -> None:
        """One HTTP request and its response, as a HAR entry in trace.network."""
        method, url, request_headers, body = request
        status, reason, response_headers, data = response
        content_type = response_headers.get("content-type", "")
        content: dict[str, object] = {"size": len(data), "mimeType": content_type}
        if data:
            sha1 = hashlib.sha1(data).hexdigest() + _extension(content_type)
            self.resources[sha1] = data
            content["_sha1"] = sha1
        har_request: dict[str, object] = {
            "method": method,
            "url": url,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _har_headers(request_headers),
            "queryString": [
                {"name": k, "value": v}
                for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)
            ],
            "headersSize": -1,
            "bodySize": len(body.encode()) if body else 0,
        }
        if body:
            har_request["postData"] = {
                "mimeType": request_headers.get("Content-Type", ""),
                "text": body,
                "params": [
                    {"name": k, "value": v} for k, v in parse_qsl(body, keep_blank_values=True)
                ],
            }
        self.network.append(
            {
                "type": "resource-snapshot",
                "snapshot": {
                    "pageref": self.page_id,
                    "startedDateTime": datetime.fromtimestamp(started, UTC).isoformat(),
                    "time": round(elapsed_ms, 3),
                    "request": har_request,
                    "response": {
                        "status": status,
                        "statusText": reason,
                        "httpVersion": "HTTP/1.1",
                        "cookies": [],
                        "headers": _har_headers(response_headers),
                        "content": content,
                        "redirectURL": response_headers.get("location", ""),
                        "headersSize": -1,
                        "bodySize": len(data),
                        "_transferSize": -1,
                    },
                    "cache": {},
                    "timings": {"send": -1, "wait": round(elapsed_ms, 3), "receive": -1},
                    "_frameref": self.frame_id,
                    "_monotonicTime": _clock()[0],
                },
            }
        )

    # Saving

    def stop(self, path: Path) -> None:
        """Write the trace zip to `path`."""
        resources = dict(self.resources)
        for name in self.source_files:
            try:
                source = Path(name).read_bytes()
            except OSError:
                continue
            resources[f"src@{hashlib.sha1(name.encode()).hexdigest()}.txt"] = source
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("trace.trace", "".join(_jsonl(row) for row in self.events))
            archive.writestr("trace.network", "".join(_jsonl(row) for row in self.network))
            for name, data in resources.items():
                archive.writestr(f"resources/{name}", data)


def _jsonl(row: dict[str, object]) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"


# The browser


def _browser_url(href: str) -> str:
    """Encode a link the way a browser does before sending it (spaces become %20)."""
    return quote(href, safe="/?&=%:#+;,@!$'()*[]~")


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


class Browser:
    def __init__(self, app: App, tracing: Tracing) -> None:
        self.app = app
        self.tracing = tracing
        self.page: Page | None = None
        self.origin = f"http://127.0.0.1:{app.port}"

    # What a user does

    def goto(self, url: str) -> Page:
        """Type a URL (path) in the address bar."""
        call = self.tracing.begin(
            "Page.goto", "goto", {"url": self.origin + url, "waitUntil": "load"}, self.page
        )
        return self._navigate(call, "GET", url)

    def click(self, text: str, row: str | None = None) -> Page:
        """Click the link showing `text` (in the row containing `row`, if given)."""
        selector = f"internal:role=link[name={_quoted(text)}s]"
        if row:
            selector = f"internal:role=row >> internal:has-text={_quoted(row)}i >> {selector}"
        call = self.tracing.begin(
            "Locator.click", "click", {"selector": selector, "strict": True}, self.page
        )
        links = [
            lk for lk in self._current(call).links if lk.text == text and (not row or row in lk.row)
        ]
        link = self._find(
            links,
            call,
            f"no link {text!r} on the page" + (f" in a row with {row!r}" if row else ""),
        )
        self.tracing.log(call, f"  locator resolved to <a href={_quoted(link.href)}>{text}</a>")
        self.tracing.log(call, "  performing click action")
        return self._navigate(call, "GET", link.href)

    def submit(
        self, button: str, fields: dict[str, str] | None = None, row: str | None = None
    ) -> Page:
        """Fill in `fields` (by name; a select takes a value or a label) and press `button`."""
        fields = fields or {}
        page = self.page
        forms = [
            f
            for f in (page.forms if page else [])
            if button in f.buttons and (not row or row in f.row)
        ]
        form = forms[0] if forms else None
        values = {f.name: f.value for f in form.fields} if form else {}
        for name, value in fields.items():
            target = next((f for f in form.fields if f.name == name), None) if form else None
            selector = f"[name={_quoted(name)}]"
            if target is not None and target.kind == "select":
                call = self.tracing.begin(
                    "Locator.select_option",
                    "selectOption",
                    {"selector": selector, "strict": True, "options": [{"valueOrLabel": value}]},
                )
                match = [v for v, label in target.options if value in (v, label)]
                if not match:
                    self._fail(call, f"{name!r} has no option {value!r}")
                value = match[0]
                self.tracing.log(call, f"  selected option {_quoted(value)}")
            else:
                call = self.tracing.begin(
                    "Locator.fill", "fill", {"selector": selector, "strict": True, "value": value}
                )
                if form is None:
                    self._current(call)
                    self._fail(call, f"no button {button!r} on the page")
                if target is None:
                    self._fail(call, f"no field named {name!r} in the form")
                self.tracing.log(call, f"  fill({_quoted(value)})")
            values[name] = value
            self.tracing.end(call)

        selector = f"internal:role=button[name={_quoted(button)}s]"
        if row:
            selector = f"internal:role=row >> internal:has-text={_quoted(row)}i >> {selector}"
        call = self.tracing.begin(
            "Locator.click", "click", {"selector": selector, "strict": True}, page
        )
        self._current(call)
        form = self._find(
            [form] if form else [],
            call,
            f"no button {button!r} on the page" + (f" in a row with {row!r}" if row else ""),
        )
        self.tracing.log(call, f"  locator resolved to <button>{button}</button>")
        self.tracing.log(call, "  performing click action")
        action = form.action or self._current(call).url
        if form.method == "GET":
            return self._navigate(call, "GET", urlsplit(action).path + "?" + urlencode(values))
        return self._navigate(call, "POST", action, urlencode(values))

    # Plumbing

    def _current(self, call: str) -> Page:
        if self.page is None:
            self._fail(call, "no page is open yet")
        return self.page

    def _find(self, candidates: list[T], call: str, error: str) -> T:
        if not candidates:
            self._fail(call, error)
        return candidates[0]

    def _fail(self, call: str, error: str) -> NoReturn:
        self.tracing.end(call, error=error)
        raise BrowserError(error)

    def _request(
        self, method: str, url: str, body: str | None
    ) -> tuple[int, str, dict[str, str], bytes, dict[str, str]]:
        connection = HTTPConnection("127.0.0.1", self.app.port, timeout=_timeout)
        headers = {"Host": f"127.0.0.1:{self.app.port}", "User-Agent": "demo-browser/1"}
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, url, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            got = {k.lower(): v for k, v in response.getheaders()}
            return response.status, response.reason, got, data, headers
        finally:
            connection.close()

    def _navigate(self, call: str, method: str, url: str, body: str | None = None) -> Page:
        base = self.page.url if self.page else "/"
        url = _browser_url(urljoin(base, unescape(url)))
        self.tracing.log(call, f"  navigating to {_quoted(self.origin + url)}")
        status, headers, data = 0, {}, b""
        try:
            for _ in range(10):
                started = time.time()
                clock = time.monotonic()
                status, reason, headers, data, sent = self._request(method, url, body)
                elapsed = (time.monotonic() - clock) * 1000
                self.tracing.exchange(
                    (method, self.origin + url, sent, body),
                    (status, reason, headers, data),
                    started,
                    elapsed,
                )
                self.tracing.log(call, f"  {method} {url} -> {status} {reason}")
                if status in (301, 302, 303, 307, 308) and "location" in headers:
                    location = urlsplit(urljoin(url, headers["location"]))
                    url = _browser_url(
                        location.path + (f"?{location.query}" if location.query else "")
                    )
                    if status in (301, 302, 303):
                        method, body = "GET", None
                    continue
                break
        except OSError as error:
            self._fail(call, f"{method} {url} failed: {error}")
        text = data.decode("utf-8", errors="replace")
        page = Page.parse(url, status, headers.get("content-type", ""), text)
        page.address = self.origin + url
        page.tracing = self.tracing
        self.page = page
        self.tracing.screencast(page)
        self.tracing.end(call, page=page)
        return page


# Checks


class LocatorAssertions:
    """Checks on what the page shows, named and recorded as Playwright's `expect(locator)`
    checks are, so that the trace cleaner can drop them: a trace never shows what a test
    expected."""

    def __init__(self, page: Page) -> None:
        self._page = page

    def to_contain_text(self, expected: str) -> None:
        self._contains(expected, is_not=False)

    def not_to_contain_text(self, expected: str) -> None:
        self._contains(expected, is_not=True)

    def _contains(self, expected: str, is_not: bool) -> None:
        __tracebackhide__ = True  # pytest shows the test's line, not this one
        page = self._page
        found = expected in page.text
        passed = found != is_not
        name = "not_to_contain_text" if is_not else "to_contain_text"
        message = None
        if not passed:
            wanted = "not to contain" if is_not else "to contain"
            message = (
                f"Locator expected {wanted} text {expected!r}\nPage {page.url} shows:\n{page.text}"
            )
        tracing = page.tracing
        if tracing is not None:
            call = tracing.begin(
                f"LocatorAssertions.{name}",
                "expect",
                {
                    "selector": "body",
                    "expression": "to.have.text",
                    "expectedText": [
                        {"string": expected, "matchSubstring": True, "normalizeWhiteSpace": True}
                    ],
                    "isNot": is_not,
                    "timeout": int(_timeout * 1000),
                },
            )
            tracing.log(call, f"LocatorAssertions.{name} with timeout {int(_timeout * 1000)}ms")
            tracing.log(call, 'waiting for locator("body")')
            tracing.end(call, error=message, result={"matches": found, "received": page.text})
        if message is not None:
            raise AssertionError(message)


def expect(page: Page) -> LocatorAssertions:
    """Checks on the whole page, as Playwright's `expect(page.locator("body"))`."""
    return LocatorAssertions(page)


# Sessions


@contextmanager
def open_app(*args: str, trace: bool = False) -> Iterator[Browser]:
    """Start the app (extra command-line `args`, e.g. "--demo-data") and a browser on it.

    With `trace` (what a test passes from its `--user-tool-trace` option), leaving the block
    saves the session's trace in APP_DIR/user_tool/ and cleans it (see the module's doc).
    """
    tracing = Tracing()
    app = App(*args)
    call = tracing.begin("BrowserContext.new_page", "newPage", {})
    try:
        try:
            app.start()
        except BrowserError as error:
            tracing.end(call, error=str(error))
            raise
        tracing.log(call, "  started the app: " + " ".join(["python3", "-m", "expenses", *args]))
        tracing.end(call)
        yield Browser(app, tracing)
    finally:
        app.stop()
        if trace:
            path = APP_DIR / "user_tool" / f"output_{uuid.uuid4().hex}.zip"
            tracing.stop(path)
            trace_cleaner(str(path))
