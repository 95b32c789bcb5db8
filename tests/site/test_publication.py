"""The site a publication expects, built and read back: tag and author pages and feeds (parsed
with feedparser), the sitemap, robots.txt, 404.html, social tags, podcast enclosures, aliases
and remembered URLs."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree

import feedparser
import pytest
from site_fixtures import NOW, PUBLICATION, site_config

from publisher.content.collate import collated
from publisher.site.build import build

PODCAST = """feeds:
  podcast:
    image: /images/cover.png
    category: Science
"""


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Built once for the tests that only read it."""
    config = site_config(tmp_path_factory.mktemp("publication"), PUBLICATION, PODCAST)
    report = build(config, NOW)
    assert report.warnings == [] and report.articles == 3
    return config, config.path("output")


def test_tag_and_author_pages_and_their_feeds(published):
    _, out = published
    page = (out / "tag/ecologie/index.html").read_text()
    assert "<h1>#Écologie</h1>" in page and "Zèbres et zébus" in page and "Épisode 1" in page
    assert "Le budget" not in page
    for suffix in (".atom.xml", ".rss.xml"):
        feed = feedparser.parse((out / f"feeds/ecologie.tag{suffix}").read_bytes())
        assert not feed.bozo, (suffix, feed.get("bozo_exception"))
        assert [e.title for e in feed.entries] == ["Épisode 1\u00a0: la mer", "Zèbres et zébus"]
    items = json.loads((out / "feeds/ecologie.tag.json").read_bytes())["items"]
    assert [i["title"] for i in items] == ["Épisode 1\u00a0: la mer", "Zèbres et zébus"]
    # Two authors of one article: each has a page and feeds with it.
    for slug in ("lea-dubois", "claire-martin"):
        assert "Zèbres et zébus" in (out / f"author/{slug}/index.html").read_text()
        feed = feedparser.parse((out / f"feeds/{slug}.author.atom.xml").read_bytes())
        assert "Zèbres et zébus" in [e.title for e in feed.entries]
    article = (out / "2025/02/zebres-et-zebus/index.html").read_text()
    assert 'href="http://127.0.0.1:8000/tag/zoologie/" rel="tag"' in article
    assert 'href="http://127.0.0.1:8000/author/claire-martin/" rel="author"' in article


def test_categories_and_tags_in_every_entry_and_category_json_feeds(published):
    _, out = published
    atom = feedparser.parse((out / "feeds/all.atom.xml").read_bytes())
    rss = feedparser.parse((out / "feeds/all.rss.xml").read_bytes())
    for feed in (atom, rss):
        entry = next(e for e in feed.entries if e.title == "Zèbres et zébus")
        assert [t.term for t in entry.tags] == ["Science", "Écologie", "zoologie"]
    science = json.loads((out / "feeds/science.json").read_bytes())
    assert [i["title"] for i in science["items"]] == ["Zèbres et zébus"]
    assert science["items"][0]["tags"] == ["Science", "Écologie", "zoologie"]


def test_sitemap_robots_and_404(published):
    _, out = published
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    urls = {u.findtext("s:loc", namespaces=ns): u.findtext("s:lastmod", namespaces=ns)
            for u in ElementTree.parse(out / "sitemap.xml").getroot()}
    for path in ("2025/03/episode-1-la-mer/", "2025/02/zebres-et-zebus/", "2025/01/le-budget/"):
        assert "http://127.0.0.1:8000/" + path in urls
    assert urls["http://127.0.0.1:8000/2025/01/le-budget/"].startswith("2025-01-15T08:00:00")
    assert "http://127.0.0.1:8000/old/episode-1/" not in urls  # redirects are not pages
    robots = (out / "robots.txt").read_text()
    assert "Sitemap: http://127.0.0.1:8000/sitemap.xml" in robots
    page = (out / "404.html").read_text()
    assert "Cette page n’existe pas" in page and 'href="http://127.0.0.1:8000/"' in page


