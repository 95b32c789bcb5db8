"""Every mail the product sends is DKIM-signed when a key is set (confirmation, welcome,
digest, test copy), each verified with dkimpy against the published key; welcome and digest
carry literal List-Unsubscribe (https and mailto) and List-Unsubscribe-Post; the mailto: is
advertised only when a mailbox is read for it, and a mail to it unsubscribes its sender."""

from __future__ import annotations

import base64
import mailbox
import re
import shutil
import subprocess
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from delivery_fixtures import write_articles

from publisher.cli import main
from publisher.store import open_store

NOW = datetime.now(timezone.utc)
pytestmark = pytest.mark.skipif(not shutil.which("openssl"), reason="openssl makes the test key")


@pytest.fixture
def signed(project, tmp_path):
    """A project with a DKIM key, a Maildir read for bounces and unsubscribe requests, a
    Feedback-ID; returns the DNS answer for the public key."""
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    mailbox.Maildir(tmp_path / "inbox", create=True)
    write_articles(project.root / "content", NOW)
    project.write(f"paths:\n  content: {project.root / 'content'}\n"
                  f"mail:\n  dkim_key: {key}\n  dkim_selector: s1\n"
                  f"  bounce_source: {tmp_path / 'inbox'}\n  feedback_id: 'issue:news:publisher'\n")
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def outbox(project) -> list[bytes]:
    files = sorted((project.root / "var" / "outbox").glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [p.read_bytes() for p in files]


def verify(data: bytes, record: bytes) -> bool:
    import dkim

    return dkim.verify(data, dnsfunc=lambda name, timeout=5: record if name == b"s1._domainkey.example.org." else None)


def head(data: bytes) -> str:
    return data.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ").replace(b"\r\n", b"\n").decode("ascii")


LITERAL = re.compile(r"(?m)^List-Unsubscribe: <https://news\.example\.org/unsubscribe\?token=[^>]+>, "
                     r"<mailto:news@example\.org\?subject=unsubscribe>$")


def test_confirmation_welcome_digest_and_test_copy_are_all_signed(project, signed):
    run = CliRunner().invoke
    assert run(main, ["subscribers", "add", "--pending", "ann@example.org"]).exit_code == 0
    [confirmation] = outbox(project)
    assert verify(confirmation, signed)

    from publisher.audience.notices import Notices
    from publisher.audience.tokens import tokens_for
    from publisher.mail.transport import make_transport

    config = project.config()
    store = open_store(config)
    sub = store.update_subscriber("ann@example.org", status="active")
    Notices(config, make_transport(config), tokens_for(config, store)).welcome(sub, None)
    welcome = outbox(project)[-1]
    assert verify(welcome, signed)
    assert LITERAL.search(head(welcome)) and "=?" not in head(welcome).split("List-Unsub")[1][:300]
    assert "\nList-Unsubscribe-Post: List-Unsubscribe=One-Click" in head(welcome)

    assert run(main, ["newsletter", "send"]).exit_code == 0
    digest = outbox(project)[-1]
    assert verify(digest, signed)
    assert LITERAL.search(head(digest)), head(digest)
    assert "\nList-Unsubscribe-Post: List-Unsubscribe=One-Click" in head(digest)
    assert "\nFeedback-ID: issue:news:publisher" in head(digest)

    assert run(main, ["newsletter", "send", "--to", "test@example.org"]).exit_code == 0
    assert verify(outbox(project)[-1], signed)


def test_a_mail_to_the_unsubscribe_address_unsubscribes_its_sender(project, signed, tmp_path):
    store = open_store(project.config())
    for address in ("ann@example.org", "bob@example.org"):
        store.add_subscriber(address, "", [], "active", NOW)
    box = mailbox.Maildir(tmp_path / "inbox", create=False)
    box.add(b"From: Ann <Ann@example.org>\r\nTo: news@example.org\r\nSubject: unsubscribe\r\n\r\n\r\n")
    box.add(b"From: bob@example.org\r\nTo: news@example.org\r\nSubject: Re: issue 3\r\n\r\nthanks!\r\n")
    done = CliRunner().invoke(main, ["bounces", "process"])
    assert done.exit_code == 0, done.output
    assert "1 unsubscribe requests" in done.output and "unsubscribed: ann@example.org" in done.output
    assert store.get_subscriber("ann@example.org").status == "unsubscribed"
    assert store.get_subscriber("bob@example.org").status == "active"  # a reply is no request


def test_without_a_mailbox_to_read_no_mailto_is_advertised(project):
    write_articles(project.root / "content", NOW)
    project.write(f"paths:\n  content: {project.root / 'content'}\n")
    open_store(project.config()).add_subscriber("ann@example.org", "", [], "active", NOW)
    assert CliRunner().invoke(main, ["newsletter", "send"]).exit_code == 0
    [digest] = outbox(project)
    assert "List-Unsubscribe: <https://" in head(digest) and "mailto:" not in head(digest)
