"""Headless Chromium: subscribe through the form, confirm from the captured email, receive
an issue, unsubscribe with one click."""

from __future__ import annotations

import email
import re
import shutil
import time
from datetime import datetime, timezone
from email import policy

import pytest
from click.testing import CliRunner
from delivery_fixtures import LiveServer, write_articles

from publisher.cli import main
from publisher.store import open_store

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
pytestmark = [pytest.mark.slow, pytest.mark.browser]


def outbox(project) -> list[email.message.EmailMessage]:
    files = sorted((project.root / "var" / "outbox").glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in files]


def outbox_once_sent(project, timeout: float = 10.0) -> list[email.message.EmailMessage]:
    """The outbox once the app's background sender has mailed something: it sends after the
    page has answered, so the page's thanks can come before the mail."""
    deadline = time.monotonic() + timeout
    while not (mails := outbox(project)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return mails


@pytest.fixture
def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def server(project):
    from publisher.web.app import create_app

    write_articles(project.root / "content", datetime.now(timezone.utc))
    project.write(f"paths:\n  content: {project.root / 'content'}\n  output: {project.root / 'public'}\n")
    live = LiveServer()
    base = live.url + "/"  # the site's URL must be known before the app is made
    project.path.write_text(project.path.read_text().replace("https://news.example.org/", base))
    live.app = create_app(project.config())
    with live:
        yield base


def test_subscribe_confirm_receive_unsubscribe(project, server, browser):
    page = browser.new_page()
    page.goto(server + "subscribe")
    page.fill("#email", "reader@example.org")
    page.fill("#name", "Rémi")
    page.check("input[value='Tech']")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Vérifiez votre boîte de réception")

    [confirmation] = outbox_once_sent(project)
    text = confirmation.get_body(("plain",)).get_content()
    page.goto(re.search(r"http://\S+/confirm\?token=\S+", text).group(0))
    page.wait_for_selector("text=Inscription confirmée")
    store = open_store(project.config())
    assert store.get_subscriber("reader@example.org").status == "active"

    result = CliRunner().invoke(main, ["newsletter", "send"], catch_exceptions=False)
    assert "1 sent via outbox" in result.output
    issue = next(m for m in outbox(project) if "Article 0" in m.get_body(("plain",)).get_content())
    assert issue["To"].addresses[0].addr_spec == "reader@example.org"
    unsubscribe = re.search(r"<(http://[^>]+)>", issue["List-Unsubscribe"]).group(1)
    page.goto(unsubscribe)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Vous êtes désabonné·e")
    assert store.get_subscriber("reader@example.org").status == "unsubscribed"
