"""RFC 3464 reports from a Maildir and an mbox; a hard bounce past the threshold bounces."""

from __future__ import annotations

import mailbox
from datetime import datetime, timezone

from click.testing import CliRunner

from publisher.cli import main
from publisher.store import open_store

NOW = datetime.now(timezone.utc)


def dsn(recipient: str, action: str = "failed", status: str = "5.1.1", n: int = 1) -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.example.net\r\nTo: news@example.org\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-{n}-{recipient}@mx>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} user unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\nSubject: Issue 1\r\n--B--\r\n"
    ).encode()


def test_maildir_hard_bounces_past_the_threshold(project, tmp_path):
    project.write("mail:\n  bounce_threshold: 2\n")
    store = open_store(project.config())
    store.add_subscriber("gone@example.org", "", [], "active", NOW)
    store.add_subscriber("full@example.org", "", [], "active", NOW)
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(dsn("gone@example.org", n=1))
    box.add(dsn("gone@example.org", n=2))
    box.add(dsn("full@example.org", "delayed", "4.2.2"))
    box.add(b"Subject: hello\r\n\r\nnot a report\r\n")
    result = CliRunner().invoke(main, ["bounces", "process", "--source", str(tmp_path / "Maildir")])
    assert result.exit_code == 0, result.output
    assert "4 messages read, 3 bounce reports: 2 hard, 1 soft" in result.output
    assert "bounced: gone@example.org" in result.output
    assert store.get_subscriber("gone@example.org").status == "bounced"
    assert store.get_subscriber("full@example.org").status == "active"
    again = CliRunner().invoke(main, ["bounces", "process", "--source", str(tmp_path / "Maildir")])
    assert "0 hard" in again.output  # each report counts once
    assert store.get_subscriber("gone@example.org").hard_bounces == 2


def test_mbox_source_from_config(project, tmp_path):
    path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(path)
    box.add(dsn("x@example.org"))
    box.flush()
    project.write(f"mail:\n  bounce_threshold: 1\n  bounce_source: {path}\n")
    open_store(project.config()).add_subscriber("x@example.org", "", [], "active", NOW)
    result = CliRunner().invoke(main, ["bounces", "process"])
    assert "bounced: x@example.org" in result.output


def test_a_missing_source_is_one_clear_line(project, tmp_path):
    result = CliRunner().invoke(main, ["bounces", "process", "--source", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "no such Maildir, mbox file or IMAP URL" in result.output
