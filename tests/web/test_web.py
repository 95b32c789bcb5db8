"""The web routes over real HTTP (uvicorn on loopback): double opt-in, one-click, static files."""

from __future__ import annotations

import email
import re
import time
from datetime import datetime, timezone
from email import policy

import pytest
from delivery_fixtures import serve_project

from publisher.audience.tokens import Tokens

NOW = datetime.now(timezone.utc)


@pytest.fixture
def web(project):
    (project.root / "public").mkdir()
    (project.root / "public" / "index.html").write_text("<h1>Home</h1>", encoding="utf-8")
    yield from serve_project(project, NOW)


def settled(store, timeout: float = 10.0) -> None:
    """Wait for the web server's background sender to handle every queued notice."""
    from sqlalchemy import func, select

    from publisher.store.tables import notices

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.engine.begin() as conn:
            if not conn.execute(select(func.count()).select_from(notices)
                                .where(notices.c.status == "queued")).scalar():
                return
        time.sleep(0.02)
    raise AssertionError("the background sender did not send the queued notices")


def mails(project, store=None) -> list[email.message.EmailMessage]:
    if store is not None:
        settled(store)
    folder = project.root / "var" / "outbox"
    files = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns) if folder.exists() else []
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in files]


def link(msg, path: str) -> str:
    text = msg.get_body(("plain",)).get_content()
    return re.search(rf"https://news\.example\.org/{path}\?token=\S+", text).group(0)


def local(url: str) -> str:
    return url.replace("https://news.example.org", "")


def test_double_opt_in_then_welcome(web):
    page = web.get("/subscribe")
    assert page.status_code == 200 and 'name="email"' in page.text and "Tech" in page.text
    assert '<html lang="fr">' in page.text and "S’abonner" in page.text
    assert 'href="https://news.example.org/static/style.css"' in page.text  # the site's look
    answer = web.post("/subscribe", data={"email": "New@Example.org", "name": "Nina",
                                          "categories": ["Tech"]})
    assert answer.status_code == 200 and "Vérifiez votre boîte de réception" in answer.text
    settled(web.store)
    sub = web.store.get_subscriber("new@example.org")
    assert sub.status == "pending" and sub.categories == ("Tech",)
    [confirmation] = mails(web.project, web.store)
    confirmed = web.get(local(link(confirmation, "confirm")))
    assert confirmed.status_code == 200 and "Inscription confirmée" in confirmed.text
    assert web.store.get_subscriber("new@example.org").status == "active"
    welcome = mails(web.project, web.store)[-1]
    assert welcome["Subject"] == "Example News · bienvenue, votre inscription est confirmée"
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "newsletter/" in welcome.get_body(("plain",)).get_content()
    again = web.get(local(link(confirmation, "confirm")))  # a second click changes nothing
    assert again.status_code == 200 and len(mails(web.project, web.store)) == 2


def test_same_answer_whether_the_address_is_known_or_not(web):
    web.store.add_subscriber("known@example.org", "", [], "active", NOW)
    known = web.post("/subscribe", data={"email": "known@example.org"})
    unknown = web.post("/subscribe", data={"email": "unknown@example.org"})
    assert known.status_code == unknown.status_code == 200 and known.text == unknown.text
    settled(web.store)
    assert web.store.get_subscriber("known@example.org").status == "active"


def test_a_bad_address_is_named(web):
    answer = web.post("/subscribe", data={"email": "nope"})
    assert answer.status_code == 400 and "«\u00a0nope\u00a0» n’est pas une adresse e-mail valide" in answer.text


