"""Playwright's sync object model over the stand-in browser.

The browser is an HTTP client (through the proxy given to `launch`) plus an HTML parser: pages
are what the server sends, links navigate, forms submit, fields hold what the test typed. No
JavaScript runs. Actions and waits keep Playwright's semantics: locators are lazy and strict,
actions wait for their element up to the timeout, and every call is recorded in the trace.
"""

from __future__ import annotations

import contextlib
import html
import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin

from playwright._impl import dom, selectors
from playwright._impl.errors import Error, TimeoutError
from playwright._impl.network import (
    CookieJar,
    Handler,
    Matcher,
    Request,
    Response,
    Route,
    RouteEntry,
    har_entry,
    parse_proxy,
    url_matches,
    wire_fetch,
)
from playwright._impl.tracing import Tracing

DEFAULT_TIMEOUT_MS = 30_000
CHROMIUM_REVISION = "1134"
POLL_S = 0.1
__tracebackhide__ = True  # pytest shows the test's line, not the stand-in's


def _guid(kind: str) -> str:
    return f"{kind}@{secrets.token_hex(16)}"


class Playwright:
    """What `sync_playwright()` yields."""

    def __init__(self) -> None:
        self.chromium = BrowserType(self, "chromium")
        self.firefox = BrowserType(self, "firefox")
        self.webkit = BrowserType(self, "webkit")
        self.devices: dict[str, dict[str, Any]] = {}
        self.selectors = None
        self._browsers: list[Browser] = []

    def stop(self) -> None:
        for browser in list(self._browsers):
            browser.close()

    def __getitem__(self, name: str) -> BrowserType:
        return getattr(self, name)


class PlaywrightContextManager:
    """`with sync_playwright() as p:`."""

    def __init__(self) -> None:
        self._playwright: Playwright | None = None

    def start(self) -> Playwright:
        self._playwright = Playwright()
        return self._playwright

    def __enter__(self) -> Playwright:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._playwright is not None:
            self._playwright.stop()


class BrowserType:
    """`p.chromium`."""

    def __init__(self, playwright: Playwright, name: str) -> None:
        self._playwright = playwright
        self.name = name

    @property
    def executable_path(self) -> str:
        root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH", "/ms-playwright")
        return f"{root}/chromium-{CHROMIUM_REVISION}/chrome-linux/chrome"

    def _check_installed(self, channel: str | None) -> None:
        if self.name != "chromium":
            raise Error(
                f"BrowserType.launch: the stand-in browser is chromium only (asked for {self.name})"
            )
        if channel not in (None, "", "chromium"):
            raise Error(
                f"BrowserType.launch: Chromium distribution '{channel}' is not found at "
                f'/opt/google/{channel}/{channel}\nRun "playwright install {channel}"'
            )
        marker = Path(self.executable_path).parent.parent / "INSTALLATION_COMPLETE"
        if not marker.exists():
            raise Error(
                f"BrowserType.launch: Executable doesn't exist at {self.executable_path}\n"
                "Looks like Playwright was just installed or updated. Please run the "
                "following command to download new browsers: playwright install"
            )

    def launch(
        self,
        *,
        executable_path: str | None = None,
        channel: str | None = None,
        args: list[str] | None = None,
        proxy: dict[str, Any] | None = None,
        headless: bool | None = None,
        slow_mo: float | None = None,
        timeout: float | None = None,
        **_: Any,
    ) -> Browser:
        self._check_installed(channel)
        browser = Browser(
            self,
            channel=channel,
            args=list(args or []),
            proxy=proxy,
            headless=headless if headless is not None else True,
            slow_mo=slow_mo or 0,
        )
        self._playwright._browsers.append(browser)
        return browser

    def launch_persistent_context(
        self,
        user_data_dir: str | Path,
        *,
        channel: str | None = None,
        args: list[str] | None = None,
        proxy: dict[str, Any] | None = None,
        headless: bool | None = None,
        slow_mo: float | None = None,
        **options: Any,
    ) -> BrowserContext:
        browser = self.launch(
            channel=channel, args=args, proxy=proxy, headless=headless, slow_mo=slow_mo
        )
        context = browser.new_context(**options)
        context.new_page()
        return context

    def connect(self, *a: Any, **k: Any) -> Browser:
        raise Error("BrowserType.connect: not available in the stand-in browser")

    def connect_over_cdp(self, *a: Any, **k: Any) -> Browser:
        raise Error("BrowserType.connect_over_cdp: not available in the stand-in browser")


class Browser:
    """A launched browser."""

    def __init__(
        self,
        browser_type: BrowserType,
        *,
        channel: str | None,
        args: list[str],
        proxy: dict[str, Any] | None,
        headless: bool,
        slow_mo: float,
    ) -> None:
        self._browser_type = browser_type
        self._channel = channel
        self._args = args
        self._proxy = proxy
        self._headless = headless
        self._slow_mo = slow_mo
        self._contexts: list[BrowserContext] = []
        self._connected = True

    @property
    def browser_type(self) -> BrowserType:
        return self._browser_type

    @property
    def version(self) -> str:
        return "129.0.6668.29"

    @property
    def contexts(self) -> list[BrowserContext]:
        return list(self._contexts)

    def is_connected(self) -> bool:
        return self._connected

    def new_context(self, **options: Any) -> BrowserContext:
        if not self._connected:
            raise Error("Browser.new_context: Target page, context or browser has been closed")
        context = BrowserContext(self, options)
        self._contexts.append(context)
        return context

    def new_page(self, **options: Any) -> Page:
        context = self.new_context(**options)
        page = context.new_page()
        page._owns_context = True
        return page

    def close(self, reason: str | None = None) -> None:
        for context in list(self._contexts):
            context.close()
        self._connected = False

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        return None


