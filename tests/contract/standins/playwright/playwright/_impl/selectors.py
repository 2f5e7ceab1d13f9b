"""Locator steps: Playwright's selector engines (css subset, text, role, label, test id, ...).

A locator is a chain of steps applied to the document. Each step also renders itself twice, as
Playwright does in traces and call logs: as an internal selector (`internal:role=button[...]`)
and in the Python API's own words (`get_by_role("button", name="Continue")`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from playwright._impl import dom
from playwright._impl.errors import Error

TextMatcher = str | re.Pattern[str]


# ---- text matching ---------------------------------------------------------------------------


def text_matches(text: str, expected: TextMatcher, exact: bool = False) -> bool:
    """Playwright's rules: whitespace-normalized, case-insensitive substring unless exact."""
    text = dom.normalize(text)
    if isinstance(expected, re.Pattern):
        return expected.search(text) is not None
    want = dom.normalize(expected)
    if exact:
        return text == want
    return want.lower() in text.lower()


def _quote(value: TextMatcher, exact: bool) -> str:
    if isinstance(value, re.Pattern):
        flags = "i" if value.flags & re.IGNORECASE else ""
        return f"/{value.pattern}/{flags}"
    return json.dumps(value) + ("s" if exact else "i")


def _py(value: TextMatcher) -> str:
    if isinstance(value, re.Pattern):
        return f're.compile(r"{value.pattern}")'
    return json.dumps(value)


def _py_exact(exact: bool) -> str:
    return ", exact=True" if exact else ""


# ---- css subset ------------------------------------------------------------------------------


@dataclass
class Compound:
    tag: str = "*"
    ids: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    attrs: list[tuple[str, str, str, bool]] = field(default_factory=list)
    pseudos: list[tuple[str, Any]] = field(default_factory=list)


Complex = list[tuple[str, Compound]]  # (combinator before, compound); first combinator is ""


class _CssParser:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def fail(self, why: str) -> Error:
        return Error(
            f'Unexpected token "{self.text[self.pos : self.pos + 1]}" while parsing '
            f'selector "{self.text}" ({why})'
        )

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_ws(self) -> bool:
        start = self.pos
        while self.peek().isspace():
            self.pos += 1
        return self.pos > start

    def ident(self) -> str:
        match = re.compile(r"-?[_a-zA-Z\u00a0-\uffff][-_a-zA-Z0-9\u00a0-\uffff]*").match(
            self.text, self.pos
        )
        if not match:
            raise self.fail("expected a name")
        self.pos = match.end()
        return match.group(0)

    def string(self) -> str:
        quote = self.peek()
        if quote not in "\"'":
            return self.ident()
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text) and self.text[self.pos] != quote:
            if self.text[self.pos] == "\\" and self.pos + 1 < len(self.text):
                self.pos += 1
            out.append(self.text[self.pos])
            self.pos += 1
        if self.pos >= len(self.text):
            raise self.fail("unterminated string")
        self.pos += 1
        return "".join(out)

    def selector_list(self, stop: str = "") -> list[Complex]:
        result = [self.complex(stop)]
        while self.peek() == ",":
            self.pos += 1
            result.append(self.complex(stop))
        return result

    def complex(self, stop: str) -> Complex:
        self.skip_ws()
        parts: Complex = [("", self.compound())]
        while True:
            had_ws = self.skip_ws()
            char = self.peek()
            if char == "" or char == "," or (stop and char == stop):
                return parts
            if char in ">+~":
                self.pos += 1
                self.skip_ws()
                parts.append((char, self.compound()))
            elif had_ws:
                parts.append((" ", self.compound()))
            else:
                raise self.fail("expected a combinator")

    def compound(self) -> Compound:
        comp = Compound()
        if self.peek() == "*":
            self.pos += 1
        elif self.peek() and (self.peek().isalpha() or self.peek() == "_"):
            comp.tag = self.ident().lower()
        matched_any = comp.tag != "*" or self.text[self.pos - 1 : self.pos] == "*"
        while True:
            char = self.peek()
            if char == "#":
                self.pos += 1
                comp.ids.append(self.ident())
            elif char == ".":
                self.pos += 1
                comp.classes.append(self.ident())
            elif char == "[":
                self.pos += 1
                comp.attrs.append(self.attribute())
            elif char == ":":
                self.pos += 1
                comp.pseudos.append(self.pseudo())
            else:
                break
            matched_any = True
        if not matched_any:
            raise self.fail("expected a selector")
        return comp

    def attribute(self) -> tuple[str, str, str, bool]:
        self.skip_ws()
        name = self.ident().lower()
        self.skip_ws()
        op = ""
        for candidate in ("~=", "|=", "^=", "$=", "*=", "="):
            if self.text.startswith(candidate, self.pos):
                op = candidate
                self.pos += len(candidate)
                break
        value, insensitive = "", False
        if op:
            self.skip_ws()
            value = self.string()
            self.skip_ws()
            if self.peek() in "iIsS" and self.peek():
                insensitive = self.peek() in "iI"
                self.pos += 1
                self.skip_ws()
        if self.peek() != "]":
            raise self.fail("expected ]")
        self.pos += 1
        return name, op, value, insensitive

    def pseudo(self) -> tuple[str, Any]:
        name = self.ident().lower()
        if self.peek() != "(":
            return name, None
        self.pos += 1
        self.skip_ws()
        arg: Any
        if name in ("not", "is", "where", "has"):
            arg = self.selector_list(stop=")")
        elif name in ("has-text", "text", "text-is", "text-matches"):
            arg = self.string()
        else:
            end = self.text.index(")", self.pos)
            arg = self.text[self.pos : end].strip()
            self.pos = end
        self.skip_ws()
        if self.peek() != ")":
            raise self.fail("expected )")
        self.pos += 1
        return name, arg


