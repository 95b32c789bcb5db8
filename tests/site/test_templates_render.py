"""The default templates: every page finds its feeds, loads nothing from elsewhere, links its
categories right, and feed.xsl turns both Atom and RSS into a readable French page."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import ROOT, write_config
from lxml import etree

from publisher.site.build import build

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
SITE = "http://127.0.0.1:8000/"

EXTRA = """---
title: "Un article mis à jour"
date: 2024-10-01 09:00
updated: 2024-10-03 10:00
category: Culture
tags: [essai, typographie]
---
Premier paragraphe.

## Une section

### Une sous-section

Texte.
"""


class Page(HTMLParser):
    """Tags and attributes of one HTML page, for simple assertions."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def all(self, tag: str, **match: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in match.items())]


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    import shutil

    from publisher.config import load_config

    folder = tmp_path_factory.mktemp("site")
    shutil.copytree(ROOT / "content", folder / "content")
    (folder / "content" / "zz-extra.md").write_text(EXTRA, encoding="utf-8")
    cfg = write_config(folder, "pages:\n  per_page: 2\n")
    build(load_config(cfg, env={}), NOW)
    return folder / "public"


def html_pages(out: Path) -> list[Path]:
    pages = [p for p in out.rglob("index.html") if not p.relative_to(out).as_posix().startswith("newsletter/")]
    assert len(pages) >= 4
    return pages


def test_every_page_has_feed_autodiscovery_icon_and_one_h1(out):
    for path in html_pages(out):
        page = Page(path.read_text(encoding="utf-8"))
        types = {a["type"] for a in page.all("link", rel="alternate")}
        assert {"application/atom+xml", "application/rss+xml"} <= types, path
        assert page.all("link", rel="stylesheet"), path
        assert page.all("link", rel="icon"), path
        assert page.all("html")[0].get("lang"), path
        assert len(page.all("h1")) == 1, path


def test_no_external_assets(out):
    for path in html_pages(out):
        page = Page(path.read_text(encoding="utf-8"))
        assert not page.all("script"), path
        for tag, attrs in page.tags:
            if tag == "link" and attrs.get("rel") in ("stylesheet", "icon", "preload"):
                assert attrs["href"].startswith(SITE), (path, attrs)
            if tag in ("img", "source", "video", "audio", "iframe") and attrs.get("src"):
                assert attrs["src"].startswith(SITE), (path, attrs)
    css = (out / "static" / "style.css").read_text(encoding="utf-8")
    assert "@import" not in css and "@font-face" not in css
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", css)
    assert (out / "static" / "favicon.svg").is_file()


def test_category_links_point_at_category_pages(out):
    for path in html_pages(out):
        for href in re.findall(r'class="cat" href="([^"]*)"', path.read_text(encoding="utf-8")):
            assert href.startswith(SITE) and href.count("://") == 1, (path, href)
            target = out / href.removeprefix(SITE) / "index.html"
            assert target.is_file(), (path, href)


def test_article_page_shows_dates_tags_and_headings(out):
    page = next(p for p in html_pages(out) if "un-article-mis-a-jour" in p.as_posix())
    text = page.read_text(encoding="utf-8")
    assert "mis à jour le" in text and "3 octobre 2024" in text and "1er octobre 2024" in text  # CLDR says "1 octobre"
    assert "#typographie" in text
    assert "<h2>Une section</h2>" in text and "<h3>Une sous-section</h3>" in text
    assert 'rel="canonical"' in text


def test_pagination_in_french(out):
    first = (out / "index.html").read_text(encoding="utf-8")
    second = (out / "page" / "2" / "index.html").read_text(encoding="utf-8")
    assert 'rel="next"' in first and "Plus anciens" in first and 'rel="prev"' not in first
    assert 'rel="prev"' in second and "Plus récents" in second
    assert "Lire la suite" in first


@pytest.mark.parametrize("name", ["all.atom.xml", "all.rss.xml"])
def test_feed_xsl_renders_atom_and_rss(out, name):
    xsl = out / "feeds" / "feed.xsl"
    assert xsl.is_file()
    feed = out / "feeds" / name
    raw = feed.read_text(encoding="utf-8")
    assert f'<?xml-stylesheet type="text/xsl" href="{SITE}feeds/feed.xsl"?>' in raw
    html = str(etree.XSLT(etree.parse(str(xsl)))(etree.parse(str(feed))))
    doc = etree.parse(str(feed)).getroot()
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = doc.xpath("a:entry/a:title/text()", namespaces=ns) or doc.xpath("channel/item/title/text()")
    assert titles
    assert "Ceci est un flux" in html
    assert "Le Fil" in html
    assert "<style>" in html and "prefers-color-scheme: dark" in html
    for title in titles:
        assert title.replace("&", "&amp;").replace("'", "&#39;") in html or title in html
    assert "1er octobre 2024" in html  # the extra article's date, in French, as the pages write it
    assert not re.search(r'(src|href)="https?://(?!127\.0\.0\.1:8000/)', html.replace('href="data:', ""))
