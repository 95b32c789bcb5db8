"""Every feed parses back with feedparser, carries what readers need, and pages through history."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
from conftest import write_config

from publisher.site.build import build

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
BASE = "http://127.0.0.1:8000/"


def local(out: Path, url: str) -> Path:
    """The file in the output folder that a site URL is served from."""
    assert url.startswith(BASE), url
    path = urlsplit(url).path.lstrip("/")
    return out / (path + "index.html" if path.endswith("/") or not path else path)


@pytest.fixture
def built(site, load):
    config = load(site[0])
    build(config, NOW)
    return config, config.path("output")


def test_every_feed_parses_without_bozo_and_every_link_resolves(built):
    config, out = built
    feeds = sorted((out / "feeds").rglob("*.xml"))
    assert {f.name for f in feeds} >= {"all.atom.xml", "all.rss.xml", "nouvelles.atom.xml",
                                       "nouvelles.rss.xml", "economie.atom.xml"}
    for f in feeds:
        parsed = feedparser.parse(f.read_bytes())
        assert not parsed.bozo, (f, parsed.get("bozo_exception"))
        assert parsed.feed.get("language", "fr").startswith("fr")
        for entry in parsed.entries:
            assert local(out, entry.link).is_file(), entry.link
            assert entry.id.startswith("tag:127.0.0.1,")
        for link in parsed.feed.links:
            if link.rel in ("self", "alternate"):
                assert local(out, link.href).is_file(), link.href


def test_atom_entries_carry_everything_a_reader_needs(built):
    _, out = built
    parsed = feedparser.parse((out / "feeds" / "all.atom.xml").read_bytes())
    assert parsed.version == "atom10"
    assert parsed.feed.title == "Le Fil"
    rels = {link.rel for link in parsed.feed.links}
    assert {"self", "alternate"} <= rels
    seed = next(e for e in parsed.entries if "Corée du Nord" in e.title)
    assert seed.published.startswith("2024-11-02T08:00:00+01:00")
    assert seed.updated and seed.author and seed.tags[0].term == "Nouvelles"
    assert seed.summary.startswith("La Russie et la Corée du Nord")
    html = seed.content[0].value
    assert "<h3>Les enjeux géopolitiques de cette alliance</h3>" in html
    assert b'xml:lang="fr"' in (out / "feeds" / "all.atom.xml").read_bytes()
    # newest first, drafts and the future-dated article left out
    dates = [e.published_parsed for e in parsed.entries]
    assert dates == sorted(dates, reverse=True) and len(dates) == 5
    assert not any("brouillon" in e.title.lower() or "2027" in e.title for e in parsed.entries)


def test_rss_and_json_feed(built):
    _, out = built
    rss = feedparser.parse((out / "feeds" / "all.rss.xml").read_bytes())
    assert rss.version == "rss20" and rss.feed.language == "fr" and len(rss.entries) == 5
    assert rss.entries[0].guid.startswith("tag:")
    assert [e.author for e in rss.entries[1:2]] == ["Léa Dubois"]  # dc:creator
    feed = json.loads((out / "feeds" / "all.json").read_text(encoding="utf-8"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1" and feed["language"] == "fr"
    assert feed["feed_url"] == BASE + "feeds/all.json"
    assert all(i["content_html"] and i["id"].startswith("tag:") for i in feed["items"])
    assert len(feed["items"]) == 5 and feed["home_page_url"] == BASE
    for item in feed["items"]:  # JSON Feed 1.1 required and recommended item fields
        assert {"id", "url", "title", "date_published", "authors"} <= set(item)
        datetime.fromisoformat(item["date_published"])


def test_summary_only_feeds_and_websub_hub(tmp_path, site, load):
    cfg = write_config(tmp_path, "feeds:\n  atom: summary\n  websub_hub: https://hub.example/\n",
                       content=site[1])
    config = load(cfg)
    build(config, NOW)
    atom = (config.path("output") / "feeds" / "all.atom.xml").read_bytes()
    parsed = feedparser.parse(atom)
    assert not parsed.bozo and "content" not in parsed.entries[0]
    assert any(link.rel == "hub" and link.href == "https://hub.example/" for link in parsed.feed.links)
    assert "content" in feedparser.parse((config.path("output") / "feeds" / "all.rss.xml").read_bytes()).entries[0]


def test_archives_let_a_reader_page_through_the_whole_history(tmp_path, load):
    content = tmp_path / "content"
    content.mkdir()
    for i in range(23):
        (content / f"a{i:02}.md").write_text(
            f"---\ntitle: Article {i}\ndate: 2024-01-{i + 1:02}\ncategory: Sport\n---\nTexte {i}.\n",
            encoding="utf-8")
    config = load(write_config(tmp_path, "feeds:\n  limit: 5\n"))
    build(config, NOW)
    out = config.path("output")
    for kind in ("atom.xml", "rss.xml"):
        seen, url = set(), BASE + f"feeds/all.{kind}"
        current = feedparser.parse(local(out, url).read_bytes())
        assert len(current.entries) == 5
        while url:
            doc = feedparser.parse(local(out, url).read_bytes())
            assert not doc.bozo
            seen |= {e.id for e in doc.entries}
            url = next((link.href for link in doc.feed.get("links", []) if link.rel == "prev-archive"), None)
            if url and "archive" in url:
                archived = local(out, url).read_bytes()
                assert b"<fh:archive" in archived and b'rel="current"' in archived
        assert len(seen) == 23, kind
    feed = json.loads((out / "feeds" / "all.json").read_text())
    assert feed["next_url"].endswith("feeds/archive/all-4.json") and len(feed["items"]) == 5


def test_rebuild_with_nothing_changed_rewrites_nothing(built):
    config, out = built
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    report = build(config, NOW)
    assert report.up_to_date and report.written == 0
    report = build(config, NOW, use_cache=False)  # even a full rebuild keeps bytes and mtimes
    assert report.written == 0
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    assert before == after


def test_pages_have_autodiscovery_and_french_dates(built):
    _, out = built
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'type="application/atom+xml"' in index and 'type="application/rss+xml"' in index
    assert "2 novembre 2024" in index
    article = next(out.glob("2024/11/l-alliance-strategique-*/index.html"))
    assert "coree" in article.parent.name
    text = article.read_text(encoding="utf-8")
    assert "<h2>Une alliance stratégique aux enjeux géopolitiques majeurs</h2>" in text
    assert 'href="http://127.0.0.1:8000/feeds/nouvelles.atom.xml"' in text
    category = (out / "category" / "economie" / "index.html").read_text(encoding="utf-8")
    assert "Budget 2025" in category


def test_a_category_named_like_a_site_feed_does_not_overwrite_it(tmp_path):
    """A category "Podcast" (or "All") would write feeds/podcast.rss.xml over the podcast's:
    its feeds get `.category` in their name instead."""
    from site_fixtures import site_config

    episode = ("---\ntitle: Épisode\ndate: 2025-04-01 09:00\ncategory: Émissions\nenclosure:\n"
               "  url: /media/e.mp3\n  length: 2345678\n  type: audio/mpeg\n---\n\nUn épisode.\n")
    files = {"ep.md": episode,
             "p.md": "---\ntitle: Un article\ndate: 2025-03-01\ncategory: Podcast\n---\nTexte.\n",
             "a.md": "---\ntitle: Un autre\ndate: 2025-03-02\ncategory: All\n---\nTexte.\n"}
    config = site_config(tmp_path, files, "feeds:\n  podcast:\n    image: /c.png\n"
                                          "    category: Science\n")
    assert build(config, NOW).warnings == []
    out = config.path("output")
    podcast = feedparser.parse((out / "feeds/podcast.rss.xml").read_bytes())
    assert [e.title for e in podcast.entries] == ["Épisode"]
    category = feedparser.parse((out / "feeds/podcast.category.rss.xml").read_bytes())
    assert [e.title for e in category.entries] == ["Un article"]
    site = feedparser.parse((out / "feeds/all.atom.xml").read_bytes())
    assert len(site.entries) == 3
    assert "feeds/all.category.atom.xml" in (out / "category/all/index.html").read_text()
