"""The dashboard over real HTTP: off without a password, a login in front of every page, the
session cookie's attributes, CSRF on every form, the figures it shows, the limit on logins."""

from __future__ import annotations

import json
import re

import pytest
from admin_fixtures import PASSWORD, AdminClient, fill
from delivery_fixtures import LiveServer

from publisher.store import open_store
from publisher.web.app import create_app

SITE = "https://news.example.org"  # redirects are built from site.url, never from Host


@pytest.fixture
def admin(project, monkeypatch):
    monkeypatch.setenv("PUBLISHER_ADMIN_PASSWORD", PASSWORD)
    store = fill(project)
    with LiveServer(create_app(project.config(), store=store)) as server:
        with AdminClient(base_url=server.url) as client:
            client.store, client.project = store, project
            yield client


@pytest.fixture
def admin_client():
    """The client class, for tests that serve an app of their own."""
    return AdminClient


def test_off_without_a_password(project, monkeypatch):
    monkeypatch.delenv("PUBLISHER_ADMIN_PASSWORD", raising=False)
    import httpx

    with LiveServer(create_app(project.config())) as server:
        assert httpx.get(server.url + "/admin/").status_code == 404
        assert httpx.get(server.url + "/admin/login").status_code == 404


def test_every_page_needs_a_login(admin):
    for path in ("/admin/", "/admin/subscribers", "/admin/issues", "/admin/issues/1",
                 "/admin/subscribers/1", "/admin/subscribers/1/export", "/admin/issues/next"):
        answer = admin.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == SITE + "/admin/login", path
    assert admin.get("/admin").status_code == 308


def test_wrong_password_gets_in_nowhere(admin):
    answer = admin.login("not the password")
    assert answer.status_code == 401 and "Mot de passe incorrect." in answer.text
    assert admin.get("/admin/").status_code == 303
    assert admin.get("/admin/subscribers?q=person").status_code == 303


def test_login_cookie_and_logout(admin):
    anonymous = admin.cookie
    answer = admin.login()
    assert answer.status_code == 303 and answer.headers["location"] == SITE + "/admin/"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" in cookie and "Path=/admin/" in cookie  # site.url is https
    assert admin.cookie != anonymous  # a new session at login: no fixation
    assert admin.get("/admin/").status_code == 200
    token, copied = admin.csrf(), admin.cookie
    assert admin.post("/admin/logout", data={"csrf": token}).status_code == 303
    assert admin.get("/admin/").status_code == 303
    admin.cookie = copied  # a cookie copied before the logout no longer gets in
    assert admin.get("/admin/").status_code == 303


def test_overview_shows_the_true_count_and_the_last_issue(admin):
    admin.login()
    page = admin.get("/admin/")
    total = sum(admin.store.count_subscribers().values())
    assert total == 3003
    assert re.search(r'id="total">3 003<', page.text)
    assert "<svg" in page.text and "<script" not in page.text
    assert "/admin/issues/1" in page.text


def test_search_finds_one_address_among_thousands(admin):
    admin.login()
    page = admin.get("/admin/subscribers", params={"q": "Person01234@example.net"})
    assert page.status_code == 200
    assert re.findall(r"person\d+@example\.net", page.text) == ["person01234@example.net"]
    by_name = admin.get("/admin/subscribers", params={"q": "reader 1"})
    assert "reader1@example.org" in by_name.text and "person" not in by_name.text


def test_keyset_pages_walk_every_subscriber_once(admin):
    admin.login()
    seen, url = [], "/admin/subscribers?status=pending"
    while url:
        page = admin.get(url).text
        seen += re.findall(r">(person\d+@example\.net)</a>", page)
        found = re.search(r'href="(/admin/subscribers\?[^"]*after=\d+)" rel="next"', page)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert len(seen) == len(set(seen)) == 3000


