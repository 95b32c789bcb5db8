"""feed.xsl, the stylesheet a browser applies to a feed: it speaks the feed's language.

Applied with lxml's XSLT (libxslt, the engine browsers used), to the feeds a build writes."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from lxml import etree

import publisher.site
from publisher.site.build import build

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
THEME = Path(publisher.site.__file__).parent / "default_theme"

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


@pytest.mark.parametrize(("lang", "shown"), [("fr", "1er novembre 2024"),
                                             ("en", "November 1, 2024")])
def test_the_first_of_the_month_is_written_as_the_pages_write_it(lang, shown):
    from publisher.content.dates import long_date

    assert long_date(datetime(2024, 11, 1), lang) == shown
    xsl = etree.XSLT(etree.parse(str(THEME / "feed.xsl")))
    atom = (f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{lang}"><title>T</title>'
            "<entry><title>E</title><published>2024-11-01T08:00:00+01:00</published></entry>"
            "</feed>")
    rss = (f"<rss><channel><title>T</title><language>{lang}</language><item><title>E</title>"
           "<pubDate>Fri, 01 Nov 2024 08:00:00 +0100</pubDate></item></channel></rss>")
    for feed in (atom, rss):
        assert f">{shown}</time>" in str(xsl(etree.fromstring(feed)))