def parse_css(text: str) -> list[Complex]:
    parser = _CssParser(text.strip())
    result = parser.selector_list()
    if parser.pos != len(parser.text):
        raise parser.fail("trailing input")
    return result


def _nth_matches(formula: str, index: int) -> bool:
    formula = formula.replace(" ", "").lower()
    if formula == "odd":
        formula = "2n+1"
    elif formula == "even":
        formula = "2n"
    match = re.fullmatch(r"([+-]?\d*)n([+-]\d+)?", formula)
    if not match:
        return index == int(formula)
    a_text, b_text = match.group(1), match.group(2)
    a = -1 if a_text == "-" else int(a_text) if a_text not in ("", "+") else 1
    b = int(b_text or 0)
    if a == 0:
        return index == b
    return (index - b) % a == 0 and (index - b) // a >= 0


def _attr_ok(el: dom.Element, name: str, op: str, value: str, insensitive: bool) -> bool:
    if name not in el.attrs:
        return False
    actual = el.attrs[name]
    if not op:
        return True
    if insensitive:
        actual, value = actual.lower(), value.lower()
    return {
        "=": actual == value,
        "~=": value in actual.split(),
        "|=": actual == value or actual.startswith(value + "-"),
        "^=": bool(value) and actual.startswith(value),
        "$=": bool(value) and actual.endswith(value),
        "*=": bool(value) and value in actual,
    }[op]


def _compound_ok(el: dom.Element, comp: Compound) -> bool:
    if comp.tag != "*" and el.tag != comp.tag:
        return False
    if any(el.attrs.get("id") != i for i in comp.ids):
        return False
    if any(c not in el.classes for c in comp.classes):
        return False
    if not all(_attr_ok(el, *a) for a in comp.attrs):
        return False
    return all(_pseudo_ok(el, name, arg) for name, arg in comp.pseudos)


def _pseudo_ok(el: dom.Element, name: str, arg: Any) -> bool:
    siblings = el.parent.element_children if el.parent is not None else [el]
    position = next(i for i, s in enumerate(siblings) if s is el) + 1
    if name == "has-text":
        return text_matches(el.match_text(), arg)
    if name == "text":
        return text_matches(el.match_text(), arg) and not any(
            text_matches(c.match_text(), arg) for c in el.element_children
        )
    if name == "text-is":
        return text_matches(el.match_text(), arg, exact=True)
    if name == "text-matches":
        return re.search(arg, dom.normalize(el.match_text())) is not None
    if name == "visible":
        return el.is_visible()
    if name in ("not",):
        return not any(_complex_ok(el, c) for c in arg)
    if name in ("is", "where"):
        return any(_complex_ok(el, c) for c in arg)
    if name == "has":
        return any(_complex_ok(d, c) for d in el.elements() for c in arg)
    if name == "first-child":
        return position == 1
    if name == "last-child":
        return position == len(siblings)
    if name == "only-child":
        return len(siblings) == 1
    if name == "nth-child":
        return _nth_matches(str(arg), position)
    if name == "checked":
        return el.is_checked()
    if name == "disabled":
        return el.is_disabled()
    if name == "enabled":
        return not el.is_disabled()
    if name == "empty":
        return not el.children
    raise Error(f'Unknown pseudo-class ":{name}" in the stand-in selector engine')


