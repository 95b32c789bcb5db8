"""Consent that holds, over real HTTP: a confirmation link opened again after the person
unsubscribed does not subscribe them again; the page says so and offers a new subscription."""

from __future__ import annotations

import time

from test_web import link, local, mails, web  # noqa: F401 - `web` is the fixture


def test_a_replayed_confirmation_after_unsubscribing_is_refused(web):  # noqa: F811
    web.post("/subscribe", data={"email": "zoe@example.org", "name": "Zoë"})
    [confirmation] = mails(web.project, web.store)
    assert web.get(local(link(confirmation, "confirm"))).status_code == 200
    welcome = mails(web.project, web.store)[-1]
    time.sleep(1.1)  # links carry whole seconds
    unsubscribe = local(link(welcome, "unsubscribe"))
    done = web.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert web.store.get_subscriber("zoe@example.org").status == "unsubscribed"
    sent = len(mails(web.project, web.store))

    replay = web.get(local(link(confirmation, "confirm")))
    assert replay.status_code == 410
    assert "avant votre désabonnement" in replay.text and 'href="https://news.example.org/subscribe"' in replay.text
    assert web.store.get_subscriber("zoe@example.org").status == "unsubscribed"
    assert len(mails(web.project, web.store)) == sent  # no welcome

    web.post("/subscribe", data={"email": "zoe@example.org"})  # asking again works
    fresh = mails(web.project, web.store)[-1]
    assert web.get(local(link(fresh, "confirm"))).status_code == 200
    assert web.store.get_subscriber("zoe@example.org").status == "active"


def test_the_opt_in_record_keeps_the_source_and_a_hash_of_the_client_address(web):  # noqa: F811
    web.post("/subscribe", data={"email": "nina@example.org"})
    mails(web.project, web.store)  # the background sender has taken the request
    sub = web.store.get_subscriber("nina@example.org")
    assert sub.optin_source == "form"
    assert sub.optin_client.startswith("hmac:") and "127.0.0.1" not in sub.optin_client
