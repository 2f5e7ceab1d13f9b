"""`expect(...)`: web-first assertions that retry until their timeout, as Playwright's do.

Each assertion is one traced call named `LocatorAssertions.<method>` (or `PageAssertions...`),
whose call log opens with `<apiName> with timeout <n>ms` and `waiting for <locator>`: the rows
upstream's trace cleaner drops.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from playwright._impl import dom
from playwright._impl.core import POLL_S, Locator, Page
from playwright._impl.errors import Error
from playwright._impl.network import url_matches
from playwright._impl.selectors import TextMatcher

DEFAULT_EXPECT_TIMEOUT_MS = 5_000
__tracebackhide__ = True  # pytest shows the test's line, not the stand-in's


def _matches(actual: str, expected: TextMatcher, *, substring: bool, ignore_case: bool) -> bool:
    if isinstance(expected, re.Pattern):
        flags = expected.flags | (re.IGNORECASE if ignore_case else 0)
        return re.search(expected.pattern, actual, flags) is not None
    actual, wanted = dom.normalize(actual), dom.normalize(expected)
    if ignore_case:
        actual, wanted = actual.lower(), wanted.lower()
    return wanted in actual if substring else actual == wanted


def _show(expected: Any) -> str:
    if isinstance(expected, re.Pattern):
        return f"/{expected.pattern}/"
    return str(expected)


class _Assertions:
    _class_name = "LocatorAssertions"

    def __init__(
        self, actual: Locator | Page, timeout: float | None, is_not: bool, message: str | None
    ) -> None:
        self._actual = actual
        self._timeout = timeout
        self._is_not = is_not
        self._custom_message = message

    def _page(self) -> Page:
        return self._actual if isinstance(self._actual, Page) else self._actual._page

    def _run(
        self,
        method: str,
        expression: str,
        timeout: float | None,
        default_message: str,
        expected: Any,
        probe: Callable[[], tuple[bool, Any]],
        params: dict[str, Any] | None = None,
    ) -> None:
        """Poll `probe` (matches, received) until it agrees with `not`-ness or time runs out."""
        budget = (
            timeout
            if timeout is not None
            else (self._timeout if self._timeout is not None else Expect._timeout)
        )
        api = f"{self._class_name}.{'not_' if self._is_not else ''}{method}"
        page = self._page()
        trace_params: dict[str, Any] = {
            "expression": expression,
            "isNot": self._is_not,
            "timeout": budget,
            **(params or {}),
        }
        if isinstance(self._actual, Locator):
            trace_params["selector"] = self._actual._selector
        with page._trace(api, trace_params, method="expect") as call:
            call.log(f"{api} with timeout {budget:.0f}ms")
            if isinstance(self._actual, Locator):
                call.log(f"waiting for {self._actual._description}")
            deadline = time.monotonic() + budget / 1000
            seen: set[str] = set()
            while True:
                matched, received = probe()
                if matched != self._is_not:
                    call.result = {"matches": matched, "received": _serializable(received)}
                    return
                shown = repr(received)
                if shown not in seen:
                    seen.add(shown)
                    call.log(f'  unexpected value "{received}"')
                if time.monotonic() >= deadline:
                    break
                time.sleep(POLL_S)
            call.result = {
                "matches": matched,
                "received": _serializable(received),
                "timedOut": True,
                "log": [f"{api} with timeout {budget:.0f}ms", f"waiting for {self._describe()}"],
            }
        message = self._custom_message or default_message
        if self._is_not:
            message = message.replace("expected to", "expected not to")
        shown_expected = f" '{_show(expected)}'" if expected is not None else ""
        raise AssertionError(
            f"{message}{shown_expected}\nActual value: {received} \nCall log:\n"
            f"  - {api} with timeout {budget:.0f}ms\n  - waiting for {self._describe()}\n"
        )

    def _describe(self) -> str:
        return self._actual._description if isinstance(self._actual, Locator) else "page"


class LocatorAssertions(_Assertions):
    """Assertions on a locator."""

    def __init__(
        self,
        actual: Locator,
        timeout: float | None = None,
        is_not: bool = False,
        message: str | None = None,
    ) -> None:
        super().__init__(actual, timeout, is_not, message)
        self._locator = actual

    @property
    def _not(self) -> LocatorAssertions:
        return LocatorAssertions(
            self._locator, self._timeout, not self._is_not, self._custom_message
        )

    def _one(self) -> dom.Element | None:
        found = self._locator._resolve()
        if len(found) > 1:
            raise Error(
                f"{self._class_name}: Error: strict mode violation: "
                f"{self._locator._description} resolved to {len(found)} elements"
            )
        return found[0] if found else None

    def _text_probe(
        self,
        expected: TextMatcher | list[TextMatcher],
        *,
        substring: bool,
        use_inner_text: bool | None,
        ignore_case: bool | None,
    ) -> Callable[[], tuple[bool, Any]]:
        def read(el: dom.Element) -> str:
            return el.inner_text() if use_inner_text else el.text_content()

        def probe() -> tuple[bool, Any]:
            if isinstance(expected, list | tuple):
                found = self._locator._resolve()
                texts = [read(el) for el in found]
                ok = len(texts) == len(expected) and all(
                    _matches(t, e, substring=substring, ignore_case=bool(ignore_case))
                    for t, e in zip(texts, expected, strict=True)
                )
                return ok, texts
            el = self._one()
            if el is None:
                return False, None
            text = read(el)
            return _matches(
                text, expected, substring=substring, ignore_case=bool(ignore_case)
            ), dom.normalize(text)

        return probe

    # ---- visibility and state ------------------------------------------------------------
    def to_be_visible(self, *, visible: bool | None = None, timeout: float | None = None) -> None:
        want = True if visible is None else visible

        def probe() -> tuple[bool, Any]:
            el = self._one()
            shown = el is not None and el.is_visible()
            return shown == want, "visible" if shown else "hidden"

        self._run(
            "to_be_visible", "to.be.visible", timeout, "Locator expected to be visible", None, probe
        )

    def not_to_be_visible(
        self, *, visible: bool | None = None, timeout: float | None = None
    ) -> None:
        self._not.to_be_visible(visible=visible, timeout=timeout)

    def to_be_hidden(self, *, timeout: float | None = None) -> None:
        def probe() -> tuple[bool, Any]:
            el = self._one()
            hidden = el is None or not el.is_visible()
            return hidden, "hidden" if hidden else "visible"

        self._run(
            "to_be_hidden", "to.be.hidden", timeout, "Locator expected to be hidden", None, probe
        )

    def not_to_be_hidden(self, *, timeout: float | None = None) -> None:
        self._not.to_be_hidden(timeout=timeout)

    def to_be_attached(self, *, attached: bool | None = None, timeout: float | None = None) -> None:
        want = True if attached is None else attached
        self._run(
            "to_be_attached",
            "to.be.attached",
            timeout,
            "Locator expected to be attached",
            None,
            lambda: ((self._one() is not None) == want, None),
        )

    def not_to_be_attached(self, **options: Any) -> None:
        self._not.to_be_attached(**options)

    def _state(
        self,
        method: str,
        expression: str,
        read: Callable[[dom.Element], bool],
        timeout: float | None,
        words: str,
    ) -> None:
        def probe() -> tuple[bool, Any]:
            el = self._one()
            return (el is not None and read(el)), None

        self._run(method, expression, timeout, f"Locator expected to be {words}", None, probe)

    def to_be_checked(self, *, checked: bool | None = None, timeout: float | None = None) -> None:
        want = True if checked is None else checked
        self._state(
            "to_be_checked", "to.be.checked", lambda el: el.is_checked() == want, timeout, "checked"
        )

    def not_to_be_checked(self, **options: Any) -> None:
        self._not.to_be_checked(**options)

    def to_be_enabled(self, *, timeout: float | None = None, **_: Any) -> None:
        self._state(
            "to_be_enabled", "to.be.enabled", lambda el: not el.is_disabled(), timeout, "enabled"
        )

    def not_to_be_enabled(self, **options: Any) -> None:
        self._not.to_be_enabled(**options)

    def to_be_disabled(self, *, timeout: float | None = None) -> None:
        self._state(
            "to_be_disabled", "to.be.disabled", lambda el: el.is_disabled(), timeout, "disabled"
        )

    def not_to_be_disabled(self, **options: Any) -> None:
        self._not.to_be_disabled(**options)

    def to_be_editable(self, *, timeout: float | None = None, **_: Any) -> None:
        self._state(
            "to_be_editable", "to.be.editable", lambda el: el.is_editable(), timeout, "editable"
        )

    def not_to_be_editable(self, **options: Any) -> None:
        self._not.to_be_editable(**options)

    def to_be_empty(self, *, timeout: float | None = None) -> None:
        self._state(
            "to_be_empty",
            "to.be.empty",
            lambda el: (
                not (
                    el.current_value()
                    if el.tag in ("input", "textarea")
                    else dom.normalize(el.text_content())
                )
            ),
            timeout,
            "empty",
        )

    def not_to_be_empty(self, **options: Any) -> None:
        self._not.to_be_empty(**options)

    def to_be_focused(self, *, timeout: float | None = None) -> None:
        self._state(
            "to_be_focused",
            "to.be.focused",
            lambda el: el is self._locator._page._focused,
            timeout,
            "focused",
        )

    def not_to_be_focused(self, **options: Any) -> None:
        self._not.to_be_focused(**options)

    # ---- text and values -----------------------------------------------------------------
    def to_have_text(
        self,
        expected: TextMatcher | list[TextMatcher],
        *,
        use_inner_text: bool | None = None,
        timeout: float | None = None,
        ignore_case: bool | None = None,
    ) -> None:
        self._run(
            "to_have_text",
            "to.have.text" if not isinstance(expected, list) else "to.have.text.array",
            timeout,
            "Locator expected to have text",
            expected,
            self._text_probe(
                expected, substring=False, use_inner_text=use_inner_text, ignore_case=ignore_case
            ),
            {"expectedText": _expected_text(expected)},
        )

    def not_to_have_text(self, expected: TextMatcher | list[TextMatcher], **options: Any) -> None:
        self._not.to_have_text(expected, **options)

    def to_contain_text(
        self,
        expected: TextMatcher | list[TextMatcher],
        *,
        use_inner_text: bool | None = None,
        timeout: float | None = None,
        ignore_case: bool | None = None,
    ) -> None:
        self._run(
            "to_contain_text",
            "to.have.text",
            timeout,
            "Locator expected to contain text",
            expected,
            self._text_probe(
                expected, substring=True, use_inner_text=use_inner_text, ignore_case=ignore_case
            ),
            {"expectedText": _expected_text(expected)},
        )

    def not_to_contain_text(
        self, expected: TextMatcher | list[TextMatcher], **options: Any
    ) -> None:
        self._not.to_contain_text(expected, **options)

    def to_have_count(self, count: int, *, timeout: float | None = None) -> None:
        def probe() -> tuple[bool, Any]:
            n = len(self._locator._resolve())
            return n == count, n

        self._run(
            "to_have_count",
            "to.have.count",
            timeout,
            "Locator expected to have count",
            count,
            probe,
            {"expectedNumber": count},
        )

    def not_to_have_count(self, count: int, **options: Any) -> None:
        self._not.to_have_count(count, **options)

    def to_have_value(self, value: TextMatcher, *, timeout: float | None = None) -> None:
        def probe() -> tuple[bool, Any]:
            el = self._one()
            if el is None:
                return False, None
            got = el.current_value()
            return _matches(got, value, substring=False, ignore_case=False), got

        self._run(
            "to_have_value",
            "to.have.value",
            timeout,
            "Locator expected to have Value",
            value,
            probe,
        )

    def not_to_have_value(self, value: TextMatcher, **options: Any) -> None:
        self._not.to_have_value(value, **options)

    def to_have_attribute(
        self,
        name: str,
        value: TextMatcher | None = None,
        *,
        timeout: float | None = None,
        ignore_case: bool | None = None,
    ) -> None:
        def probe() -> tuple[bool, Any]:
            el = self._one()
            if el is None or name not in el.attrs:
                return False, None
            got = el.attrs[name]
            if value is None:
                return True, got
            return _matches(got, value, substring=False, ignore_case=bool(ignore_case)), got

        self._run(
            "to_have_attribute",
            "to.have.attribute.value",
            timeout,
            "Locator expected to have attribute",
            value,
            probe,
        )

    def not_to_have_attribute(
        self, name: str, value: TextMatcher | None = None, **options: Any
    ) -> None:
        self._not.to_have_attribute(name, value, **options)

    def to_have_class(self, expected: TextMatcher, *, timeout: float | None = None) -> None:
        def probe() -> tuple[bool, Any]:
            el = self._one()
            got = el.attrs.get("class", "") if el is not None else None
            if got is None:
                return False, None
            return _matches(got, expected, substring=False, ignore_case=False), got

        self._run(
            "to_have_class",
            "to.have.class",
            timeout,
            "Locator expected to have class",
            expected,
            probe,
        )

    def not_to_have_class(self, expected: TextMatcher, **options: Any) -> None:
        self._not.to_have_class(expected, **options)

    def to_have_id(self, expected: TextMatcher, *, timeout: float | None = None) -> None:
        def probe() -> tuple[bool, Any]:
            el = self._one()
            got = el.attrs.get("id", "") if el is not None else None
            ok = got is not None and _matches(got, expected, substring=False, ignore_case=False)
            return ok, got

        self._run(
            "to_have_id", "to.have.id", timeout, "Locator expected to have ID", expected, probe
        )

    def to_have_css(self, name: str, value: TextMatcher, *, timeout: float | None = None) -> None:
        def probe() -> tuple[bool, Any]:
            el = self._one()
            if el is None:
                return False, None
            styles = dict(
                (k.strip().lower(), v.strip())
                for k, _, v in (d.partition(":") for d in el.attrs.get("style", "").split(";"))
                if k.strip()
            )
            got = styles.get(name.lower(), "")
            return _matches(got, value, substring=False, ignore_case=False), got

        self._run(
            "to_have_css", "to.have.css", timeout, "Locator expected to have CSS", value, probe
        )

    def not_to_have_css(self, name: str, value: TextMatcher, **options: Any) -> None:
        self._not.to_have_css(name, value, **options)


class PageAssertions(_Assertions):
    """Assertions on a page."""

    _class_name = "PageAssertions"

    def __init__(
        self,
        actual: Page,
        timeout: float | None = None,
        is_not: bool = False,
        message: str | None = None,
    ) -> None:
        super().__init__(actual, timeout, is_not, message)
        self._page_obj = actual

    @property
    def _not(self) -> PageAssertions:
        return PageAssertions(self._page_obj, self._timeout, not self._is_not, self._custom_message)

    def to_have_url(
        self, url: TextMatcher, *, timeout: float | None = None, ignore_case: bool | None = None
    ) -> None:
        def probe() -> tuple[bool, Any]:
            got = self._page_obj.url
            if isinstance(url, re.Pattern):
                return url.search(got) is not None, got
            return url_matches(url, got) or got == url, got

        self._run("to_have_url", "to.have.url", timeout, "Page URL expected to be", url, probe)

    def not_to_have_url(self, url: TextMatcher, **options: Any) -> None:
        self._not.to_have_url(url, **options)

    def to_have_title(self, title: TextMatcher, *, timeout: float | None = None) -> None:
        def probe() -> tuple[bool, Any]:
            doc = self._page_obj._document
            got = doc.title if doc is not None else ""
            return _matches(got, title, substring=False, ignore_case=False), got

        self._run(
            "to_have_title", "to.have.title", timeout, "Page title expected to be", title, probe
        )

    def not_to_have_title(self, title: TextMatcher, **options: Any) -> None:
        self._not.to_have_title(title, **options)


def _expected_text(expected: TextMatcher | list[TextMatcher]) -> list[dict[str, Any]]:
    items = expected if isinstance(expected, list | tuple) else [expected]
    out = []
    for item in items:
        if isinstance(item, re.Pattern):
            out.append({"regexSource": item.pattern, "regexFlags": "", "normalizeWhiteSpace": True})
        else:
            out.append({"string": item, "normalizeWhiteSpace": True})
    return out


def _serializable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list):
        return [_serializable(v) for v in value]
    return str(value)


class Expect:
    """The `expect` callable, with `expect.set_options(timeout=...)`."""

    _timeout: float = DEFAULT_EXPECT_TIMEOUT_MS

    def __init__(self, timeout: float | None = None) -> None:
        self._own_timeout = timeout

    def set_options(self, timeout: float | None = None) -> None:
        if timeout is not None:
            Expect._timeout = timeout

    def configure(self, *, timeout: float | None = None, message: str | None = None) -> Expect:
        return Expect(timeout)

    def __call__(
        self, actual: Locator | Page, message: str | None = None
    ) -> LocatorAssertions | PageAssertions:
        if isinstance(actual, Locator):
            return LocatorAssertions(actual, self._own_timeout, False, message)
        if isinstance(actual, Page):
            return PageAssertions(actual, self._own_timeout, False, message)
        raise ValueError(f"Unsupported type: {type(actual)}")


expect = Expect()