def test_issues_page_lists_a_sent_issue_with_its_counts(admin):
    admin.login()
    page = admin.get("/admin/issues").text
    row = re.search(r'<a href="/admin/issues/1">1</a>.*?</tr>', page, re.S).group(0)
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["3", "0", "0", "0", "0"]
    issue = admin.get("/admin/issues/1")
    assert issue.status_code == 200 and "https://news.example.org/newsletter/1/" in issue.text


def test_a_post_without_its_csrf_token_is_refused(admin):
    admin.login()
    sub = admin.store.get_subscriber("reader0@example.org")
    path = f"/admin/subscribers/{sub.id}/unsubscribe"
    assert admin.post(path, data={}).status_code == 403
    assert admin.post(path, data={"csrf": "forged"}).status_code == 403
    assert admin.store.get_subscriber("reader0@example.org").status == "active"
    done = admin.post(path, data={"csrf": admin.csrf()})
    assert done.status_code == 303
    assert admin.store.get_subscriber("reader0@example.org").status == "unsubscribed"
    stats = admin.store.issue_stats(number=1)[0]
    assert stats.unsubscribed_after == 1  # a recipient of issue 1 who left after it


def test_login_form_needs_csrf_too(admin):
    assert admin.post("/admin/login", data={"password": "correct horse battery staple"}
                      ).status_code == 403
    huge = admin.post("/admin/login", data={"csrf": admin.csrf("/admin/login"),
                                            "password": "x" * 100_000})
    assert huge.status_code == 413  # a stranger's body is bounded before it is read


def test_export_is_the_subscribers_data(admin):
    admin.login()
    sub = admin.store.get_subscriber("reader2@example.org")
    answer = admin.get(f"/admin/subscribers/{sub.id}/export")
    data = json.loads(answer.text)
    assert data["email"] == "reader2@example.org" and data["deliveries"][0]["status"] == "sent"
    assert "attachment" in answer.headers["content-disposition"]


def test_logins_are_rate_limited(admin):
    for _ in range(5):
        assert admin.login("wrong").status_code == 401
    assert admin.login().status_code == 429  # even the right one, for a while
    assert admin.get("/admin/").status_code == 303


def test_a_stored_password_from_the_command_line(project, monkeypatch, admin_client):
    from click.testing import CliRunner

    from publisher.cli import main

    monkeypatch.delenv("PUBLISHER_ADMIN_PASSWORD", raising=False)
    short = CliRunner().invoke(main, ["admin", "set-password", "--password", "short"])
    assert short.exit_code == 1 and "at least 10" in short.output
    ok = CliRunner().invoke(main, ["admin", "set-password", "--password", "a long passphrase"])
    assert ok.exit_code == 0, ok.output
    stored = open_store(project.config()).get_setting("admin_password")
    assert stored.startswith("scrypt$") and "a long passphrase" not in stored
    with LiveServer(create_app(project.config())) as server, \
            admin_client(base_url=server.url) as client:
        assert client.login("correct horse battery staple").status_code == 401
        assert client.login("a long passphrase").status_code == 303
        assert client.get("/admin/").status_code == 200
    removed = CliRunner().invoke(main, ["admin", "remove-password"])
    assert removed.exit_code == 0
    with LiveServer(create_app(project.config())) as server:
        import httpx

        assert httpx.get(server.url + "/admin/").status_code == 404


