"""`playwright.sync_api`: the names tests import."""

from playwright._impl.assertions import LocatorAssertions, PageAssertions, expect
from playwright._impl.core import (
    Browser,
    BrowserContext,
    BrowserType,
    Keyboard,
    Locator,
    Mouse,
    Page,
    Playwright,
    PlaywrightContextManager,
    sync_playwright,
)
from playwright._impl.errors import Error, TimeoutError
from playwright._impl.network import Request, Response, Route
from playwright._impl.tracing import Tracing

ElementHandle = Locator
Frame = Page

__all__ = [
    "Browser",
    "BrowserContext",
    "BrowserType",
    "ElementHandle",
    "Error",
    "Frame",
    "Keyboard",
    "Locator",
    "LocatorAssertions",
    "Mouse",
    "Page",
    "PageAssertions",
    "Playwright",
    "PlaywrightContextManager",
    "Request",
    "Response",
    "Route",
    "TimeoutError",
    "Tracing",
    "expect",
    "sync_playwright",
]
