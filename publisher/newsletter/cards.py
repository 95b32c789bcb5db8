"""What the digest shows of one article: its card (title, date, image, summary or full text),
made mail-ready once per render.

Mail clients are not browsers: an image needs an absolute URL, its `alt` and a width no wider
than the mail (552 px: 600 less the card's padding); headings inside an article must stay
below the article's own title; the plain-text part needs the text, not the HTML.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

from markupsafe import Markup

from publisher.models import Article

CARD_WIDTH = 552  # px: the mail's 600 less 2 x 24 px of padding
IMG = re.compile(r"<img\b[^>]*>", re.I)
ATTR = re.compile(r'\b(src|alt|width|height)="([^"]*)"', re.I)
HEADING = re.compile(r"<h([1-6])>", re.I)
# Inside an article (whose title is 20 px) headings run from 18 px down: never above it.
HEADING_STYLE = {1: "18px", 2: "18px", 3: "17px", 4: "16px", 5: "16px", 6: "16px"}


def card_image(article: Article, site_url: str, body_shown: bool = False) -> dict[str, Any] | None:
    """The article's `image:` (front matter) or else the first <img> of its body (unless the
    body is shown whole, image included): absolute src, alt, and width/height scaled to fit
    the card (height only when the source says its size: it is never guessed, CSS
    `height:auto` keeps the ratio)."""
    tag = IMG.search(article.html)
    attrs = {k.lower(): v for k, v in ATTR.findall(tag.group(0))} if tag else {}
    first = urljoin(article.url or site_url, attrs["src"]) if attrs.get("src") else ""
    declared = article.image or article.extra.get("image")  # the reader resolves `image:`
    if isinstance(declared, str) and declared.strip() and declared.strip() != first:
        src, alt = declared.strip(), str(article.extra.get("image_alt") or "")
        width = height = ""
    elif body_shown:
        return None
    else:
        if tag is None:
            return None
        src, alt = attrs.get("src", ""), attrs.get("alt", "")
        width, height = attrs.get("width", ""), attrs.get("height", "")
        alt = Markup(alt).unescape()  # the body is HTML: &amp; would be escaped twice
    src = urljoin(site_url, src)
    if urlsplit(src).scheme not in ("http", "https"):
        return None
    w = min(int(width), CARD_WIDTH) if width.isdigit() and int(width) > 0 else CARD_WIDTH
    h = round(int(height) * w / int(width)) if height.isdigit() and width.isdigit() and int(width) > 0 else None
    return {"src": src, "alt": alt or article.title, "width": w, "height": h}


def mail_html(html: str) -> Markup:
    """The article's sanitised HTML with its headings sized below the card's title and its
    images no wider than the mail (inline styles: the ones mail clients keep)."""
    def sized(m: re.Match) -> str:
        level = int(m.group(1))
        return (f'<h{level} style="font-size:{HEADING_STYLE[level]};line-height:1.3;'
                f'margin:20px 0 8px">')

    html = HEADING.sub(sized, html)
    return Markup(html.replace("<img ", '<img style="max-width:100%;height:auto" '))


def plain_text(html: str) -> str:
    """The article's body as plain text for the text/plain part (paragraphs, lists, headings
    kept apart; inscriptis lays HTML out as a browser would)."""
    from inscriptis import get_text

    lines = [line.rstrip() for line in get_text(html).strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
