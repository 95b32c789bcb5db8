"""A small element tree from HTML (the standard library's parser), enough to follow links and
inherited inline styles: the doctor reads mail HTML and built pages, both well formed."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: "Node | None" = None
    children: list["Node | str"] = field(default_factory=list)

    def iter(self, tag: str | None = None):
        if tag is None or self.tag == tag:
            yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter(tag)

    def text(self) -> str:
        return " ".join(" ".join(c.text() if isinstance(c, Node) else c
                                 for c in self.children).split())

    def style(self) -> dict[str, str]:
        out = {}
        for part in self.attrs.get("style", "").split(";"):
            key, colon, value = part.partition(":")
            if colon:
                out[key.strip().lower()] = value.strip().lower().replace("!important", "").strip()
        return out

    def inherited(self, prop: str) -> str | None:
        node: Node | None = self
        while node is not None:
            value = node.style().get(prop)
            if value:
                return value
            node = node.parent
        return None


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.current))

    def handle_endtag(self, tag):
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def links(root: Node) -> list[tuple[str, str]]:
    """(kind, URL) of every link and image: ("a", href), ("img", src), ("link", href)."""
    out = []
    for node in root.iter():
        if node.tag == "a" and node.attrs.get("href"):
            out.append(("a", node.attrs["href"]))
        elif node.tag in ("img", "script", "source") and node.attrs.get("src"):
            out.append((node.tag, node.attrs["src"]))
        elif node.tag == "link" and node.attrs.get("href") and \
                node.attrs.get("rel", "") in ("stylesheet", "icon", "alternate"):
            out.append(("link", node.attrs["href"]))
    return out
