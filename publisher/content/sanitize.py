"""Sanitise article HTML once, at read time, so pages, feeds and emails all get the same safe
markup with absolute links (feed readers and mail clients resolve nothing)."""

from __future__ import annotations

import re
import threading
from html import unescape
from urllib.parse import urljoin, urlsplit

import nh3

SAFE_SCHEMES = {"http", "https", "mailto"}
URL_ATTRIBUTES = {"href", "src", "cite", "poster"}
ALIGN = re.compile(r"text-align:\s*(left|right|center);?")  # the only style kept: table columns
TAGS = nh3.ALLOWED_TAGS | {"figure", "figcaption", "picture", "source", "video", "audio"}
ATTRIBUTES = {
    **nh3.ALLOWED_ATTRIBUTES,
    "img": {"src", "alt", "title", "width", "height", "loading"},
    "source": {"src", "srcset", "type", "media"},
    "video": {"src", "poster", "controls", "width", "height"},
    "audio": {"src", "controls"},
    "td": {"align", "colspan", "rowspan", "style"},
    "th": {"align", "colspan", "rowspan", "style"},
    "a": {"href", "hreflang", "title"},
}


_base = threading.local()  # the URL that relative links of the HTML being cleaned resolve to


def _absolutise(tag: str, attr: str, value: str) -> str | None:
    if attr == "style":
        return value if ALIGN.fullmatch(value.strip()) else None
    if attr not in URL_ATTRIBUTES:
        return value
    url = urljoin(_base.url, value.strip())
    scheme = urlsplit(url).scheme.lower()
    return url if scheme in SAFE_SCHEMES else None


# One Cleaner for every call: nh3.clean() converts the allow-lists on each call, which cost
# as much as the cleaning itself.
_CLEANER = nh3.Cleaner(tags=TAGS, attributes=ATTRIBUTES, url_schemes=SAFE_SCHEMES,
                       attribute_filter=_absolutise, link_rel=None)


def clean_html(html: str, base_url: str) -> str:
    """Drop scripts, event handlers and unsafe URLs; make every remaining URL absolute."""
    _base.url = base_url
    return _CLEANER.clean(html)


_TEXT_ONLY = nh3.Cleaner(tags=set())


def plain_text(html: str) -> str:
    """Text of an HTML fragment, for summaries and the plain-text email part."""
    return " ".join(unescape(_TEXT_ONLY.clean(html)).split())