def test_send_now_confirms_then_streams_its_progress(admin):
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc) - timedelta(minutes=1)
    (admin.project.root / "content" / "fresh.md").write_text(
        f"---\ntitle: Fresh\ndate: {now.replace(microsecond=0).isoformat()}\ncategory: Tech\n"
        "---\n\nNew.\n", encoding="utf-8")
    admin.login()
    confirm = admin.get("/admin/send")
    assert confirm.status_code == 200 and "Aux 3 abonnés actifs qui le veulent." in confirm.text
    assert "Un nouveau numéro de 1 article." in confirm.text
    preview = admin.get("/admin/issues/next", params={"category": "Tech"})
    assert preview.status_code == 200 and "Fresh" in preview.text
    assert preview.headers["content-security-policy"] == "sandbox"  # the issue's HTML, inert
    assert admin.get("/admin/issues/next", params={"category": "Art"}).status_code == 404
    assert admin.post("/admin/send", data={}).status_code == 403  # no token: nothing sent
    assert admin.store.last_issue().number == 1
    started = admin.post("/admin/send", data={"csrf": admin.csrf("/admin/send")})
    assert started.status_code == 303 and started.headers["location"] == SITE + "/admin/send/progress"
    events = []
    with admin.stream("GET", "/admin/send/events", timeout=30) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    assert events[-1]["state"] == "finished", events
    assert events[-1]["done"] == events[-1]["total"] == 3
    stats = admin.store.issue_stats(number=2)[0]
    assert stats.counts == {"sent": 3}
    page = admin.get("/admin/send/progress").text
    assert 'value="3"' in page and "send-stop" not in page


def test_a_send_can_be_stopped(project, monkeypatch, admin_client):
    from datetime import datetime, timedelta, timezone

    monkeypatch.setenv("PUBLISHER_ADMIN_PASSWORD", PASSWORD)
    store = fill(project)
    store.insert_subscribers([(f"late{i}@example.org", "", []) for i in range(5)], "active",
                             datetime.now(timezone.utc))
    with project.path.open("a", encoding="utf-8") as cfg:
        cfg.write("mail:\n  rate_limit: 1\n")  # 8 messages take 8 s: time to stop it
    when = (datetime.now(timezone.utc) - timedelta(minutes=1)).replace(microsecond=0)
    (project.root / "content" / "fresh.md").write_text(
        f"---\ntitle: Fresh\ndate: {when.isoformat()}\ncategory: Tech\n---\n\nNew.\n",
        encoding="utf-8")
    with LiveServer(create_app(project.config(), store=store)) as server, \
            admin_client(base_url=server.url) as client:
        client.login()
        client.post("/admin/send", data={"csrf": client.csrf("/admin/send")})
        assert client.post("/admin/send/stop", data={}).status_code == 403
        assert client.post("/admin/send/stop",
                           data={"csrf": client.csrf("/admin/send/progress")}).status_code == 303
        with client.stream("GET", "/admin/send/events", timeout=30) as stream:
            events = [json.loads(line[6:]) for line in stream.iter_lines()
                      if line.startswith("data: ")]
    assert events[-1]["state"] == "stopped", events
    found = store.issue_stats(number=2)
    if found:  # stopped mid-send: the rest waits, queued
        assert found[0].sent is None and found[0].counts.get("queued", 0) > 0
    else:  # the stop came before the send thread had queued the issue: nothing went out
        assert store.issue_stats(number=1) and len(store.issue_stats()) == 1


def test_a_test_copy_goes_to_one_address_and_nowhere_else(admin):
    admin.login()
    outbox = admin.project.root / "var" / "outbox"
    before = set(outbox.glob("*.eml"))
    token = admin.csrf("/admin/issues")
    bad = admin.post("/admin/issues/test", data={"csrf": token, "email": "not an address"})
    assert bad.headers["location"] == SITE + "/admin/issues?error=bad-address"
    sent = admin.post("/admin/issues/test", data={"csrf": token, "email": "Me@Example.org"})
    assert sent.headers["location"] == SITE + "/admin/issues?done=test-sent"
    [new] = set(outbox.glob("*.eml")) - before
    assert b"To: me@example.org" in new.read_bytes()
    assert admin.store.issue_stats(number=1)[0].total == 3  # the ledger is untouched
    assert "La copie de test a été envoyée." in admin.get(sent.headers["location"].removeprefix(SITE)).text


