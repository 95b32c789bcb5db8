"""The built site over real HTTP (uvicorn on loopback): the themed 404 with status 404, 301 from
an alias and from a moved article's old address, and feeds shown as HTML to a browser only."""

from __future__ import annotations

import httpx
import pytest
from delivery_fixtures import LiveServer
from site_fixtures import NOW, PUBLICATION, write_tree

from publisher.site.build import build
from publisher.store import open_store
from publisher.web.app import create_app
from publisher.web.site_files import prefers_html

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
READER = "application/atom+xml,application/rss+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7"


@pytest.fixture
def served(project):
    write_tree(project.root / "content", PUBLICATION)
    project.write(f"paths:\n  content: {project.root / 'content'}\n"
                  f"  output: {project.root / 'public'}\n")
    config = project.config()
    build(config, NOW)
    with LiveServer(create_app(config, store=open_store(config))) as server:
        with httpx.Client(base_url=server.url) as client:
            yield client


def test_a_missing_page_is_the_themed_404(served):
    answer = served.get("/no/such/page/")
    assert answer.status_code == 404
    assert "Cette page n’existe pas" in answer.text and 'class="masthead"' in answer.text
    assert served.get("/404.html").status_code == 404


def test_aliases_answer_301(served):
    for old in ("/old/episode-1/", "/old/episode-1/index.html", "/old/episode-1", "/ep1.html"):
        answer = served.get(old)
        assert answer.status_code == 301, old
        assert answer.headers["location"] == "https://news.example.org/2025/03/episode-1-la-mer/"
    assert served.get("/_redirects").status_code == 404  # the server's file, not a page


def test_a_browser_gets_a_page_a_reader_gets_the_feed(served):
    page = served.get("/feeds/all.atom.xml", headers={"Accept": BROWSER})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Ceci est un flux" in page.text and "Zèbres et zébus" in page.text
    assert "https://news.example.org/feeds/all.atom.xml" in page.text
    assert "Accept" in page.headers["vary"].split(", ")  # and Accept-Encoding: gzip
    for accept in (READER, "*/*", ""):
        feed = served.get("/feeds/all.atom.xml", headers={"Accept": accept})
        assert feed.status_code == 200 and feed.text.startswith("<?xml"), accept
        assert "Accept" in feed.headers["vary"].split(", ")
    for path in ("/feeds/all.rss.xml", "/feeds/all.json"):
        view = served.get(path, headers={"Accept": BROWSER})
        assert "Zèbres et zébus" in view.text and "<html" in view.text, path


def test_prefers_html():
    assert prefers_html(BROWSER) and prefers_html("text/html")
    assert not prefers_html(READER) and not prefers_html("*/*") and not prefers_html("")
    assert not prefers_html("text/html;q=0.5,application/atom+xml")
    assert not prefers_html("text/html;q=bad")
