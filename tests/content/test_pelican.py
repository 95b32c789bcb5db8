"""A Pelican content folder builds as it is: folder categories, {filename} and {static} links,
Status: hidden and draft, pages/ without dates, .rst, extra/, continued metadata lines, and
Pelican's entry ids with feeds.id_style: pelican."""

from __future__ import annotations

import feedparser
import pytest
from site_fixtures import NOW, PELICAN, site_config

from publisher.site.build import build


@pytest.fixture(scope="module")
def pelican(tmp_path_factory):
    """Built once: the tests only read it."""
    config = site_config(tmp_path_factory.mktemp("pelican"), PELICAN, "feeds:\n  id_style: pelican\n")
    report = build(config, NOW)
    return config, config.path("output"), report


def test_folders_are_categories_and_links_resolve(pelican):
    config, out, report = pelican
    assert report.warnings == [] and report.articles == 3  # orsay, budget, notes
    assert (out / "category/culture/index.html").exists()
    assert (out / "category/economie/index.html").exists()
    orsay = (out / "2024/11/a-orsay/index.html").read_text()
    assert 'href="http://127.0.0.1:8000/2024/11/budget-2025/"' in orsay  # {filename}
    assert 'src="http://127.0.0.1:8000/images/orsay.jpg"' in orsay  # {static}
    assert "filename" not in orsay and "%7B" not in orsay
    assert (out / "images/orsay.jpg").exists()


def test_a_continued_summary_stays_in_the_summary(pelican):
    _, out, _ = pelican
    feed = feedparser.parse((out / "feeds/all.atom.xml").read_bytes())
    orsay = next(e for e in feed.entries if e.title == "À Orsay")
    assert orsay.summary == "Une exposition sur trois lignes de résumé."
    assert "sur trois lignes" not in orsay.content[0].value


def test_hidden_draft_and_static_pages(pelican):
    _, out, _ = pelican
    assert (out / "2024/11/un-brouillon-cache/index.html").exists()  # hidden: built...
    listed = (out / "index.html").read_text() + (out / "feeds/all.atom.xml").read_text()
    listed += (out / "sitemap.xml").read_text() + (out / "category/culture/index.html").read_text()
    assert "brouillon" not in listed  # ...but listed nowhere
    assert not (out / "2024/11/en-cours").exists()  # draft
    about = (out / "pages/a-propos/index.html").read_text()
    assert "Qui nous sommes." in about and "<time" not in about
    assert "http://127.0.0.1:8000/pages/a-propos/" in (out / "sitemap.xml").read_text()


def test_extra_files_and_rst(pelican):
    _, out, _ = pelican
    assert (out / "robots.txt").read_text() == "User-agent: *\nDisallow: /private/\n"
    notes = (out / "2024/10/notes-de-lecture/index.html").read_text()
    assert "<em>reStructuredText</em>" in notes and "Lectures" in notes
    assert (out / "tag/livres/index.html").exists()


def test_entry_ids_are_pelicans(pelican):
    _, out, _ = pelican
    feed = feedparser.parse((out / "feeds/all.atom.xml").read_bytes())
    ids = {e.title: e.id for e in feed.entries}
    # feedgenerator's get_tag_uri(link, date): tag:{host},{date}:{path}/{fragment}
    assert ids["À Orsay"] == "tag:127.0.0.1,2024-11-12:/2024/11/a-orsay//"
    rss = feedparser.parse((out / "feeds/all.rss.xml").read_bytes())
    assert {e.title: e.id for e in rss.entries} == ids


def test_rst_without_docutils_is_one_line(tmp_path, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_docutils(name, *args, **kwargs):
        if name.startswith("docutils"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_docutils)
    config = site_config(tmp_path, {"notes.rst": PELICAN["notes.rst"]})
    report = build(config, NOW, use_cache=False)
    assert report.warnings == ["notes.rst:1: reStructuredText skipped: docutils is not "
                               "installed (pip install docutils)"]


def test_pelicans_own_urls(tmp_path):
    """With the README's settings, the pages are where Pelican put them and the ids are its."""
    config = site_config(tmp_path, PELICAN, """paths:
  article: "{slug}.html"
  page: "pages/{slug}.html"
  category: "category/{slug}.html"
  tag: "tag/{slug}.html"
  author: "author/{slug}.html"
feeds:
  id_style: pelican
""")  # a second `paths:` replaces the fixture's: content/ and public/ are then the defaults
    report = build(config, NOW)
    assert report.warnings == []
    out = config.path("output")
    for rel in ("a-orsay.html", "budget-2025.html", "pages/a-propos.html", "category/culture.html",
                "tag/peinture.html", "author/publisher.html", "feeds/culture.atom.xml"):
        assert (out / rel).is_file(), rel
    assert 'href="http://127.0.0.1:8000/budget-2025.html"' in (out / "a-orsay.html").read_text()
    feed = feedparser.parse((out / "feeds/all.atom.xml").read_bytes())
    assert "tag:127.0.0.1,2024-11-12:/a-orsay.html/" in [e.id for e in feed.entries]
