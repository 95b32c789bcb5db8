"""An article in another language than the site's: its page text, date and typography, and its
feed entries, say so; the site's chrome stays in the site's language."""

from __future__ import annotations

from datetime import datetime, timezone

import feedparser

from publisher.site.build import build

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_an_english_article_on_a_french_site(site, load):
    cfg, content = site
    (content / "2024-06-01-hello.md").write_text(
        '---\ntitle: "Ann\'s \\"big\\" day"\ndate: 2024-06-01\nlang: en\ncategory: World\n---\n\n'
        "It's here: 8 000 people.\n", encoding="utf-8")
    config = load(cfg)
    build(config, NOW)
    out = config.path("output")
    page = next(out.glob("2024/06/*/index.html")).read_text(encoding="utf-8")
    assert '<article class="post" lang="en">' in page and "June 1, 2024" in page
    assert "Ann’s “big” day" in page and "It’s here: 8 000 people." in page  # no French spaces
    assert "À la une" in page  # the chrome: the site's language
    atom = feedparser.parse((out / "feeds" / "all.atom.xml").read_bytes())
    entry = next(e for e in atom.entries if e.title == "Ann’s “big” day")
    assert entry.title_detail.language == "en"
    other = next(e for e in atom.entries if e.title != "Ann’s “big” day")
    assert other.title_detail.language == "fr"
    rss = (out / "feeds" / "all.rss.xml").read_text(encoding="utf-8")
    assert rss.count("<dc:language>en</dc:language>") == 1
