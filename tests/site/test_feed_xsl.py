"""feed.xsl, the stylesheet a browser applies to a feed: it speaks the feed's language.

Applied with lxml's XSLT (libxslt, the engine browsers used), to the feeds a build writes."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from lxml import etree

from publisher.site.build import build

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)

FRENCH = ("Ceci est un flux", "Adresse du flux", "Visiter le site", "dans ce document")
ENGLISH = ("This is an", "Feed address:", "Visit the site", "in this document")


def _styled(config, name: str) -> str:
    out = config.path("output")
    transform = etree.XSLT(etree.parse(str(out / "feeds" / "feed.xsl")))
    return str(transform(etree.parse(str(out / "feeds" / name))))


@pytest.mark.parametrize("name", ["all.atom.xml", "all.rss.xml"])
def test_a_french_feed_reads_in_french(site, load, name):
    config = load(site[0])
    build(config, NOW)
    page = _styled(config, name)
    assert all(s in page for s in FRENCH) and not any(s in page for s in ENGLISH)
    assert "Visiter le site <span" in page
    assert '<html lang="fr">' in page
    assert re.search(r"<time[^>]*>\d{1,2} (janvier|février|mars|avril|mai|juin|juillet|août"
                     r"|septembre|octobre|novembre|décembre) \d{4}</time>", page)


@pytest.mark.parametrize("name", ["all.atom.xml", "all.rss.xml"])
def test_an_english_feed_reads_in_english(site, load, name):
    config = load(site[0])
    config = config.model_copy(update={"site": config.site.model_copy(update={"lang": "en"})})
    build(config, NOW)
    page = _styled(config, name)
    assert all(s in page for s in ENGLISH) and not any(s in page for s in FRENCH)
    assert "Visit the site <span" in page
    assert '<html lang="en">' in page
    assert re.search(r"<time[^>]*>(January|February|March|April|May|June|July|August"
                     r"|September|October|November|December) \d{1,2}, \d{4}</time>", page)
