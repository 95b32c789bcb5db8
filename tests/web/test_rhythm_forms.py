"""The subscribe form and the preferences page choose the rhythm (issue 17), over HTTP."""

from __future__ import annotations

import pytest
from delivery_fixtures import RHYTHMS, serve_project
from test_web import NOW, link, local, mails

from publisher.audience.tokens import Tokens


@pytest.fixture
def web(project):
    yield from serve_project(project, NOW, RHYTHMS)


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