def test_social_tags_and_listing_images(published):
    _, out = published
    episode = (out / "2025/03/episode-1-la-mer/index.html").read_text()
    assert '<meta property="og:image" content="http://127.0.0.1:8000/images/cover.png">' in episode
    assert '<meta name="twitter:card" content="summary_large_image">' in episode
    assert '<link rel="canonical" href="http://127.0.0.1:8000/2025/03/episode-1-la-mer/">' in episode
    science = (out / "2025/02/zebres-et-zebus/index.html").read_text()  # its first image
    assert ('<meta property="og:image" content="http://127.0.0.1:8000/2025/02/zebres-et-zebus/'
            'images/zebre.jpg">') in science
    home = (out / "index.html").read_text()
    assert home.count('class="teaser-img"') == 2
    assert '<link rel="canonical" href="http://127.0.0.1:8000/">' in home


def test_podcast_enclosures_with_itunes_tags(published):
    _, out = published
    podcast = feedparser.parse((out / "feeds/podcast.rss.xml").read_bytes())
    assert not podcast.bozo
    assert podcast.feed.image.href.endswith("cover.png")
    [episode] = podcast.entries
    [enclosure] = episode.enclosures
    assert enclosure.href == "http://127.0.0.1:8000/media/episode-1.mp3"
    assert enclosure.length == "12345678" and enclosure.type == "audio/mpeg"
    assert episode.itunes_duration == "01:02:03"
    raw = (out / "feeds/podcast.rss.xml").read_text()
    assert '<itunes:category text="Science"/>' in raw and "<itunes:owner>" in raw
    assert "<itunes:explicit>false</itunes:explicit>" in raw
    atom = (out / "feeds/all.atom.xml").read_text()
    assert re.search(r'<link href="http://127.0.0.1:8000/media/episode-1.mp3" rel="enclosure" '
                     r'type="audio/mpeg" length="12345678"/>', atom)
    item = json.loads((out / "feeds/all.json").read_bytes())["items"][0]
    assert item["attachments"] == [{"url": "http://127.0.0.1:8000/media/episode-1.mp3",
                                    "mime_type": "audio/mpeg", "size_in_bytes": 12345678,
                                    "duration_in_seconds": 3723}]


def test_aliases_and_a_moved_article_get_redirects(tmp_path):
    config = site_config(tmp_path, PUBLICATION)
    build(config, NOW)
    out = config.path("output")
    for alias in ("old/episode-1/index.html", "ep1.html"):
        page = (out / alias).read_text()
        assert '<meta http-equiv="refresh" content="0; url=http://127.0.0.1:8000/2025/03/episode-1-la-mer/">' in page
        assert '<link rel="canonical" href="http://127.0.0.1:8000/2025/03/episode-1-la-mer/">' in page
    source = tmp_path / "content" / "economie.md"
    source.write_text(source.read_text().replace("title: Le budget", "title: Le budget voté"))
    build(config, NOW)
    assert (out / "2025/01/le-budget-vote/index.html").exists()
    moved = (out / "2025/01/le-budget/index.html").read_text()
    assert 'url=http://127.0.0.1:8000/2025/01/le-budget-vote/"' in moved
    redirects = (out / "_redirects").read_text().splitlines()
    assert "/2025/01/le-budget/ http://127.0.0.1:8000/2025/01/le-budget-vote/ 301" in redirects
    assert "/ep1.html http://127.0.0.1:8000/2025/03/episode-1-la-mer/ 301" in redirects
    build(config, NOW, use_cache=False)  # remembered beyond the build cache
    assert (out / "2025/01/le-budget/index.html").exists()


def test_a_users_robots_txt_wins(tmp_path):
    config = site_config(tmp_path, {**PUBLICATION, "robots.txt": "User-agent: *\nDisallow: /\n"})
    report = build(config, NOW)
    assert report.articles == 3 and report.warnings == []  # not read as an article
    assert (config.path("output") / "robots.txt").read_text() == "User-agent: *\nDisallow: /\n"


def test_bad_podcast_front_matter_is_one_line(tmp_path):
    config = site_config(tmp_path, {"a.md": "---\ntitle: A\ndate: 2025-01-01\n"
                                            "enclosure: https://x.org/a\nduration: long\n---\nA\n"})
    report = build(config, NOW)
    assert report.warnings == ["a.md:4: 'enclosure' has no MIME type and none can be guessed "
                               "from 'https://x.org/a' (add e.g. type: audio/mpeg)"]


def test_names_sort_as_the_language_does():
    names = ["Science", "Économie", "zoologie", "Culture", "économie", "Œuvres", "Politique"]
    assert collated(names) == ["Culture", "Économie", "économie", "Œuvres", "Politique",
                               "Science", "zoologie"]