class BrowserContext:
    """A browser context: cookies, routes, timeouts, pages and tracing."""

    def __init__(self, browser: Browser, options: dict[str, Any]) -> None:
        self._browser = browser
        self._options = options
        self._guid = _guid("browser-context")
        self._pages: list[Page] = []
        self._routes: list[RouteEntry] = []
        self._cookies = CookieJar()
        self._timeout_ms: float | None = None
        self._navigation_timeout_ms: float | None = None
        self._extra_headers: dict[str, str] = dict(options.get("extra_http_headers") or {})
        self._offline = bool(options.get("offline"))
        self._closed = False
        self._handlers: dict[str, list[Callable[..., Any]]] = {}
        self.tracing = Tracing(self)
        for cookie in (
            (options.get("storage_state") or {}).get("cookies", [])
            if isinstance(options.get("storage_state"), dict)
            else []
        ):
            self._cookies.add(cookie)

    def _trace_options(self) -> dict[str, Any]:
        return {
            "noDefaultViewport": False,
            "viewport": {"width": 1280, "height": 720},
            "ignoreHTTPSErrors": bool(self._options.get("ignore_https_errors")),
            "javaScriptEnabled": True,
            "bypassCSP": False,
            "userAgent": "",
            "locale": "en-US",
            "offline": self._offline,
            "deviceScaleFactor": 1,
            "isMobile": False,
            "hasTouch": False,
            "colorScheme": "light",
            "acceptDownloads": "accept",
            "baseURL": self._options.get("base_url"),
            "serviceWorkers": "allow",
            "selectorEngines": [],
        }

    # ---- timeouts ------------------------------------------------------------------------
    def set_default_timeout(self, timeout: float) -> None:
        self._timeout_ms = timeout

    def set_default_navigation_timeout(self, timeout: float) -> None:
        self._navigation_timeout_ms = timeout

    # ---- pages ---------------------------------------------------------------------------
    @property
    def pages(self) -> list[Page]:
        return [p for p in self._pages if not p.is_closed()]

    @property
    def browser(self) -> Browser:
        return self._browser

    def new_page(self) -> Page:
        if self._closed:
            raise Error("BrowserContext.new_page: Target page, context or browser has been closed")
        page = Page(self)
        with self.tracing.action(
            "BrowserContext.new_page", {}, None, method="newPage", class_name="BrowserContext"
        ):
            self._pages.append(page)
            self.tracing.page_event(page)
        for handler in self._handlers.get("page", []):
            handler(page)
        return page

    def close(self, reason: str | None = None) -> None:
        for page in self._pages:
            page._closed = True
        self._closed = True
        if self in self._browser._contexts:
            self._browser._contexts.remove(self)

    # ---- network -------------------------------------------------------------------------
    def route(self, url: Matcher, handler: Handler, times: int | None = None) -> None:
        self._routes.insert(0, RouteEntry(url, handler, times))

    def unroute(self, url: Matcher, handler: Handler | None = None) -> None:
        self._routes = [
            r
            for r in self._routes
            if not (r.matcher == url and (handler is None or r.handler == handler))
        ]

    def unroute_all(self, behavior: str | None = None) -> None:
        self._routes = []

    def set_extra_http_headers(self, headers: dict[str, str]) -> None:
        self._extra_headers = dict(headers)

    def set_offline(self, offline: bool) -> None:
        self._offline = offline

    def cookies(self, urls: str | list[str] | None = None) -> list[dict[str, Any]]:
        return self._cookies.all()

    def add_cookies(self, cookies: list[dict[str, Any]]) -> None:
        for cookie in cookies:
            self._cookies.add(cookie)

    def clear_cookies(self, **_: Any) -> None:
        self._cookies.clear()

    def storage_state(self, path: str | None = None, **_: Any) -> dict[str, Any]:
        import json

        state = {"cookies": self._cookies.all(), "origins": []}
        if path:
            Path(path).write_text(json.dumps(state))
        return state

    def grant_permissions(self, permissions: list[str], origin: str | None = None) -> None:
        return None

    def clear_permissions(self) -> None:
        return None

    def add_init_script(self, script: str | None = None, path: str | None = None) -> None:
        return None

    def expose_function(self, name: str, callback: Callable[..., Any]) -> None:
        return None

    def expose_binding(self, name: str, callback: Callable[..., Any], **_: Any) -> None:
        return None

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        self._handlers.setdefault(event, []).append(handler)

    once = on

    def remove_listener(self, event: str, handler: Callable[..., Any]) -> None:
        with contextlib.suppress(ValueError, KeyError):
            self._handlers[event].remove(handler)

    def _fetch(self, request: Request, page_routes: list[RouteEntry]) -> Response:
        if self._offline:
            raise Error(f"net::ERR_INTERNET_DISCONNECTED at {request.url}")
        for entry in [*page_routes, *self._routes]:
            if entry.times is not None and entry.used >= entry.times:
                continue
            if not url_matches(entry.matcher, request.url, self._options.get("base_url")):
                continue
            entry.used += 1
            route = Route(request)
            try:
                entry.handler(route, request)
            except TypeError:
                entry.handler(route)
            if route.outcome == "fulfill" and route.response is not None:
                return route.response
            if route.outcome == "abort":
                raise Error(f"net::ERR_{route.overrides['error'].upper()} at {request.url}")
            if route.outcome in ("continue", "fallback"):
                overrides = route.overrides
                request.url = overrides.get("url") or request.url
                request.method = overrides.get("method") or request.method
                if overrides.get("headers"):
                    request.headers = {k.lower(): v for k, v in overrides["headers"].items()}
                if overrides.get("post_data") is not None:
                    data = overrides["post_data"]
                    request.post_data = data.decode() if isinstance(data, bytes) else data
                if route.outcome == "continue":
                    break
                continue
            raise Error(f"Route handler for {request.url} did not handle the request")
        timeout_ms = self._navigation_timeout_ms or self._timeout_ms or DEFAULT_TIMEOUT_MS
        return wire_fetch(
            request,
            proxy=parse_proxy(self._browser._proxy or self._options.get("proxy")),
            ignore_https_errors=bool(self._options.get("ignore_https_errors")),
            cookies=self._cookies,
            timeout_s=max(timeout_ms / 1000, 1.0),
            extra_headers=self._extra_headers,
        )


