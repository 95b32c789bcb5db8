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


FRENCH_DATE = (r"<time[^>]*>\d{1,2} (janvier|février|mars|avril|mai|juin|juillet|août"
               r"|septembre|octobre|novembre|décembre) \d{4}</time>")
ENGLISH_DATE = (r"<time[^>]*>(January|February|March|April|May|June|July|August"
                r"|September|October|November|December) \d{1,2}, \d{4}</time>")


@pytest.mark.parametrize("name", ["all.atom.xml", "all.rss.xml"])
@pytest.mark.parametrize(("lang", "said", "unsaid", "visit", "date"), [
    ("fr", FRENCH, ENGLISH, "Visiter le site <span", FRENCH_DATE),
    ("en", ENGLISH, FRENCH, "Visit the site <span", ENGLISH_DATE),
])
def test_a_feed_reads_in_its_language(site, load, name, lang, said, unsaid, visit, date):
    config = load(site[0])
    config = config.model_copy(update={"site": config.site.model_copy(update={"lang": lang})})
    build(config, NOW)
    page = _styled(config, name)
    assert all(s in page for s in said) and not any(s in page for s in unsaid)
    assert visit in page  # the space before the arrow
    assert f'<html lang="{lang}">' in page
    assert re.search(date, page)