def _complex_ok(el: dom.Element, parts: Complex) -> bool:
    """Match right to left."""

    def match_at(node: dom.Element, index: int) -> bool:
        combinator, comp = parts[index]
        if not _compound_ok(node, comp):
            return False
        if index == 0:
            return True
        if combinator == ">":
            parent = node.parent
            return isinstance(parent, dom.Element) and match_at(parent, index - 1)
        if combinator == " ":
            return any(match_at(a, index - 1) for a in node.ancestors())
        siblings = node.parent.element_children if node.parent is not None else []
        before = siblings[: next(i for i, s in enumerate(siblings) if s is node)]
        if combinator == "+":
            return bool(before) and match_at(before[-1], index - 1)
        return any(match_at(s, index - 1) for s in before)

    return match_at(el, len(parts) - 1)


# ---- steps -----------------------------------------------------------------------------------

Predicate = Callable[[dom.Element], bool]


@dataclass(frozen=True)
class Step:
    """One link of a locator chain."""

    selector: str
    description: str

    def apply(self, scopes: list[dom.Element]) -> list[dom.Element]:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class Query(Step):
    """Descendants of each scope that satisfy a predicate; `innermost` keeps the deepest ones."""

    predicate: Predicate = field(compare=False, default=lambda el: True)
    innermost: bool = False
    hidden_too: bool = True

    def apply(self, scopes: list[dom.Element]) -> list[dom.Element]:
        found: list[dom.Element] = []
        seen: set[int] = set()
        for scope in scopes:
            for el in scope.elements():
                if id(el) not in seen and self.predicate(el):
                    if not self.hidden_too and not el.is_rendered():
                        continue
                    seen.add(id(el))
                    found.append(el)
        if self.innermost:
            found = [el for el in found if not any(el.contains(o) for o in found if o is not el)]
        return found


@dataclass(frozen=True)
class Nth(Step):
    index: int = 0

    def apply(self, scopes: list[dom.Element]) -> list[dom.Element]:
        try:
            return [scopes[self.index]]
        except IndexError:
            return []


@dataclass(frozen=True)
class Filter(Step):
    predicate: Predicate = field(compare=False, default=lambda el: True)

    def apply(self, scopes: list[dom.Element]) -> list[dom.Element]:
        return [el for el in scopes if self.predicate(el)]


@dataclass(frozen=True)
class Chain(Step):
    """A whole locator used inside another (`locator(other_locator)`)."""

    steps: tuple[Step, ...] = ()

    def apply(self, scopes: list[dom.Element]) -> list[dom.Element]:
        for step in self.steps:
            scopes = step.apply(scopes)
        return scopes


def css_step(selector: str) -> Step:
    parsed = parse_css(selector)
    return Query(
        selector,
        f"locator({json.dumps(selector)})",
        predicate=lambda el: any(_complex_ok(el, c) for c in parsed),
    )


def text_step(text: TextMatcher, exact: bool = False) -> Step:
    return Query(
        f"internal:text={_quote(text, exact)}",
        f"get_by_text({_py(text)}{_py_exact(exact)})",
        predicate=lambda el: text_matches(el.match_text(), text, exact),
        innermost=True,
    )


def role_step(
    role: str, name: TextMatcher | None = None, exact: bool = False, **options: Any
) -> Step:
    def ok(el: dom.Element) -> bool:
        if dom.implicit_role(el) != role:
            return False
        if not options.get("include_hidden") and not el.is_rendered():
            return False
        if name is not None and not text_matches(dom.accessible_name(el), name, exact):
            return False
        for key in ("checked", "disabled", "selected", "expanded", "pressed"):
            wanted = options.get(key)
            if wanted is None:
                continue
            actual = {
                "checked": el.is_checked(),
                "disabled": el.is_disabled(),
                "selected": "selected" in el.attrs or el.attrs.get("aria-selected") == "true",
                "expanded": el.attrs.get("aria-expanded") == "true",
                "pressed": el.attrs.get("aria-pressed") == "true",
            }[key]
            if actual != wanted:
                return False
        level = options.get("level")
        return level is None or dom.heading_level(el) == level

    attrs = f"[name={_quote(name, exact)}]" if name is not None else ""
    extra = "".join(f", {k}={v!r}" for k, v in options.items() if v is not None)
    py_name = f", name={_py(name)}" if name is not None else ""
    return Query(
        f"internal:role={role}{attrs}",
        f"get_by_role({json.dumps(role)}{py_name}{_py_exact(exact)}{extra})",
        predicate=ok,
    )


