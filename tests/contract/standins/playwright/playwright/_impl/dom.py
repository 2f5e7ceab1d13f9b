"""A small DOM: an HTML parser, element state, visibility, text and accessible names.

The stand-in browser runs no JavaScript; a page is the document its server sent, changed only by
what the test does (fill, check, select).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from html.parser import HTMLParser

VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
NEVER_RENDERED = frozenset(
    {"head", "script", "style", "template", "noscript", "title", "meta", "link"}
)
BLOCK = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tr",
        "ul",
    }
)
REPLACED = frozenset(
    {"img", "input", "textarea", "select", "button", "svg", "canvas", "video", "iframe"}
)
TEXT_INPUT_TYPES = frozenset(["text", "email", "tel", "url", "search", "password", "number"])


def normalize(text: str) -> str:
    """Collapse whitespace as Playwright does before matching text."""
    return re.sub(r"\s+", " ", text).strip()


class Node:
    """A node of the tree."""

    parent: Element | None = None


class Text(Node):
    """A text node."""

    def __init__(self, data: str) -> None:
        self.data = data


class Element(Node):
    """An element with its attributes and the state the test gave it."""

    def __init__(self, tag: str, attrs: dict[str, str] | None = None) -> None:
        self.tag = tag
        self.attrs: dict[str, str] = dict(attrs or {})
        self.children: list[Node] = []
        self.value: str | None = None
        self.checked: bool | None = None

    def __repr__(self) -> str:
        return f"<{self.tag} {self.attrs}>"

    # ---- tree ----------------------------------------------------------------------------
    def append(self, node: Node) -> None:
        node.parent = self
        self.children.append(node)

    def elements(self) -> Iterator[Element]:
        """Descendant elements in document order (not self)."""
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.elements()

    def ancestors(self) -> Iterator[Element]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def contains(self, other: Element) -> bool:
        return any(a is self for a in other.ancestors())

    @property
    def element_children(self) -> list[Element]:
        return [c for c in self.children if isinstance(c, Element)]

    def root(self) -> Element:
        node = self
        while node.parent is not None:
            node = node.parent
        return node

    def by_id(self, element_id: str) -> Element | None:
        for el in self.root().elements():
            if el.attrs.get("id") == element_id:
                return el
        return None

    # ---- state ---------------------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    @property
    def input_type(self) -> str:
        return self.attrs.get("type", "text").lower() if self.tag == "input" else ""

    def current_value(self) -> str:
        if self.value is not None:
            return self.value
        if self.tag == "textarea":
            return self.text_content()
        if self.tag == "select":
            options = [o for o in self.elements() if o.tag == "option"]
            chosen = [o for o in options if "selected" in o.attrs] or options[:1]
            return chosen[0].option_value() if chosen else ""
        return self.attrs.get("value", "")

    def option_value(self) -> str:
        return self.attrs.get("value", normalize(self.text_content()))

    def is_checked(self) -> bool:
        if self.checked is not None:
            return self.checked
        return "checked" in self.attrs or self.attrs.get("aria-checked") == "true"

    def is_disabled(self) -> bool:
        if "disabled" in self.attrs or self.attrs.get("aria-disabled") == "true":
            return True
        return any(a.tag == "fieldset" and "disabled" in a.attrs for a in self.ancestors())

    def is_editable(self) -> bool:
        if self.tag == "textarea" or (self.tag == "input" and self.input_type in TEXT_INPUT_TYPES):
            return not self.is_disabled() and "readonly" not in self.attrs
        return self.attrs.get("contenteditable", "false") in ("", "true")

    # ---- rendering -----------------------------------------------------------------------
    def _hidden_here(self) -> bool:
        if self.tag in NEVER_RENDERED or "hidden" in self.attrs:
            return True
        style = self.attrs.get("style", "").replace(" ", "").lower()
        if "display:none" in style or "visibility:hidden" in style:
            return True
        return self.tag == "input" and self.input_type == "hidden"

    def is_rendered(self) -> bool:
        """Not inside anything hidden."""
        return not any(n._hidden_here() for n in (self, *self.ancestors()))

    def is_visible(self) -> bool:
        """Rendered and with a box: some text or a replaced element inside."""
        if not self.is_rendered():
            return False
        if self.tag in REPLACED:
            return True
        for node in self._rendered_nodes():
            if isinstance(node, Text) and node.data.strip():
                return True
            if isinstance(node, Element) and node.tag in REPLACED:
                return True
        return False

    def _rendered_nodes(self) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, Element):
                if child._hidden_here():
                    continue
                yield child
                yield from child._rendered_nodes()
            else:
                yield child

    def text_content(self) -> str:
        """All text below, hidden or not (DOM textContent)."""
        parts: list[str] = []
        for child in self.children:
            if isinstance(child, Text):
                parts.append(child.data)
            elif isinstance(child, Element):
                parts.append(child.text_content())
        return "".join(parts)

    def match_text(self) -> str:
        """The text Playwright matches against: textContent without head, script and style."""
        if self.tag in ("head", "script", "style", "template", "noscript"):
            return ""
        parts: list[str] = []
        for child in self.children:
            if isinstance(child, Text):
                parts.append(child.data)
            elif isinstance(child, Element):
                parts.append(child.match_text())
        return "".join(parts)

    def inner_text(self) -> str:
        """Rendered text, one line per block (innerText)."""
        if not self.is_rendered():
            return ""
        lines: list[str] = []
        current: list[str] = []

        def walk(el: Element) -> None:
            for child in el.children:
                if isinstance(child, Text):
                    current.append(child.data)
                elif isinstance(child, Element) and not child._hidden_here():
                    if child.tag == "br":
                        flush()
                        continue
                    block = child.tag in BLOCK
                    if block:
                        flush()
                    walk(child)
                    if block:
                        flush()
                    elif child.tag in ("td", "th"):
                        current.append("\t")

        def flush() -> None:
            text = normalize("".join(current))
            if text:
                lines.append(text)
            current.clear()

        walk(self)
        flush()
        return "\n".join(lines)

    def outer_html(self, limit: int | None = None) -> str:
        text = serialize(self)
        if limit is not None and len(text) > limit:
            return text[:limit] + "…"
        return text

    def short(self) -> str:
        """A one-line rendering for call logs: `<button id="x">Continue</button>`."""
        attrs = "".join(f' {k}="{v}"' for k, v in list(self.attrs.items())[:4])
        text = normalize(self.text_content())
        if len(text) > 40:
            text = text[:40] + "…"
        if self.tag in VOID:
            return f"<{self.tag}{attrs}/>"
        return f"<{self.tag}{attrs}>{html.escape(text)}</{self.tag}>"


class Document(Element):
    """The root of a page."""

    def __init__(self) -> None:
        super().__init__("#document")

    @property
    def title(self) -> str:
        for el in self.elements():
            if el.tag == "title":
                return normalize(el.text_content())
        return ""

    @property
    def body(self) -> Element:
        for el in self.elements():
            if el.tag == "body":
                return el
        return self


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.document = Document()
        self.stack: list[Element] = [self.document]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = Element(tag, {k: v if v is not None else "" for k, v in attrs})
        if tag in ("p", "li", "option") and self.stack[-1].tag == tag:
            self.stack.pop()
        self.stack[-1].append(el)
        if tag not in VOID:
            self.stack.append(el)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].append(Element(tag, {k: v if v is not None else "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].append(Text(data))


def parse_html(markup: str) -> Document:
    """Parse a document; whatever the markup, the result has html, head and body."""
    builder = _TreeBuilder()
    builder.feed(markup)
    builder.close()
    doc = builder.document
    if not any(el.tag == "body" for el in doc.elements()):
        root = Element("html")
        body = Element("body")
        for child in list(doc.children):
            body.append(child)
        doc.children = []
        root.append(Element("head"))
        root.append(body)
        doc.append(root)
    return doc


def serialize(node: Node) -> str:
    """HTML of a node, with the state the test gave form fields."""
    if isinstance(node, Text):
        return html.escape(node.data, quote=False)
    assert isinstance(node, Element)
    if isinstance(node, Document):
        return "<!DOCTYPE html>" + "".join(serialize(c) for c in node.children)
    attrs = dict(node.attrs)
    if node.value is not None and node.tag == "input":
        attrs["value"] = node.value
    if node.checked is not None:
        attrs.pop("checked", None)
        if node.checked:
            attrs["checked"] = ""
    rendered = "".join(f' {k}="{html.escape(v)}"' if v != "" else f" {k}" for k, v in attrs.items())
    if node.tag in VOID:
        return f"<{node.tag}{rendered}>"
    inner = (
        html.escape(node.value, quote=False)
        if node.tag == "textarea" and node.value is not None
        else "".join(serialize(c) for c in node.children)
    )
    return f"<{node.tag}{rendered}>{inner}</{node.tag}>"


def snapshot_tree(node: Node) -> object:
    """The nested-array form of a frame snapshot: `["TAG", {attrs}, ...children]`."""
    if isinstance(node, Text):
        return node.data
    assert isinstance(node, Element)
    attrs = dict(node.attrs)
    if node.tag in ("input", "textarea", "select"):
        attrs["__playwright_value_"] = node.current_value()
    if node.checked is not None and node.checked:
        attrs["__playwright_checked_"] = "true"
    children = [snapshot_tree(c) for c in node.children if not _is_script(c)]
    return [node.tag.upper(), attrs, *children]


def _is_script(node: Node) -> bool:
    return isinstance(node, Element) and node.tag == "script"


# ---- accessibility ---------------------------------------------------------------------------

HEADINGS = {f"h{i}": i for i in range(1, 7)}
NAME_FROM_CONTENT = frozenset(
    {
        "button",
        "cell",
        "checkbox",
        "columnheader",
        "gridcell",
        "heading",
        "link",
        "menuitem",
        "menuitemcheckbox",
        "menuitemradio",
        "option",
        "radio",
        "row",
        "rowheader",
        "switch",
        "tab",
        "tooltip",
        "treeitem",
    }
)


def implicit_role(el: Element) -> str:
    """The ARIA role of an element: its `role` attribute, else the one its tag implies."""
    explicit = el.attrs.get("role", "").split()
    if explicit:
        return explicit[0]
    tag = el.tag
    if tag in ("a", "area") and "href" in el.attrs:
        return "link"
    if tag == "button":
        return "button"
    if tag == "input":
        kind = el.input_type
        if kind in ("button", "submit", "reset", "image"):
            return "button"
        if kind in ("checkbox", "radio"):
            return kind
        if kind == "search":
            return "searchbox"
        if kind in ("text", "email", "tel", "url", ""):
            return "textbox"
        if kind == "number":
            return "spinbutton"
        if kind == "range":
            return "slider"
        return ""
    if tag == "textarea":
        return "textbox"
    if tag == "select":
        return "listbox" if "multiple" in el.attrs else "combobox"
    if tag in HEADINGS:
        return "heading"
    if tag == "img":
        return "presentation" if el.attrs.get("alt") == "" else "img"
    simple = {
        "ul": "list", "ol": "list", "li": "listitem", "nav": "navigation", "main": "main",
        "aside": "complementary", "table": "table", "tr": "row", "td": "cell",
        "th": "columnheader", "dialog": "dialog", "option": "option", "p": "paragraph",
        "article": "article", "hr": "separator", "progress": "progressbar",
        "header": "banner", "footer": "contentinfo",
    }  # fmt: skip
    if tag in simple:
        return simple[tag]
    named = el.attrs.get("aria-label") or el.attrs.get("aria-labelledby")
    if tag in ("form", "section") and named:
        return "form" if tag == "form" else "region"
    return ""


def heading_level(el: Element) -> int:
    if "aria-level" in el.attrs:
        try:
            return int(el.attrs["aria-level"])
        except ValueError:
            return 0
    return HEADINGS.get(el.tag, 0)


def label_texts(el: Element) -> list[str]:
    """Texts of the labels of a control: `<label for>`, a wrapping label, aria-labelledby."""
    found: list[str] = []
    labelledby = el.attrs.get("aria-labelledby", "").split()
    for ref in labelledby:
        target = el.by_id(ref)
        if target is not None:
            found.append(normalize(target.text_content()))
    element_id = el.attrs.get("id")
    if element_id:
        for other in el.root().elements():
            if other.tag == "label" and other.attrs.get("for") == element_id:
                found.append(normalize(other.text_content()))
    for anc in el.ancestors():
        if anc.tag == "label":
            found.append(normalize(anc.text_content()))
            break
    return [t for t in found if t]


def accessible_name(el: Element) -> str:
    """A simplified accessible name (aria-labelledby, aria-label, labels, content, title)."""
    labelledby = el.attrs.get("aria-labelledby", "").split()
    if labelledby:
        parts = [el.by_id(ref) for ref in labelledby]
        return normalize(" ".join(p.text_content() for p in parts if p is not None))
    if el.attrs.get("aria-label", "").strip():
        return normalize(el.attrs["aria-label"])
    if el.tag in ("input", "textarea", "select"):
        labels = label_texts(el)
        if labels:
            return labels[0]
        if el.input_type in ("submit", "button", "reset"):
            return el.attrs.get("value", "Submit" if el.input_type == "submit" else "")
        return normalize(el.attrs.get("title", "") or el.attrs.get("placeholder", ""))
    if el.tag == "img":
        return normalize(el.attrs.get("alt", "") or el.attrs.get("title", ""))
    if implicit_role(el) in NAME_FROM_CONTENT:
        return normalize(_name_from_content(el))
    return normalize(el.attrs.get("title", ""))


def _name_from_content(el: Element) -> str:
    parts: list[str] = []
    for child in el.children:
        if isinstance(child, Text):
            parts.append(child.data)
        elif isinstance(child, Element) and child.is_rendered():
            if child.attrs.get("aria-label", "").strip():
                parts.append(" " + child.attrs["aria-label"] + " ")
            elif child.tag == "img":
                parts.append(child.attrs.get("alt", ""))
            else:
                sep = " " if child.tag in BLOCK else ""
                parts.append(sep + _name_from_content(child) + sep)
    return "".join(parts)
