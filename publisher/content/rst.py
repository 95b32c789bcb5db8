"""Reader for reStructuredText, as Pelican writes it: the title, then a field list of metadata
(`:date: 2024-11-02`, `:tags: a, b`, `:status: hidden`), then the body. Through docutils when
it is installed (`pip install docutils`); without it each .rst file is one line saying it was
skipped, and the rest of the site builds."""

from __future__ import annotations

from publisher.content.meta import source_from_meta
from publisher.content.source import Source
from publisher.errors import ContentError

SETTINGS = {
    "doctitle_xform": True, "initial_header_level": 2, "report_level": 5, "halt_level": 5,
    "file_insertion_enabled": False, "raw_enabled": False,  # no reading of other files
    "output_encoding": "unicode", "embed_stylesheet": False,
}


def read_rst(text: str, path: str) -> Source:
    try:
        from docutils import nodes
        from docutils.core import publish_doctree, publish_from_doctree
        from docutils.writers.html5_polyglot import Writer
    except ImportError:
        raise ContentError(path, 1, "reStructuredText skipped: docutils is not installed "
                                    "(pip install docutils)") from None
    tree = publish_doctree(text, source_path=path, settings_overrides=SETTINGS)
    meta: dict[str, str] = {}
    lines = {}
    for info in list(tree.findall(nodes.docinfo)):
        for child in info.children:
            if isinstance(child, nodes.field):
                name, value = child[0].astext(), child[1].astext()
            elif isinstance(child, nodes.authors):
                name, value = "authors", ", ".join(a.astext() for a in child.children)
            else:  # a bibliographic field docutils knows (date, author, status...)
                name, value = child.tagname, child.astext()
            meta[name.lower()] = " ".join(value.split())
            lines[name.lower()] = child.line or 1
        info.parent.remove(info)
    title = tree.get("title")
    if title:
        meta.setdefault("title", title)
    parts = publish_from_doctree(tree, writer=Writer(), settings_overrides=SETTINGS)
    body = parts.decode() if isinstance(parts, bytes) else parts
    start, end = body.find("<main"), body.rfind("</main>")
    if start == -1:
        start, end = body.find("<body"), body.rfind("</body>")
    start = body.find(">", start) + 1
    html = body[start:end].strip()
    html = _without_title(html)
    first = next(iter(tree.findall(nodes.paragraph)), None)
    return source_from_meta(meta, html, first.astext() if first else "", path,
                            lambda key: lines.get(key, 1))


def _without_title(html: str) -> str:
    """The page shows the title itself: the document's <h1 class="title"> goes."""
    if html.startswith("<h1 class=\"title\">"):
        return html[html.find("</h1>") + 5 :].lstrip()
    return html