class Keyboard:
    """`page.keyboard`: keys go to the focused element."""

    def __init__(self, page: Page) -> None:
        self._page = page

    def press(self, key: str, delay: float | None = None) -> None:
        with self._page._trace(
            "Keyboard.press", {"key": key}, method="keyboardPress", class_name="Page"
        ):
            self._page._press_key(self._page._focused, key)

    def type(self, text: str, delay: float | None = None) -> None:
        with self._page._trace(
            "Keyboard.type", {"text": text}, method="keyboardType", class_name="Page"
        ):
            self._page._type_into(self._page._focused, text)

    insert_text = type

    def down(self, key: str) -> None:
        return None

    def up(self, key: str) -> None:
        return None


class Mouse:
    """`page.mouse`: the stand-in has no layout, so pointer moves do nothing."""

    def __init__(self, page: Page) -> None:
        self._page = page

    def _noop(self, name: str, **params: Any) -> None:
        with self._page._trace(f"Mouse.{name}", params, class_name="Page"):
            return None

    def click(self, x: float, y: float, **_: Any) -> None:
        self._noop("click", x=x, y=y)

    def dblclick(self, x: float, y: float, **_: Any) -> None:
        self._noop("dblclick", x=x, y=y)

    def move(self, x: float, y: float, **_: Any) -> None:
        self._noop("move", x=x, y=y)

    def down(self, **_: Any) -> None:
        self._noop("down")

    def up(self, **_: Any) -> None:
        self._noop("up")

    def wheel(self, delta_x: float, delta_y: float) -> None:
        self._noop("wheel", deltaX=delta_x, deltaY=delta_y)


