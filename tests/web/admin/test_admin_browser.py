"""The dashboard in headless Chromium: a wrong password, a login, the overview's count, a
search, and a form whose CSRF token was taken out refused."""

from __future__ import annotations

import shutil

import pytest
from admin_fixtures import PASSWORD, fill
from delivery_fixtures import LiveServer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def page(project, monkeypatch):
    if not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    from publisher.web.app import create_app

    monkeypatch.setenv("PUBLISHER_ADMIN_PASSWORD", PASSWORD)
    live = LiveServer()
    store = fill(project, live.url + "/")
    live.app = create_app(project.config(), store=store)
    with live, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        tab = browser.new_page()
        tab.base, tab.store = live.url, store
        yield tab
        browser.close()


def log_in(page, password: str = PASSWORD) -> None:
    page.goto(page.base + "/admin/")
    assert page.url.endswith("/admin/login")
    page.get_by_label("Mot de passe d’administration").fill(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")  # the keyboard alone: the form submits


def test_wrong_password_then_login_and_search(page):
    log_in(page, "not it")
    assert page.get_by_role("alert").inner_text() == "Mot de passe incorrect."
    page.goto(page.base + "/admin/subscribers")
    assert page.url.endswith("/admin/login")

    log_in(page)
    assert page.url.endswith("/admin/")
    assert page.locator("#total").inner_text() == "3 003"
    page.get_by_role("link", name="Abonnés", exact=True).click()
    page.get_by_label("L’adresse ou le nom commence par").fill("person02999@example.net")
    page.get_by_role("button", name="Chercher").click()
    page.wait_for_url("**/admin/subscribers?q=*")
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 1 and "person02999@example.net" in rows.inner_text()


def test_a_form_without_its_csrf_token_is_refused(page):
    log_in(page)
    sub = page.store.get_subscriber("reader1@example.org")
    page.goto(f"{page.base}/admin/subscribers/{sub.id}")
    page.evaluate("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())")
    with page.expect_response(lambda r: r.url.endswith("/unsubscribe")) as answer:
        page.get_by_role("button", name="Désabonner").click()
    assert answer.value.status == 403
    assert page.store.get_subscriber("reader1@example.org").status == "active"
    page.goto(f"{page.base}/admin/subscribers/{sub.id}")  # with its token, it works
    page.get_by_role("button", name="Désabonner").click()
    page.wait_for_selector("text=Désabonné.")
    assert page.store.get_subscriber("reader1@example.org").status == "unsubscribed"


def test_send_now_with_a_live_progress_bar(page, project):
    from datetime import datetime, timedelta, timezone

    when = (datetime.now(timezone.utc) - timedelta(minutes=1)).replace(microsecond=0)
    (project.root / "content" / "fresh.md").write_text(
        f"---\ntitle: Fresh\ndate: {when.isoformat()}\ncategory: Tech\n---\n\nNew.\n",
        encoding="utf-8")
    log_in(page)
    page.goto(page.base + "/admin/issues")
    page.get_by_role("link", name="Envoyer maintenant…").click()
    page.get_by_role("button", name="Oui, l’envoyer maintenant").click()
    page.wait_for_url("**/admin/send/progress")
    page.wait_for_selector("body[data-send=finished]", timeout=20_000)  # told by the SSE stream
    bar = page.locator("#send-bar")
    assert bar.get_attribute("max") and page.evaluate(
        "document.getElementById('send-bar').value") == 3
    assert page.get_by_role("status").inner_text().startswith("Terminé")
    assert page.store.issue_stats(number=2)[0].counts == {"sent": 3}
