"""Trace recording in Playwright's own format (trace version 7).

`tracing.stop(path=...)` writes a zip holding `trace.trace` (JSONL: a `context-options` row,
then `before`/`log`/`after` rows per call, `screencast-frame` and `frame-snapshot` rows),
`trace.network` (JSONL of `resource-snapshot` HAR entries), `trace.stacks` (call stacks) and
`resources/`: screencast jpegs, response bodies by sha1, and, with `sources=True`,
`resources/src@<sha1 of the path>.txt` holding each source file a call came from.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playwright._impl import dom
from playwright._impl.errors import Error

if TYPE_CHECKING:
    from playwright._impl.core import BrowserContext, Page

PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)
VIEWPORT = {"width": 1280, "height": 720}
MIME_EXTENSIONS = {
    "text/html": "html",
    "text/css": "css",
    "application/json": "json",
    "application/javascript": "js",
    "text/javascript": "js",
    "text/plain": "txt",
    "image/png": "png",
    "image/jpeg": "jpeg",
}


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def render_jpeg(page: Page) -> bytes:
    """A screenshot: the page's rendered text on a white viewport."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (VIEWPORT["width"], VIEWPORT["height"]), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    draw.rectangle((0, 0, VIEWPORT["width"], 28), fill=(235, 237, 240))
    draw.text((10, 8), page.url, fill=(60, 60, 60), font=font)
    y = 44
    document = page._document
    lines = document.body.inner_text().splitlines() if document is not None else []
    for el in document.elements() if document is not None else []:
        if el.tag in ("input", "textarea") and el.is_rendered() and el.current_value():
            lines.append(
                f"[{el.attrs.get('aria-label') or el.attrs.get('name', '')}: {el.current_value()}]"
            )
    for line in lines:
        if y > VIEWPORT["height"] - 20:
            break
        draw.text((16, y), line[:160], fill=(20, 20, 20), font=font)
        y += 18
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=60)
    return out.getvalue()


class _Call:
    def __init__(self, recorder: Tracing | None, call_id: str) -> None:
        self.recorder, self.call_id = recorder, call_id
        self.result: dict[str, Any] | None = None
        self.error: BaseException | None = None

    def log(self, message: str) -> None:
        if self.recorder is not None:
            self.recorder._row(
                {
                    "type": "log",
                    "callId": self.call_id,
                    "time": self.recorder._now(),
                    "message": message,
                }
            )