def test_forget_erases_the_person_and_keeps_them_out(admin):
    from publisher.audience.consent import Suppressions
    from publisher.audience.tokens import tokens_for

    admin.login()
    sub = admin.store.get_subscriber("reader1@example.org")
    path = f"/admin/subscribers/{sub.id}/forget"
    unsure = admin.post(path, data={"csrf": admin.csrf()})  # the box is not ticked
    assert unsure.status_code == 303 and admin.store.get_subscriber("reader1@example.org")
    done = admin.post(path, data={"csrf": admin.csrf(), "sure": "yes"})
    assert done.status_code == 303 and done.headers["location"].endswith("done=forgotten")
    assert admin.store.get_subscriber("reader1@example.org") is None
    guard = Suppressions(admin.store, tokens_for(admin.project.config(), admin.store).digest)
    assert guard.blocked(["reader1@example.org"]) == {"reader1@example.org"}
    page = admin.get(done.headers["location"].removeprefix(SITE)).text
    assert "Oubliée" in page and "reader1@example.org" not in page


def test_a_rhythms_issues_have_their_own_numbers_and_pages(admin):
    from datetime import datetime, timezone

    from publisher.models import Issue

    daily, _ = admin.store.save_issue(Issue(1, datetime.now(timezone.utc), "Daily one", (),
                                            "<p>d</p>", "d", period="daily:x", rhythm="daily"))
    reader = admin.store.get_subscriber("reader1@example.org")
    admin.store.queue_shares(daily, [(reader.id, ())], datetime.now(timezone.utc))
    admin.login()
    page = admin.get("/admin/issues").text
    assert '<a href="/admin/issues/daily-1">daily 1</a>' in page
    assert '<a href="/admin/issues/1">1</a>' in page
    issue = admin.get("/admin/issues/daily-1")
    assert issue.status_code == 200 and "Daily one" in issue.text
    assert "https://news.example.org/newsletter/daily/1/" in issue.text
    assert "Daily one" not in admin.get("/admin/issues/1").text
    assert admin.get("/admin/issues/weekly-1").status_code == 404


def test_send_now_sends_the_rhythm_whose_button_was_pressed(project, monkeypatch, admin_client):
    from datetime import datetime, timedelta, timezone

    monkeypatch.setenv("PUBLISHER_ADMIN_PASSWORD", PASSWORD)
    content = project.root / "content"
    content.mkdir()
    project.write(f"paths:\n  content: {content}\n  output: {project.root / 'public'}\n"
                  'mail:\n  doctor: false\nnewsletter:\n  rhythms:\n    instant: on-publish\n'
                  '    daily: "0 7 * * *"\n')
    store = open_store(project.config())
    joined = datetime.now(timezone.utc) - timedelta(hours=2)
    store.add_subscriber("d@example.org", "", [], "active", joined, rhythm="daily")
    store.add_subscriber("i@example.org", "", [], "active", joined, rhythm="instant")
    (content / "fresh.md").write_text(
        f"---\ntitle: Fresh\ndate: {(joined + timedelta(hours=1)).replace(microsecond=0).isoformat()}"
        "\ncategory: Tech\n---\n\nNew.\n", encoding="utf-8")
    with LiveServer(create_app(project.config(), store=store)) as server:
        with admin_client(base_url=server.url) as admin:
            admin.login()
            page = admin.get("/admin/send").text
            assert "Envoyer le rythme daily maintenant" in page
            assert "Un nouveau numéro de 1 article." in page
            started = admin.post("/admin/send", data={"csrf": admin.csrf("/admin/send"),
                                                      "rhythm": "daily"})
            assert started.status_code == 303
            with admin.stream("GET", "/admin/send/events", timeout=30) as stream:
                events = [json.loads(line[6:]) for line in stream.iter_lines()
                          if line.startswith("data: ")]
            assert events[-1]["state"] == "finished", events
            assert "numéro daily 1\xa0: 1 envoyés" in events[-1]["text"]
    assert [i.rhythm for i in store.list_issues()] == ["daily"]
    assert store.issue_stats(number=1, rhythm="daily")[0].counts == {"sent": 1}
    store.close()