def label_step(text: TextMatcher, exact: bool = False) -> Step:
    def ok(el: dom.Element) -> bool:
        names = dom.label_texts(el)
        if el.attrs.get("aria-label"):
            names.append(el.attrs["aria-label"])
        if el.tag == "label":
            return False
        return any(text_matches(n, text, exact) for n in names)

    return Query(
        f"internal:label={_quote(text, exact)}",
        f"get_by_label({_py(text)}{_py_exact(exact)})",
        predicate=ok,
    )


def attr_step(attr: str, method: str, text: TextMatcher, exact: bool = False) -> Step:
    return Query(
        f"internal:attr=[{attr}={_quote(text, exact)}]",
        f"{method}({_py(text)}{_py_exact(exact)})",
        predicate=lambda el: attr in el.attrs and text_matches(el.attrs[attr], text, exact),
    )


def test_id_step(test_id: TextMatcher, attribute: str = "data-testid") -> Step:
    def ok(el: dom.Element) -> bool:
        value = el.attrs.get(attribute)
        if value is None:
            return False
        if isinstance(test_id, re.Pattern):
            return test_id.search(value) is not None
        return value == test_id

    return Query(
        f"internal:testid=[{attribute}={_quote(test_id, True)}]",
        f"get_by_test_id({_py(test_id)})",
        predicate=ok,
    )


def nth_step(index: int) -> Step:
    description = "first" if index == 0 else "last" if index == -1 else f"nth({index})"
    return Nth(f"nth={index}", description, index=index)


def filter_step(
    has_text: TextMatcher | None = None,
    has_not_text: TextMatcher | None = None,
    has: tuple[Step, ...] | None = None,
    has_not: tuple[Step, ...] | None = None,
    visible: bool | None = None,
) -> Step:
    def ok(el: dom.Element) -> bool:
        if has_text is not None and not text_matches(el.match_text(), has_text):
            return False
        if has_not_text is not None and text_matches(el.match_text(), has_not_text):
            return False
        if has is not None and not Chain("", "", steps=has).apply([el]):
            return False
        if has_not is not None and Chain("", "", steps=has_not).apply([el]):
            return False
        return visible is None or el.is_visible() == visible

    parts, words = [], []
    if has_text is not None:
        parts.append(f"internal:has-text={_quote(has_text, False)}")
        words.append(f"has_text={_py(has_text)}")
    if has_not_text is not None:
        parts.append(f"internal:has-not-text={_quote(has_not_text, False)}")
        words.append(f"has_not_text={_py(has_not_text)}")
    if has is not None:
        parts.append("internal:has=" + json.dumps(" >> ".join(s.selector for s in has)))
        words.append("has=" + ".".join(s.description for s in has))
    if has_not is not None:
        parts.append("internal:has-not=" + json.dumps(" >> ".join(s.selector for s in has_not)))
        words.append("has_not=" + ".".join(s.description for s in has_not))
    if visible is not None:
        parts.append(f"visible={'true' if visible else 'false'}")
        words.append(f"visible={visible}")
    return Filter(" >> ".join(parts), f"filter({', '.join(words)})", predicate=ok)


def parse_selector(selector: str) -> tuple[Step, ...]:
    """`page.locator(...)` strings: css, `text=`, `id=`, `data-testid=`, `nth=`, `>>` chains."""
    steps: list[Step] = []
    for part in _split_chain(selector):
        part = part.strip()
        engine, sep, body = part.partition("=")
        engine = engine.strip()
        if part.startswith("//") or part.startswith("xpath="):
            raise Error(f'The stand-in browser has no XPath engine (selector "{selector}")')
        if sep and engine == "text":
            body = body.strip()
            if len(body) >= 2 and body[0] == body[-1] and body[0] in "\"'":
                steps.append(text_step(body[1:-1], exact=True))
            else:
                steps.append(text_step(body))
        elif sep and engine == "css":
            steps.append(css_step(body))
        elif sep and engine == "nth":
            steps.append(nth_step(int(body)))
        elif sep and engine in ("id", "data-testid", "data-test-id", "data-test"):
            attr = "id" if engine == "id" else engine
            steps.append(css_step(f'[{attr}="{body.strip()}"]'))
        else:
            steps.append(css_step(part))
    return tuple(steps)


def _split_chain(selector: str) -> list[str]:
    parts, depth, quote, start = [], 0, "", 0
    i = 0
    while i < len(selector):
        char = selector[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif selector.startswith(">>", i) and depth == 0:
            parts.append(selector[start:i])
            start = i + 2
            i += 1
        i += 1
    parts.append(selector[start:])
    return parts