class Tracing:
    """`context.tracing`."""

    def __init__(self, context: BrowserContext) -> None:
        self._context = context
        self._recording = False
        self._depth = 0
        self._call_counter = 0
        self._reset()

    def _reset(self) -> None:
        self._rows: list[dict[str, Any]] = []
        self._network: list[dict[str, Any]] = []
        self._resources: dict[str, bytes] = {}
        self._stacks: list[tuple[int, list[tuple[str, int, int, str]]]] = []
        self._options: dict[str, Any] = {}
        self._started = time.monotonic()

    # ---- public API ----------------------------------------------------------------------
    def start(
        self,
        *,
        name: str | None = None,
        title: str | None = None,
        snapshots: bool | None = None,
        screenshots: bool | None = None,
        sources: bool | None = None,
    ) -> None:
        if self._recording:
            raise Error("Tracing.start: Tracing has been already started")
        self._reset()
        self._recording = True
        self._options = {
            "name": name,
            "title": title,
            "snapshots": bool(snapshots),
            "screenshots": bool(screenshots),
            "sources": bool(sources),
        }
        context = self._context
        self._row(
            {
                "version": 7,
                "type": "context-options",
                "origin": "library",
                "browserName": "chromium",
                "channel": context._browser._channel or "chromium",
                "platform": "linux",
                "wallTime": time.time() * 1000,
                "monotonicTime": self._now(),
                "sdkLanguage": "python",
                "testIdAttributeName": "data-testid",
                "contextId": context._guid,
                "title": title,
                "options": context._trace_options(),
            }
        )
        for page in context.pages:
            self.page_event(page)

    def start_chunk(self, *, title: str | None = None, name: str | None = None) -> None:
        return None

    def stop_chunk(self, *, path: str | os.PathLike[str] | None = None) -> None:
        self.stop(path=path)

    def group(self, name: str, *, location: Any = None) -> None:
        return None

    def group_end(self) -> None:
        return None

    def stop(self, *, path: str | os.PathLike[str] | None = None) -> None:
        if not self._recording:
            raise Error("Tracing.stop: Must start tracing before stopping")
        self._recording = False
        if path is None:
            return
        files: list[str] = []
        stacks_json: list[Any] = []
        for call_number, frames in self._stacks:
            encoded = []
            for file, line, column, function in frames:
                if file not in files:
                    files.append(file)
                encoded.append([files.index(file), line, column, function])
            stacks_json.append([call_number, encoded])
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("trace.trace", "".join(json.dumps(r) + "\n" for r in self._rows))
            archive.writestr("trace.network", "".join(json.dumps(r) + "\n" for r in self._network))
            if self._options.get("sources"):
                archive.writestr(
                    "trace.stacks", json.dumps({"files": files, "stacks": stacks_json})
                )
                for file in files:
                    with contextlib.suppress(OSError):
                        source = Path(file).read_bytes()
                        archive.writestr(f"resources/src@{sha1(file.encode())}.txt", source)
            for name, data in self._resources.items():
                archive.writestr(f"resources/{name}", data)

    # ---- recording hooks used by the core ------------------------------------------------
    def _now(self) -> float:
        return round((time.monotonic() - self._started) * 1000, 3)

    def _row(self, row: dict[str, Any]) -> None:
        if self._recording:
            self._rows.append(row)

    def page_event(self, page: Page) -> None:
        self._row(
            {
                "type": "event",
                "time": self._now(),
                "class": "BrowserContext",
                "method": "page",
                "params": {"pageId": page._guid},
            }
        )

    @contextlib.contextmanager
    def action(
        self,
        api_name: str,
        params: dict[str, Any],
        page: Page | None,
        method: str | None = None,
        class_name: str = "Frame",
    ) -> Iterator[_Call]:
        """Record one API call; calls made inside another one are not recorded again."""
        if self._depth or not self._recording:
            self._depth += 1
            try:
                yield _Call(None, "")
            finally:
                self._depth -= 1
            return
        self._depth += 1
        self._call_counter += 1
        call_id = f"call@{self._call_counter}"
        call = _Call(self, call_id)
        snapshots = self._options.get("snapshots") and page is not None
        before: dict[str, Any] = {
            "type": "before",
            "callId": call_id,
            "startTime": self._now(),
            "apiName": api_name,
            "class": class_name,
            "method": method or _camel(api_name.rsplit(".", 1)[-1]),
            "params": params,
            "stepId": f"pw:api@{self._call_counter}",
        }
        if page is not None:
            before["pageId"] = page._guid
        if snapshots:
            before["beforeSnapshot"] = f"before@{call_id}"
        self._row(before)
        if snapshots:
            self.snapshot(page, call_id, "before")
        self._stacks.append((self._call_counter, _user_stack()))
        try:
            yield call
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            self._depth -= 1
            after: dict[str, Any] = {"type": "after", "callId": call_id, "endTime": self._now()}
            if snapshots:
                after["afterSnapshot"] = f"after@{call_id}"
                self.snapshot(page, call_id, "after")
            if call.result is not None:
                after["result"] = call.result
            if call.error is not None:
                after["error"] = {
                    "message": str(call.error),
                    "name": getattr(call.error, "name", type(call.error).__name__),
                }
            self._row(after)
            if page is not None and self._options.get("screenshots"):
                self.screencast(page)

    def snapshot(self, page: Page | None, call_id: str, phase: str) -> None:
        if page is None or page._document is None:
            return
        now = self._now()
        self._row(
            {
                "type": "frame-snapshot",
                "snapshot": {
                    "callId": call_id,
                    "snapshotName": f"{phase}@{call_id}",
                    "pageId": page._guid,
                    "frameId": page._frame_guid,
                    "frameUrl": page.url,
                    "doctype": "html",
                    "html": dom.snapshot_tree(page._document.element_children[0])
                    if page._document.element_children
                    else ["HTML", {}],
                    "viewport": dict(VIEWPORT),
                    "timestamp": now,
                    "wallTime": time.time() * 1000,
                    "collectionTime": 0.2,
                    "resourceOverrides": [],
                    "isMainFrame": True,
                },
            }
        )

    def screencast(self, page: Page) -> None:
        if not self._recording or page._document is None:
            return
        if page._painted == page._version:
            return
        page._painted = page._version
        data = render_jpeg(page)
        stamp = time.time() * 1000
        name = f"{page._guid}-{int(stamp)}.jpeg"
        self._resources[name] = data
        self._row(
            {
                "type": "screencast-frame",
                "pageId": page._guid,
                "sha1": name,
                "width": VIEWPORT["width"],
                "height": VIEWPORT["height"],
                "timestamp": self._now(),
                "frameSwapWallTime": stamp,
            }
        )

    def network(self, entry: dict[str, Any], body: bytes, mime: str) -> None:
        if not self._recording:
            return
        if body:
            ext = MIME_EXTENSIONS.get(mime.split(";")[0].strip().lower(), "dat")
            name = f"{sha1(body)}.{ext}"
            self._resources[name] = body
            entry["response"]["content"]["_sha1"] = name
        self._network.append({"type": "resource-snapshot", "snapshot": entry})


def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(w.title() for w in rest)


def _user_stack() -> list[tuple[str, int, int, str]]:
    """The calling frames outside this package, innermost first, as Playwright's Python client
    reports them (`Class.method` when the frame has a `self`)."""
    frames: list[tuple[str, int, int, str]] = []
    frame = sys._getframe(1)
    while frame is not None:
        file = frame.f_code.co_filename
        internal = file.startswith(PACKAGE_DIR) or file == contextlib.__file__
        if not internal and not file.startswith("<"):
            owner = frame.f_locals.get("self")
            name = frame.f_code.co_name
            frames.append(
                (
                    file,
                    frame.f_lineno,
                    0,
                    f"{type(owner).__name__}.{name}" if owner is not None else name,
                )
            )
        frame = frame.f_back
    return frames
