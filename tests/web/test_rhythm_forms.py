"""The subscribe form and the preferences page choose the rhythm (issue 17), over HTTP."""

from __future__ import annotations

import httpx
import pytest
from delivery_fixtures import LiveServer, write_articles
from test_web import NOW, link, local, mails

from publisher.audience.tokens import Tokens
from publisher.store import open_store
from publisher.web.app import create_app

RHYTHMS = """newsletter:
  rhythms:
    instant: on-publish
    daily: "0 7 * * *"
    weekly: "0 8 * * mon"
  default_rhythm: weekly
"""


@pytest.fixture
def web(project):
    write_articles(project.root / "content", NOW)
    (project.root / "public").mkdir()
    project.write(f"paths:\n  content: {project.root / 'content'}\n"
                  f"  output: {project.root / 'public'}\n" + RHYTHMS)
    config = project.config()
    store = open_store(config)
    with LiveServer(create_app(config, store=store)) as server:
        with httpx.Client(base_url=server.url, follow_redirects=True) as client:
            client.store, client.project = store, project
            yield client


def test_the_subscribe_form_chooses_the_rhythm_applied_on_confirmation(web):
    page = web.get("/subscribe")
    assert "À quel rythme" in page.text and "chaque article dès sa publication" in page.text
    assert 'value="weekly" checked' in page.text  # the default
    web.post("/subscribe", data={"email": "nina@example.org", "rhythm": "instant"})
    web.post("/subscribe", data={"email": "odd@example.org", "rhythm": "hourly"})  # not one
    [first, second] = mails(web.project, web.store)
    for msg in (first, second):
        assert web.get(local(link(msg, "confirm"))).status_code == 200
    assert web.store.get_subscriber("nina@example.org").rhythm == "instant"
    assert web.store.get_subscriber("odd@example.org").rhythm == ""  # the default rhythm


def test_the_preferences_page_changes_the_rhythm(web):
    web.store.add_subscriber("a@example.org", "", [], "active", NOW)
    token = Tokens("test-secret-0123456789abcdefghijklmnopqrstuvwxyz").make("preferences",
                                                                            "a@example.org")
    page = web.get(f"/preferences?token={token}")
    assert 'value="weekly" checked' in page.text and 'value="daily">' in page.text
    saved = web.post("/preferences", data={"token": token, "rhythm": "daily"})
    assert saved.status_code == 200 and 'value="daily" checked' in saved.text
    assert web.store.get_subscriber("a@example.org").rhythm == "daily"
    web.post("/preferences", data={"token": token, "rhythm": "yearly"})  # not one: unchanged
    assert web.store.get_subscriber("a@example.org").rhythm == "daily"
