"""`playwright.async_api`: the sync stand-in behind coroutine wrappers.

Calls run to completion inside the coroutine (the stand-in browser has no event loop of its
own). As in Playwright, locator factories and a few accessors stay synchronous.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from playwright._impl import core, network, tracing
from playwright._impl.assertions import Expect
from playwright._impl.errors import Error, TimeoutError

_SYNC_NAMES = frozenset(
    {
        "locator",
        "get_by_text",
        "get_by_role",
        "get_by_label",
        "get_by_placeholder",
        "get_by_alt_text",
        "get_by_title",
        "get_by_test_id",
        "nth",
        "filter",
        "set_default_timeout",
        "set_default_navigation_timeout",
        "on",
        "once",
        "remove_listener",
        "is_closed",
        "is_connected",
        "set_viewport_size",
    }
)


def _wrap(value: Any) -> Any:
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    for sync_cls, async_cls in _WRAPPERS.items():
        if isinstance(value, sync_cls):
            cached = getattr(value, "_async_wrapper", None)
            if cached is None:
                cached = async_cls(value)
                value._async_wrapper = cached
            return cached
    return value


def _unwrap(value: Any) -> Any:
    if isinstance(value, _Wrapper):
        return value._impl
    if isinstance(value, list | tuple):
        return type(value)(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _handler(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Route and event handlers may be coroutines: run them to completion."""

    def call(*args: Any) -> Any:
        result = fn(*(_wrap(a) for a in args))
        return _drive(result) if inspect.iscoroutine(result) else result

    return call


def _drive(coroutine: Any) -> Any:
    """Run a coroutine that never really suspends (every call below it is synchronous)."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise Error("the stand-in cannot suspend inside a route or event handler")


class _Wrapper:
    def __init__(self, impl: Any) -> None:
        self._impl = impl

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._impl, name)
        if not callable(value):
            return _wrap(value)
        if name in _SYNC_NAMES:

            def sync_call(*args: Any, **kwargs: Any) -> Any:
                return _wrap(value(*_unwrap(args), **_unwrap(kwargs)))

            return sync_call

        async def async_call(*args: Any, **kwargs: Any) -> Any:
            return _wrap(value(*_unwrap(args), **_unwrap(kwargs)))

        return async_call

    def __repr__(self) -> str:
        return repr(self._impl)


class Browser(_Wrapper):
    """Async `Browser` (upstream's conftest patches `new_context` and `new_page` on it)."""

    async def new_context(self, **options: Any) -> BrowserContext:
        return _wrap(self._impl.new_context(**options))

    async def new_page(self, **options: Any) -> Page:
        return _wrap(self._impl.new_page(**options))

    async def close(self, **options: Any) -> None:
        self._impl.close(**options)

    @property
    def contexts(self) -> list[BrowserContext]:
        return _wrap(self._impl.contexts)


class BrowserContext(_Wrapper):
    """Async `BrowserContext`."""

    @property
    def pages(self) -> list[Page]:
        return _wrap(self._impl.pages)

    @property
    def tracing(self) -> Tracing:
        return _wrap(self._impl.tracing)

    async def route(self, url: Any, handler: Callable[..., Any], times: int | None = None) -> None:
        self._impl.route(url, _handler(handler), times)

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        self._impl.on(event, _handler(handler))


class Page(_Wrapper):
    """Async `Page`."""

    @property
    def url(self) -> str:
        return self._impl.url

    @property
    def context(self) -> BrowserContext:
        return _wrap(self._impl.context)

    @property
    def keyboard(self) -> Keyboard:
        return _wrap(self._impl.keyboard)

    @property
    def mouse(self) -> Mouse:
        return _wrap(self._impl.mouse)

    async def route(self, url: Any, handler: Callable[..., Any], times: int | None = None) -> None:
        self._impl.route(url, _handler(handler), times)

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        self._impl.on(event, _handler(handler))


class Locator(_Wrapper):
    """Async `Locator`."""

    @property
    def first(self) -> Locator:
        return _wrap(self._impl.first)

    @property
    def last(self) -> Locator:
        return _wrap(self._impl.last)

    @property
    def page(self) -> Page:
        return _wrap(self._impl.page)


class Tracing(_Wrapper):
    """Async `Tracing`."""


class Keyboard(_Wrapper):
    """Async `Keyboard`."""


class Mouse(_Wrapper):
    """Async `Mouse`."""


class BrowserType(_Wrapper):
    """Async `BrowserType`."""


class Route(_Wrapper):
    """Async `Route`."""

    @property
    def request(self) -> Request:
        return _wrap(self._impl.request)


class Request(_Wrapper):
    """Async `Request`: properties stay properties."""

    @property
    def url(self) -> str:
        return self._impl.url

    @property
    def method(self) -> str:
        return self._impl.method

    @property
    def post_data(self) -> str | None:
        return self._impl.post_data


class Response(_Wrapper):
    """Async `Response`."""

    @property
    def status(self) -> int:
        return self._impl.status

    @property
    def ok(self) -> bool:
        return self._impl.ok

    @property
    def url(self) -> str:
        return self._impl.url


class Playwright(_Wrapper):
    """Async `Playwright`."""

    @property
    def chromium(self) -> BrowserType:
        return _wrap(self._impl.chromium)

    @property
    def firefox(self) -> BrowserType:
        return _wrap(self._impl.firefox)

    @property
    def webkit(self) -> BrowserType:
        return _wrap(self._impl.webkit)


_WRAPPERS: dict[type, type[_Wrapper]] = {
    core.Browser: Browser,
    core.BrowserContext: BrowserContext,
    core.Page: Page,
    core.Locator: Locator,
    tracing.Tracing: Tracing,
    core.Keyboard: Keyboard,
    core.Mouse: Mouse,
    core.BrowserType: BrowserType,
    network.Route: Route,
    network.Request: Request,
    network.Response: Response,
    core.Playwright: Playwright,
}


class PlaywrightContextManager:
    """`async with async_playwright() as p:` or `await async_playwright().start()`."""

    def __init__(self) -> None:
        self._impl = core.PlaywrightContextManager()

    async def start(self) -> Playwright:
        return _wrap(self._impl.start())

    async def __aenter__(self) -> Playwright:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        self._impl.__exit__(*exc)


def async_playwright() -> PlaywrightContextManager:
    return PlaywrightContextManager()


class _AsyncAssertions:
    def __init__(self, impl: Any) -> None:
        self._impl = impl

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._impl, name)

        async def run(*args: Any, **kwargs: Any) -> None:
            method(*_unwrap(args), **_unwrap(kwargs))

        return run


class _AsyncExpect:
    """Async `expect`: same options as the sync one."""

    def __init__(self) -> None:
        self._sync = Expect()

    def set_options(self, timeout: float | None = None) -> None:
        self._sync.set_options(timeout=timeout)

    def __call__(self, actual: Any, message: str | None = None) -> _AsyncAssertions:
        return _AsyncAssertions(self._sync(_unwrap(actual), message))


expect = _AsyncExpect()

__all__ = [
    "Browser", "BrowserContext", "BrowserType", "Error", "Keyboard", "Locator", "Mouse", "Page",
    "Playwright", "PlaywrightContextManager", "Request", "Response", "Route", "TimeoutError",
    "Tracing", "async_playwright", "expect",
]  # fmt: skip