def test_subscribe_is_rate_limited(web):
    codes = [web.post("/subscribe", data={"email": f"r{i}@example.org"}).status_code for i in range(7)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    limited = web.post("/subscribe", data={"email": "r@example.org"})
    assert "Trop de tentatives" in limited.text


def test_forged_or_expired_tokens_answer_400_and_change_nothing(web, monkeypatch):
    web.store.add_subscriber("p@example.org", "", [], "pending", NOW)
    forged = Tokens("another-secret").make("confirm", "p@example.org", expires=True)
    answer = web.get(f"/confirm?token={forged}")
    assert answer.status_code == 400 and "Ce lien n’est pas valide" in answer.text
    import time as real_time

    old = real_time.time() - 49 * 3600
    monkeypatch.setattr("publisher.audience.tokens.time.time", lambda: old)
    expired = Tokens("test-secret-0123456789abcdefghijklmnopqrstuvwxyz").make("confirm", "p@example.org", expires=True)
    monkeypatch.undo()
    answer = web.get(f"/confirm?token={expired}")
    assert answer.status_code == 400 and "Ce lien a expiré" in answer.text
    assert web.store.get_subscriber("p@example.org").status == "pending"
    web.store.add_subscriber("a@example.org", "", [], "active", NOW)
    bad = web.post("/unsubscribe?token=" + Tokens("x").make("unsubscribe", "a@example.org"),
                   data={"List-Unsubscribe": "One-Click"})
    assert bad.status_code == 400 and web.store.get_subscriber("a@example.org").status == "active"


def test_one_click_unsubscribe(web):
    web.store.add_subscriber("a@example.org", "", [], "active", NOW)
    token = Tokens("test-secret-0123456789abcdefghijklmnopqrstuvwxyz").make("unsubscribe", "a@example.org")
    page = web.get(f"/unsubscribe?token={token}")
    assert page.status_code == 200 and "<button" in page.text
    assert web.store.get_subscriber("a@example.org").status == "active"  # a GET changes nothing
    done = web.post(f"/unsubscribe?token={token}", data={"List-Unsubscribe": "One-Click"},
                    follow_redirects=False)
    assert done.status_code == 200 and "Vous êtes désabonné·e" in done.text
    assert web.store.get_subscriber("a@example.org").status == "unsubscribed"


def test_preferences_choose_categories(web):
    web.store.add_subscriber("a@example.org", "", [], "active", NOW)
    token = Tokens("test-secret-0123456789abcdefghijklmnopqrstuvwxyz").make("preferences", "a@example.org")
    page = web.get(f"/preferences?token={token}")
    assert page.status_code == 200 and 'value="Art"' in page.text
    saved = web.post("/preferences", data={"token": token, "categories": ["Art", "x" * 50_000]})
    assert saved.status_code == 200 and "Préférences enregistrées" in saved.text
    assert web.store.get_subscriber("a@example.org").categories == ("Art",)  # only the site's


def test_public_files_answer_304_to_conditional_gets(web):
    first = web.get("/")
    assert first.status_code == 200 and "Home" in first.text
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert web.get("/", headers={"If-None-Match": etag}).status_code == 304
    assert web.get("/index.html", headers={"If-Modified-Since": modified}).status_code == 304
    assert web.get("/missing.xml").status_code == 404


def test_subscribe_never_changes_a_known_address_before_confirmation(web):
    web.store.add_subscriber("u@example.org", "Old", ["Art"], "active", NOW)
    web.store.update_subscriber("u@example.org", status="unsubscribed")
    answer = web.post("/subscribe", data={"email": "u@example.org", "name": "Mallory",
                                          "categories": ["Tech", "Nope"]})
    assert answer.status_code == 200
    settled(web.store)
    sub = web.store.get_subscriber("u@example.org")
    assert (sub.status, sub.name, sub.categories) == ("unsubscribed", "Old", ("Art",))
    [confirmation] = mails(web.project, web.store)
    url = local(link(confirmation, "confirm"))
    assert web.get(url).status_code == 200  # the person confirms: exactly their request
    sub = web.store.get_subscriber("u@example.org")
    assert (sub.status, sub.name, sub.categories) == ("active", "Mallory", ("Tech",))


def test_unknown_categories_are_dropped(web):
    web.post("/subscribe", data={"email": "n@example.org", "categories": ["tech", "Evil<script>"]})
    settled(web.store)
    assert web.store.get_subscriber("n@example.org").categories == ("Tech",)


def test_at_most_three_confirmations_an_hour_per_address(web):
    web.store.add_subscriber("p@example.org", "", [], "pending", NOW)
    answers = [web.post("/subscribe", data={"email": "p@example.org"}) for _ in range(5)]
    assert {a.status_code for a in answers} == {200} and len({a.text for a in answers}) == 1
    assert len(mails(web.project, web.store)) == 3