class Page:
    """A tab: its document, history, focus and routes."""

    def __init__(self, context: BrowserContext) -> None:
        self._context = context
        self._guid = _guid("page")
        self._frame_guid = _guid("frame")
        self._document: dom.Document | None = dom.parse_html("<html><head></head><body></body>")
        self._url = "about:blank"
        self._history: list[tuple[str, str, str | None]] = []
        self._history_index = -1
        self._focused: dom.Element | None = None
        self._closed = False
        self._owns_context = False
        self._timeout_ms: float | None = None
        self._navigation_timeout_ms: float | None = None
        self._routes: list[RouteEntry] = []
        self._version = 0
        self._painted = -1
        self._viewport = {"width": 1280, "height": 720}
        self._handlers: dict[str, list[Callable[..., Any]]] = {}
        self.keyboard = Keyboard(self)
        self.mouse = Mouse(self)

    # ---- plumbing ------------------------------------------------------------------------
    def _trace(
        self,
        api_name: str,
        params: dict[str, Any],
        method: str | None = None,
        class_name: str = "Frame",
    ) -> contextlib.AbstractContextManager[Any]:
        if self._closed:
            raise Error(f"{api_name}: Target page, context or browser has been closed")
        return self._slowed(
            self._context.tracing.action(
                api_name, params, self, method=method, class_name=class_name
            )
        )

    @contextlib.contextmanager
    def _slowed(self, inner: contextlib.AbstractContextManager[Any]) -> Iterator[Any]:
        with inner as call:
            yield call
        slow_mo = self._context._browser._slow_mo
        if slow_mo:
            time.sleep(slow_mo / 1000)

    def _timeout(self, timeout: float | None, navigation: bool = False) -> float:
        if timeout is not None:
            return timeout
        if navigation:
            for value in (self._navigation_timeout_ms, self._context._navigation_timeout_ms):
                if value is not None:
                    return value
        for value in (self._timeout_ms, self._context._timeout_ms):
            if value is not None:
                return value
        return DEFAULT_TIMEOUT_MS

    def _changed(self) -> None:
        self._version += 1

    # ---- navigation ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._url

    @property
    def context(self) -> BrowserContext:
        return self._context

    @property
    def main_frame(self) -> Page:
        return self

    @property
    def frames(self) -> list[Page]:
        return [self]

    @property
    def viewport_size(self) -> dict[str, int]:
        return dict(self._viewport)

    def _navigate(
        self,
        url: str,
        method: str = "GET",
        body: str | None = None,
        call: Any = None,
        record: bool = True,
    ) -> Response | None:
        url = urljoin(self._url, url) if self._url != "about:blank" else url
        if url == "about:blank":
            self._document = dom.parse_html("<html><head></head><body></body>")
            self._url = url
            self._changed()
            return None
        headers: dict[str, str] = {}
        if self._url.startswith("http"):
            headers["referer"] = self._url
        response: Response | None = None
        for _ in range(20):
            request = Request(url=url, method=method, headers=dict(headers), post_data=body)
            started_wall = time.time()
            response = self._context._fetch(request, self._routes)
            self._record_network(response, started_wall)
            if response.status in (301, 302, 303, 307, 308) and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                if response.status in (301, 302, 303):
                    method, body = "GET", None
                if call is not None:
                    call.log(f'  navigated to "{url}"')
                continue
            break
        assert response is not None
        content_type = response.headers.get("content-type", "text/html")
        text = response.text()
        if "html" not in content_type:
            text = f"<html><head></head><body><pre>{html.escape(text)}</pre></body></html>"
        self._document = dom.parse_html(text)
        self._url = url
        self._focused = None
        if record:
            del self._history[self._history_index + 1 :]
            self._history.append((url, method, body))
            self._history_index = len(self._history) - 1
        self._changed()
        self._load_subresources(url)
        for handler in self._handlers.get("load", []):
            handler(self)
        return response

    def _load_subresources(self, base: str) -> None:
        assert self._document is not None
        for el in self._document.elements():
            href = None
            kind = "other"
            if el.tag == "script" and el.attrs.get("src"):
                href, kind = el.attrs["src"], "script"
            elif (
                el.tag == "link"
                and "stylesheet" in el.attrs.get("rel", "")
                and el.attrs.get("href")
            ):
                href, kind = el.attrs["href"], "stylesheet"
            if href is None:
                continue
            request = Request(
                url=urljoin(base, href),
                resource_type=kind,
                navigation=False,
                headers={"referer": base},
            )
            with contextlib.suppress(Error):
                started = time.time()
                self._record_network(self._context._fetch(request, self._routes), started)

    def _record_network(self, response: Response, started_wall: float) -> None:
        tracing = self._context.tracing
        entry = har_entry(response, self._guid, None, started_wall, tracing._now())
        tracing.network(entry, response.content, response.headers.get("content-type", ""))

    def goto(
        self,
        url: str,
        *,
        timeout: float | None = None,
        wait_until: str | None = None,
        referer: str | None = None,
    ) -> Response | None:
        with self._trace(
            "Page.goto", {"url": url, "waitUntil": wait_until or "load"}, method="goto"
        ) as call:
            call.log(f'navigating to "{url}", waiting until "{wait_until or "load"}"')
            return self._navigate(url, call=call)

    def reload(
        self, *, timeout: float | None = None, wait_until: str | None = None
    ) -> Response | None:
        with self._trace(
            "Page.reload", {"waitUntil": wait_until or "load"}, method="reload", class_name="Page"
        ):
            if not self._history:
                return None
            url, _method, _body = self._history[self._history_index]
            return self._navigate(url, record=False)  # a reloaded form result is fetched again

    def _go(self, delta: int, name: str) -> Response | None:
        with self._trace(f"Page.{name}", {}, class_name="Page"):
            index = self._history_index + delta
            if not 0 <= index < len(self._history):
                return None
            self._history_index = index
            url, _, _ = self._history[index]
            return self._navigate(url, record=False)

    def go_back(self, **_: Any) -> Response | None:
        return self._go(-1, "go_back")

    def go_forward(self, **_: Any) -> Response | None:
        return self._go(1, "go_forward")

    def set_content(self, html: str, **_: Any) -> None:
        with self._trace("Page.set_content", {"html": html}, method="setContent"):
            self._document = dom.parse_html(html)
            self._changed()

    def content(self) -> str:
        with self._trace("Page.content", {}, method="content"):
            return dom.serialize(self._document) if self._document else ""

    def title(self) -> str:
        with self._trace("Page.title", {}, method="title"):
            return self._document.title if self._document else ""

    # ---- waiting -------------------------------------------------------------------------
    def wait_for_timeout(self, timeout: float) -> None:
        with self._trace("Page.wait_for_timeout", {"timeout": timeout}, method="waitForTimeout"):
            time.sleep(max(timeout, 0) / 1000)

    def wait_for_load_state(self, state: str | None = None, timeout: float | None = None) -> None:
        with self._trace(
            "Page.wait_for_load_state", {"state": state or "load"}, method="waitForLoadState"
        ):
            return None

    def wait_for_url(self, url: Matcher, *, timeout: float | None = None, **_: Any) -> None:
        with self._trace("Page.wait_for_url", {"url": str(url)}, method="waitForURL") as call:
            call.log(f"waiting for navigation to {url!r}")
            deadline = time.monotonic() + self._timeout(timeout, navigation=True) / 1000
            while not url_matches(url, self._url):
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"Page.wait_for_url: Timeout {self._timeout(timeout, True):.0f}ms exceeded."
                    )
                time.sleep(POLL_S)

    def wait_for_selector(
        self, selector: str, *, state: str | None = None, timeout: float | None = None, **_: Any
    ) -> Locator | None:
        locator = self.locator(selector)
        locator.wait_for(state=state or "visible", timeout=timeout)
        return locator if (state or "visible") in ("visible", "attached") else None

    def wait_for_event(self, event: str, **_: Any) -> None:
        raise Error(f"Page.wait_for_event: the stand-in browser emits no '{event}' events")

    # ---- locators ------------------------------------------------------------------------
    def locator(self, selector: str | Locator, **filters: Any) -> Locator:
        return Locator(self, ()).locator(selector, **filters)

    def get_by_text(self, text: selectors.TextMatcher, *, exact: bool | None = None) -> Locator:
        return Locator(self, (selectors.text_step(text, bool(exact)),))

    def get_by_role(
        self,
        role: str,
        *,
        name: selectors.TextMatcher | None = None,
        exact: bool | None = None,
        **options: Any,
    ) -> Locator:
        return Locator(self, (selectors.role_step(role, name, bool(exact), **options),))

    def get_by_label(self, text: selectors.TextMatcher, *, exact: bool | None = None) -> Locator:
        return Locator(self, (selectors.label_step(text, bool(exact)),))

    def get_by_placeholder(
        self, text: selectors.TextMatcher, *, exact: bool | None = None
    ) -> Locator:
        return Locator(
            self, (selectors.attr_step("placeholder", "get_by_placeholder", text, bool(exact)),)
        )

    def get_by_alt_text(self, text: selectors.TextMatcher, *, exact: bool | None = None) -> Locator:
        return Locator(self, (selectors.attr_step("alt", "get_by_alt_text", text, bool(exact)),))

    def get_by_title(self, text: selectors.TextMatcher, *, exact: bool | None = None) -> Locator:
        return Locator(self, (selectors.attr_step("title", "get_by_title", text, bool(exact)),))

    def get_by_test_id(self, test_id: selectors.TextMatcher) -> Locator:
        return Locator(self, (selectors.test_id_step(test_id),))

    # ---- page-level shortcuts ------------------------------------------------------------
    def click(self, selector: str, **options: Any) -> None:
        self.locator(selector).click(**options)

    def dblclick(self, selector: str, **options: Any) -> None:
        self.locator(selector).dblclick(**options)

    def fill(self, selector: str, value: str, **options: Any) -> None:
        self.locator(selector).fill(value, **options)

    def press(self, selector: str, key: str, **options: Any) -> None:
        self.locator(selector).press(key, **options)

    def type(self, selector: str, text: str, **options: Any) -> None:
        self.locator(selector).type(text, **options)

    def check(self, selector: str, **options: Any) -> None:
        self.locator(selector).check(**options)

    def hover(self, selector: str, **options: Any) -> None:
        self.locator(selector).hover(**options)

    def is_visible(self, selector: str, **_: Any) -> bool:
        return self.locator(selector).is_visible()

    def text_content(self, selector: str, **options: Any) -> str | None:
        return self.locator(selector).text_content(**options)

    def inner_text(self, selector: str, **options: Any) -> str:
        return self.locator(selector).inner_text(**options)

    def get_attribute(self, selector: str, name: str, **options: Any) -> str | None:
        return self.locator(selector).get_attribute(name, **options)

    def query_selector(self, selector: str) -> Locator | None:
        locator = self.locator(selector)
        return locator.first if locator._resolve() else None

    def query_selector_all(self, selector: str) -> list[Locator]:
        return self.locator(selector).all()

    # ---- misc ----------------------------------------------------------------------------
    def evaluate(self, expression: str, arg: Any = None) -> Any:
        with self._trace("Page.evaluate", {"expression": expression}, method="evaluate"):
            raise Error("Page.evaluate: the stand-in browser runs no JavaScript")

    def screenshot(self, *, path: str | os.PathLike[str] | None = None, **_: Any) -> bytes:
        from playwright._impl.tracing import render_jpeg

        with self._trace("Page.screenshot", {}, method="screenshot", class_name="Page"):
            data = render_jpeg(self)
            if path is not None:
                Path(path).write_bytes(data)
            return data

    def set_viewport_size(self, viewport_size: dict[str, int]) -> None:
        self._viewport = dict(viewport_size)

    def set_default_timeout(self, timeout: float) -> None:
        self._timeout_ms = timeout

    def set_default_navigation_timeout(self, timeout: float) -> None:
        self._navigation_timeout_ms = timeout

    def route(self, url: Matcher, handler: Handler, times: int | None = None) -> None:
        self._routes.insert(0, RouteEntry(url, handler, times))

    def unroute(self, url: Matcher, handler: Handler | None = None) -> None:
        self._routes = [
            r
            for r in self._routes
            if not (r.matcher == url and (handler is None or r.handler == handler))
        ]

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        self._handlers.setdefault(event, []).append(handler)

    once = on

    def remove_listener(self, event: str, handler: Callable[..., Any]) -> None:
        with contextlib.suppress(ValueError, KeyError):
            self._handlers[event].remove(handler)

    def bring_to_front(self) -> None:
        return None

    def pause(self) -> None:
        return None

    def is_closed(self) -> bool:
        return self._closed

    def close(self, **_: Any) -> None:
        self._closed = True
        if self._owns_context:
            self._context.close()

    # ---- interaction engine --------------------------------------------------------------
    def _activate(self, el: dom.Element, call: Any) -> None:
        """What a click does without JavaScript: follow links, submit forms, toggle boxes."""
        self._focused = el
        target = el
        for candidate in (el, *el.ancestors()):
            if candidate.tag in ("a", "button", "label") or (
                candidate.tag == "input"
                and candidate.input_type
                in ("submit", "button", "checkbox", "radio", "image", "reset")
            ):
                target = candidate
                break
        if target.tag == "label":
            control = (
                target.by_id(target.attrs["for"])
                if target.attrs.get("for")
                else next(
                    (e for e in target.elements() if e.tag in ("input", "select", "textarea")), None
                )
            )
            if control is not None:
                self._activate(control, call)
            return
        if target.tag == "a" and target.attrs.get("href") is not None:
            href = target.attrs["href"]
            if href.startswith("#") or href.lower().startswith("javascript:"):
                return
            call.log(f'  navigating to "{urljoin(self._url, href)}"')
            self._navigate(href, call=call)
            return
        if target.tag == "input" and target.input_type in ("checkbox", "radio"):
            if target.input_type == "radio":
                for other in self._radio_group(target):
                    other.checked = False
                target.checked = True
            else:
                target.checked = not target.is_checked()
            self._changed()
            return
        submit = (target.tag == "button" and target.attrs.get("type", "submit") == "submit") or (
            target.tag == "input" and target.input_type in ("submit", "image")
        )
        if submit and not target.is_disabled():
            form = self._form_of(target)
            if form is not None:
                self._submit(form, target, call)

    def _radio_group(self, el: dom.Element) -> list[dom.Element]:
        name = el.attrs.get("name")
        root = self._form_of(el) or el.root()
        return [
            e
            for e in root.elements()
            if e.tag == "input" and e.input_type == "radio" and e.attrs.get("name") == name
        ]

    def _form_of(self, el: dom.Element) -> dom.Element | None:
        if el.attrs.get("form"):
            return el.by_id(el.attrs["form"])
        return next((a for a in el.ancestors() if a.tag == "form"), None)

    def _submit(self, form: dom.Element, submitter: dom.Element | None, call: Any) -> None:
        fields: list[tuple[str, str]] = []
        for el in form.elements():
            name = el.attrs.get("name")
            if not name or el.is_disabled():
                continue
            if el.tag == "input":
                kind = el.input_type
                if kind in ("submit", "button", "reset", "image", "file"):
                    continue
                if kind in ("checkbox", "radio") and not el.is_checked():
                    continue
                value = (
                    el.current_value()
                    if kind not in ("checkbox", "radio")
                    else (el.attrs.get("value", "on"))
                )
                fields.append((name, value))
            elif el.tag in ("textarea", "select"):
                fields.append((name, el.current_value()))
        if submitter is not None and submitter.attrs.get("name"):
            fields.append((submitter.attrs["name"], submitter.attrs.get("value", "")))
        action = (submitter.attrs.get("formaction") if submitter is not None else None) or (
            form.attrs.get("action") or self._url
        )
        method = (
            (submitter.attrs.get("formmethod") if submitter is not None else None)
            or form.attrs.get("method", "get")
        ).upper()
        encoded = urlencode(fields)
        call.log(f"  submitting form {method} {action}")
        if method == "POST":
            self._navigate(action, method="POST", body=encoded, call=call)
        else:
            base = urljoin(self._url, action).split("?", 1)[0]
            self._navigate(f"{base}?{encoded}", call=call)

    def _press_key(self, el: dom.Element | None, key: str) -> None:
        keys = key.split("+")
        last = keys[-1]
        if el is None:
            return
        if last == "Enter" and len(keys) == 1:
            if el.tag == "input":
                form = self._form_of(el)
                if form is not None:
                    submitter = next(
                        (
                            e
                            for e in form.elements()
                            if (e.tag == "button" and e.attrs.get("type", "submit") == "submit")
                            or (e.tag == "input" and e.input_type == "submit")
                        ),
                        None,
                    )
                    self._submit(form, submitter, _NullCall())
                return
            if el.tag == "textarea":
                self._type_into(el, "\n")
                return
            if el.tag in ("a", "button"):
                self._activate(el, _NullCall())
            return
        if last == "Backspace" and el.is_editable():
            el.value = el.current_value()[:-1]
            self._changed()
        elif len(last) == 1 and len(keys) == 1 and el.is_editable():
            self._type_into(el, last)
        elif last in ("Space",) and el.tag in ("button", "input"):
            self._activate(el, _NullCall())

    def _type_into(self, el: dom.Element | None, text: str) -> None:
        if el is None or not el.is_editable():
            return
        el.value = el.current_value() + text
        self._changed()


