"""Accessibility of the mail's HTML, as a screen reader or a low-vision reader meets it:
a language, text for images, layout tables announced as such, headings in order, link text
that says where it goes, and text contrast of at least 4.5:1 (WCAG 2.1 AA) computed from the
inline styles mail clients keep."""

from __future__ import annotations

import re

from publisher.doctor.markup import Node
from publisher.doctor.report import Check, failed, passed

G = "a11y"
VAGUE = {"click here", "here", "click", "cliquez ici", "ici", "cliquer ici", "this link", "link"}
NAMED = {"white": "#ffffff", "black": "#000000", "red": "#ff0000", "gray": "#808080",
         "grey": "#808080", "silver": "#c0c0c0", "navy": "#000080", "blue": "#0000ff"}
HIDDEN = {"head", "style", "script", "title"}


def check_accessibility(root: Node) -> list[Check]:
    return [_lang(root), _alt(root), _tables(root), _headings(root), _link_text(root),
            _contrast(root)]


def _lang(root: Node) -> Check:
    html = next(root.iter("html"), None)
    if html is None or not html.attrs.get("lang"):
        return failed(G, "lang", "<html> has no lang: screen readers guess the language",
                      'add lang="{{ site.lang }}" to the template\'s <mjml> / <html>')
    return passed(G, "lang", f'lang="{html.attrs["lang"]}"')


def _alt(root: Node) -> Check:
    bare = [n.attrs.get("src", "?") for n in root.iter("img") if "alt" not in n.attrs]
    if bare:
        return failed(G, "alt", f"{len(bare)} image(s) without alt: {', '.join(bare[:3])}",
                      'give every image alt text (alt="" for decoration)')
    return passed(G, "alt", f"{sum(1 for _ in root.iter('img'))} images, all with alt")


def _tables(root: Node) -> Check:
    layout = [t for t in root.iter("table") if t.attrs.get("role") != "presentation"
              and next(t.iter("th"), None) is None]
    if layout:
        return failed(G, "tables", f"{len(layout)} layout table(s) without "
                      'role="presentation": read out cell by cell',
                      'add role="presentation" to layout tables')
    return passed(G, "tables", 'layout tables carry role="presentation"')


def _headings(root: Node) -> Check:
    levels = [int(n.tag[1]) for n in root.iter() if re.fullmatch(r"h[1-6]", n.tag)]
    # a mail's first heading may be h2: the client's page around it has the h1
    jumps = [(a, b) for a, b in zip([1] + levels, levels) if b > a + 1]
    if jumps:
        a, b = jumps[0]
        return failed(G, "headings", f"heading level jumps from h{a} to h{b}",
                      "use headings in order (h1, then h2, ...) in the template")
    return passed(G, "headings", f"{len(levels)} headings in order")


def _link_text(root: Node) -> Check:
    vague = [n.text() for n in root.iter("a")
             if n.text().lower().strip(" .!:»›→") in VAGUE]
    if vague:
        return failed(G, "link-text", f'{len(vague)} link(s) say only "{vague[0]}"',
                      "say where the link goes (the article's title)")
    return passed(G, "link-text", "every link says where it goes")


def color(value: str | None) -> tuple[float, float, float] | None:
    if not value:
        return None
    value = value.strip().lower()
    value = NAMED.get(value, value)
    m = re.fullmatch(r"#([0-9a-f]{3}|[0-9a-f]{6})", value)
    if m:
        h = m.group(1)
        h = "".join(c * 2 for c in h) if len(h) == 3 else h
        return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))
    m = re.fullmatch(r"rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*(,\s*[\d.]+\s*)?\)", value)
    if m:
        return tuple(int(m.group(i)) / 255 for i in (1, 2, 3))
    return None


def ratio(fg: tuple[float, float, float], bg: tuple[float, float, float]) -> float:
    def lum(c):
        r, g, b = (x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    hi, lo = sorted((lum(fg), lum(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _background(node: Node | None) -> tuple[float, float, float]:
    while node is not None:
        style = node.style()
        for value in (style.get("background-color"), style.get("background", "").split(" ")[0],
                      node.attrs.get("bgcolor")):
            found = color(value)
            if found:
                return found
        node = node.parent
    return (1.0, 1.0, 1.0)


def _hidden(node: Node | None) -> bool:
    while node is not None:
        style = node.style()
        if node.tag in HIDDEN or style.get("display") == "none" or \
                style.get("max-height") in ("0", "0px") or style.get("opacity") == "0":
            return True
        node = node.parent
    return False


def _large(node: Node) -> bool:
    size = node.inherited("font-size") or ""
    px = float(size[:-2]) if re.fullmatch(r"[\d.]+px", size) else 16.0
    bold = (node.inherited("font-weight") or "") in ("bold", "600", "700", "800", "900")
    return px >= 24 or (bold and px >= 18.66)


def _contrast(root: Node) -> Check:
    worst: dict[str, float] = {}
    for node in root.iter():
        if not any(isinstance(c, str) and c.strip() for c in node.children) or _hidden(node):
            continue
        fg = color(node.inherited("color")) or (0.0, 0.0, 0.0)
        value = ratio(fg, _background(node))
        need = 3.0 if _large(node) else 4.5
        if value < need:
            sample = " ".join(c.strip() for c in node.children if isinstance(c, str))[:40]
            worst.setdefault(sample, value)
    if worst:
        sample, value = min(worst.items(), key=lambda kv: kv[1])
        return failed(G, "contrast", f"{len(worst)} text(s) under 4.5:1, worst {value:.1f}:1 "
                      f'("{sample}")', "darken the text colour (newsletter.accent or the "
                      "template's colours)")
    return passed(G, "contrast", "all text at least 4.5:1 (3:1 when large)")