class _NullCall:
    def log(self, message: str) -> None:
        return None


class Locator:
    """A lazy, strict query: resolved again each time it is used."""

    def __init__(self, page: Page, steps: tuple[selectors.Step, ...]) -> None:
        self._page = page
        self._steps = steps

    def __repr__(self) -> str:
        return f"<Locator frame=<Frame url={self._page.url!r}> selector={self._selector!r}>"

    @property
    def _selector(self) -> str:
        return " >> ".join(s.selector for s in self._steps)

    @property
    def _description(self) -> str:
        return ".".join(s.description for s in self._steps)

    @property
    def page(self) -> Page:
        return self._page

    def _resolve(self) -> list[dom.Element]:
        document = self._page._document
        if document is None:
            return []
        scopes: list[dom.Element] = [document]
        for step in self._steps:
            scopes = step.apply(scopes)
        return scopes

    def _with(self, *steps: selectors.Step) -> Locator:
        return Locator(self._page, (*self._steps, *steps))

    # ---- composition ---------------------------------------------------------------------
    def locator(
        self,
        selector_or_locator: str | Locator,
        *,
        has_text: selectors.TextMatcher | None = None,
        has_not_text: selectors.TextMatcher | None = None,
        has: Locator | None = None,
        has_not: Locator | None = None,
    ) -> Locator:
        if isinstance(selector_or_locator, Locator):
            inner = selector_or_locator._steps
            step = selectors.Chain(
                " >> ".join(s.selector for s in inner),
                "locator(" + ".".join(s.description for s in inner) + ")",
                steps=inner,
            )
            located = self._with(step)
        else:
            located = self._with(*selectors.parse_selector(selector_or_locator))
        if any(v is not None for v in (has_text, has_not_text, has, has_not)):
            located = located.filter(
                has_text=has_text, has_not_text=has_not_text, has=has, has_not=has_not
            )
        return located

    def get_by_text(self, text: selectors.TextMatcher, *, exact: bool | None = None) -> Locator:
        return self._with(selectors.text_step(text, bool(exact)))

    def get_by_role(
        self,
        role: str,
        *,
        name: selectors.TextMatcher | None = None,
        exact: bool | None = None,
        **options: Any,
    ) -> Locator:
        return self._with(selectors.role_step(role, name, bool(exact), **options))

    def get_by_label(self, text: selectors.TextMatcher, *, exact: bool | None = None) -> Locator:
        return self._with(selectors.label_step(text, bool(exact)))

    def get_by_placeholder(
        self, text: selectors.TextMatcher, *, exact: bool | None = None
    ) -> Locator:
        return self._with(
            selectors.attr_step("placeholder", "get_by_placeholder", text, bool(exact))
        )

    def get_by_alt_text(self, text: selectors.TextMatcher, *, exact: bool | None = None) -> Locator:
        return self._with(selectors.attr_step("alt", "get_by_alt_text", text, bool(exact)))

    def get_by_title(self, text: selectors.TextMatcher, *, exact: bool | None = None) -> Locator:
        return self._with(selectors.attr_step("title", "get_by_title", text, bool(exact)))

    def get_by_test_id(self, test_id: selectors.TextMatcher) -> Locator:
        return self._with(selectors.test_id_step(test_id))

    def nth(self, index: int) -> Locator:
        return self._with(selectors.nth_step(index))

    @property
    def first(self) -> Locator:
        return self.nth(0)

    @property
    def last(self) -> Locator:
        return self.nth(-1)

    def filter(
        self,
        *,
        has_text: selectors.TextMatcher | None = None,
        has_not_text: selectors.TextMatcher | None = None,
        has: Locator | None = None,
        has_not: Locator | None = None,
        visible: bool | None = None,
    ) -> Locator:
        return self._with(
            selectors.filter_step(
                has_text,
                has_not_text,
                has._steps if has is not None else None,
                has_not._steps if has_not is not None else None,
                visible,
            )
        )

    def all(self) -> list[Locator]:
        return [self.nth(i) for i in range(len(self._resolve()))]

    # ---- waiting -------------------------------------------------------------------------
    def _wait_one(
        self,
        call: Any,
        timeout: float | None,
        api: str,
        condition: Callable[[dom.Element], bool] = lambda el: True,
        what: str = "visible",
    ) -> dom.Element:
        """Wait for exactly one match that satisfies `condition`; strict like Playwright."""
        budget = self._page._timeout(timeout)
        deadline = time.monotonic() + budget / 1000
        call.log(f"waiting for {self._description}")
        announced: set[int] = set()
        while True:
            found = self._resolve()
            if len(found) > 1:
                listing = "\n".join(f"    {i + 1}) {el.short()}" for i, el in enumerate(found))
                raise Error(
                    f"{api}: Error: strict mode violation: {self._description} "
                    f"resolved to {len(found)} elements:\n{listing}\n"
                )
            if found:
                el = found[0]
                if id(el) not in announced:
                    announced.add(id(el))
                    call.log(f"  locator resolved to {el.short()}")
                if condition(el):
                    return el
                call.log(f"  - element is not {what} - waiting...")
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{api}: Timeout {budget:.0f}ms exceeded.\nCall log:\n"
                    f"  - waiting for {self._description}\n"
                )
            time.sleep(POLL_S)

    def _act(
        self,
        name: str,
        params: dict[str, Any],
        timeout: float | None,
        condition: Callable[[dom.Element], bool],
        what: str,
        action: Callable[[dom.Element, Any], Any],
    ) -> Any:
        api = f"Locator.{name}"
        with self._page._trace(api, {"selector": self._selector, "strict": True, **params}) as call:
            el = self._wait_one(call, timeout, api, condition, what)
            call.log(f"  - element is {what}")
            result = action(el, call)
            self._page._changed()
            return result

    def wait_for(self, *, state: str | None = None, timeout: float | None = None) -> None:
        state = state or "visible"
        with self._page._trace(
            "Locator.wait_for",
            {"selector": self._selector, "state": state},
            method="waitForSelector",
        ) as call:
            budget = self._page._timeout(timeout)
            deadline = time.monotonic() + budget / 1000
            call.log(f"waiting for {self._description} to be {state}")
            while True:
                found = self._resolve()
                if len(found) > 1 and state in ("visible", "attached"):
                    raise Error(
                        f"Locator.wait_for: Error: strict mode violation: "
                        f"{self._description} resolved to {len(found)} elements"
                    )
                ok = {
                    "attached": bool(found),
                    "detached": not found,
                    "visible": bool(found) and found[0].is_visible(),
                    "hidden": not found or not found[0].is_visible(),
                }.get(state, False)
                if ok:
                    return
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"Locator.wait_for: Timeout {budget:.0f}ms exceeded.\n"
                        f"Call log:\n  - waiting for {self._description} to be "
                        f"{state}\n"
                    )
                time.sleep(POLL_S)

    # ---- actions -------------------------------------------------------------------------
    def click(
        self,
        *,
        timeout: float | None = None,
        force: bool | None = None,
        trial: bool | None = None,
        **_: Any,
    ) -> None:
        def do(el: dom.Element, call: Any) -> None:
            call.log("  - scrolling into view if needed")
            call.log("  - done scrolling")
            call.log("  - performing click action")
            if not trial:
                self._page._activate(el, call)
            call.log("  - click action done")
            call.log("  - waiting for scheduled navigations to finish")
            call.log("  - navigations have finished")

        condition = (
            (lambda el: True) if force else (lambda el: el.is_visible() and not el.is_disabled())
        )
        self._act("click", {}, timeout, condition, "visible, enabled and stable", do)

    def dblclick(self, **options: Any) -> None:
        self.click(**options)

    def tap(self, **options: Any) -> None:
        self.click(**options)

    def hover(self, *, timeout: float | None = None, **_: Any) -> None:
        self._act(
            "hover",
            {},
            timeout,
            lambda el: el.is_visible(),
            "visible and stable",
            lambda el, call: None,
        )

    def focus(self, *, timeout: float | None = None) -> None:
        def do(el: dom.Element, call: Any) -> None:
            self._page._focused = el

        self._act("focus", {}, timeout, lambda el: True, "attached", do)

    def blur(self, *, timeout: float | None = None) -> None:
        self._page._focused = None

    def scroll_into_view_if_needed(self, *, timeout: float | None = None) -> None:
        self._act(
            "scroll_into_view_if_needed",
            {},
            timeout,
            lambda el: el.is_visible(),
            "visible",
            lambda el, call: None,
        )

    def fill(
        self, value: str, *, timeout: float | None = None, force: bool | None = None, **_: Any
    ) -> None:
        def do(el: dom.Element, call: Any) -> None:
            call.log(f'  - fill("{value}")')
            el.value = value
            self._page._focused = el

        self._act(
            "fill",
            {"value": value},
            timeout,
            lambda el: el.is_visible() and el.is_editable(),
            "visible, enabled and editable",
            do,
        )

    def clear(self, **options: Any) -> None:
        self.fill("", **options)

    def type(
        self, text: str, *, delay: float | None = None, timeout: float | None = None, **_: Any
    ) -> None:
        def do(el: dom.Element, call: Any) -> None:
            self._page._focused = el
            self._page._type_into(el, text)

        self._act("type", {"text": text}, timeout, lambda el: el.is_visible(), "visible", do)

    press_sequentially = type

    def press(self, key: str, *, timeout: float | None = None, **_: Any) -> None:
        def do(el: dom.Element, call: Any) -> None:
            self._page._focused = el
            self._page._press_key(el, key)

        self._act("press", {"key": key}, timeout, lambda el: True, "attached", do)

    def set_checked(self, checked: bool, *, timeout: float | None = None, **_: Any) -> None:
        def do(el: dom.Element, call: Any) -> None:
            if el.is_checked() != checked:
                self._page._activate(el, call)

        self._act(
            "check" if checked else "uncheck",
            {},
            timeout,
            lambda el: el.is_visible() and not el.is_disabled(),
            "visible and enabled",
            do,
        )

    def check(self, **options: Any) -> None:
        self.set_checked(True, **options)

    def uncheck(self, **options: Any) -> None:
        self.set_checked(False, **options)

    def select_option(
        self,
        value: str | list[str] | None = None,
        *,
        label: str | None = None,
        index: int | None = None,
        timeout: float | None = None,
        **_: Any,
    ) -> list[str]:
        def do(el: dom.Element, call: Any) -> list[str]:
            options = [o for o in el.elements() if o.tag == "option"]
            chosen: dom.Element | None = None
            for i, option in enumerate(options):
                text = dom.normalize(option.text_content())
                if (
                    (
                        value is not None
                        and option.option_value() in ([value] if isinstance(value, str) else value)
                    )
                    or (label is not None and text == label)
                    or index == i
                ):
                    chosen = option
                    break
            if chosen is None:
                raise Error(f"Locator.select_option: no option matches {value or label}")
            el.value = chosen.option_value()
            return [el.value]

        return self._act(
            "select_option",
            {"value": value},
            timeout,
            lambda el: el.tag == "select",
            "a select",
            do,
        )

    def set_input_files(self, files: Any, **_: Any) -> None:
        raise Error("Locator.set_input_files: the stand-in browser cannot upload files")

    def evaluate(self, expression: str, arg: Any = None, **_: Any) -> Any:
        raise Error("Locator.evaluate: the stand-in browser runs no JavaScript")

    def screenshot(self, **options: Any) -> bytes:
        return self._page.screenshot(**options)

    # ---- queries -------------------------------------------------------------------------
    def _query(self, name: str, timeout: float | None, read: Callable[[dom.Element], Any]) -> Any:
        api = f"Locator.{name}"
        with self._page._trace(api, {"selector": self._selector, "strict": True}) as call:
            return read(self._wait_one(call, timeout, api, lambda el: True, "attached"))

    def count(self) -> int:
        with self._page._trace("Locator.count", {"selector": self._selector}, method="queryCount"):
            return len(self._resolve())

    def text_content(self, *, timeout: float | None = None) -> str | None:
        return self._query("text_content", timeout, lambda el: el.text_content())

    def inner_text(self, *, timeout: float | None = None) -> str:
        return self._query("inner_text", timeout, lambda el: el.inner_text())

    def inner_html(self, *, timeout: float | None = None) -> str:
        return self._query(
            "inner_html", timeout, lambda el: "".join(dom.serialize(c) for c in el.children)
        )

    def input_value(self, *, timeout: float | None = None) -> str:
        return self._query("input_value", timeout, lambda el: el.current_value())

    def get_attribute(self, name: str, *, timeout: float | None = None) -> str | None:
        return self._query("get_attribute", timeout, lambda el: el.attrs.get(name))

    def all_inner_texts(self) -> list[str]:
        return [el.inner_text() for el in self._resolve()]

    def all_text_contents(self) -> list[str]:
        return [el.text_content() for el in self._resolve()]

    def _state(self, name: str, read: Callable[[dom.Element], bool], default: bool) -> bool:
        with self._page._trace(f"Locator.{name}", {"selector": self._selector, "strict": True}):
            found = self._resolve()
            if len(found) > 1:
                raise Error(
                    f"Locator.{name}: Error: strict mode violation: "
                    f"{self._description} resolved to {len(found)} elements"
                )
            return read(found[0]) if found else default

    def is_visible(self, **_: Any) -> bool:
        return self._state("is_visible", lambda el: el.is_visible(), False)

    def is_hidden(self, **_: Any) -> bool:
        return self._state("is_hidden", lambda el: not el.is_visible(), True)

    def is_enabled(self, **_: Any) -> bool:
        return self._state("is_enabled", lambda el: not el.is_disabled(), False)

    def is_disabled(self, **_: Any) -> bool:
        return self._state("is_disabled", lambda el: el.is_disabled(), False)

    def is_checked(self, **_: Any) -> bool:
        return self._state("is_checked", lambda el: el.is_checked(), False)

    def is_editable(self, **_: Any) -> bool:
        return self._state("is_editable", lambda el: el.is_editable(), False)

    def bounding_box(self, **_: Any) -> dict[str, float] | None:
        found = self._resolve()
        if not found or not found[0].is_visible():
            return None
        index = list(found[0].root().elements()).index(found[0])
        return {"x": 16.0, "y": 44.0 + 18 * (index % 36), "width": 200.0, "height": 18.0}


def sync_playwright() -> PlaywrightContextManager:
    """`with sync_playwright() as p: ...`."""
    return PlaywrightContextManager()
