"""Delivery status notifications (RFC 3464) from a Maildir, an mbox or an IMAP mailbox:
hard bounces counted per subscriber, who is marked bounced past `mail.bounce_threshold`.

Each report counts once (keyed by its Message-ID and recipient), so processing the same
mailbox again changes nothing.
"""

from __future__ import annotations

import email
import hashlib
import imaplib
import mailbox
import os
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import Message
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urlsplit

from publisher.errors import PublisherError
from publisher.store import Store


class BounceError(PublisherError):
    """A bounce source that cannot be read: names it."""


@dataclass(frozen=True)
class Bounce:
    email: str
    kind: str  # hard | soft
    status: str  # e.g. 5.1.1
    reason: str


def parse_dsn(msg: Message) -> list[Bounce]:
    """The failed recipients of one delivery status notification; [] for any other message."""
    if msg.get_content_type() != "multipart/report":
        return []
    found = []
    for part in msg.walk():
        if part.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        blocks = part.get_payload()
        if isinstance(blocks, str):  # unparsed: parse the header blocks ourselves
            blocks = [email.message_from_string(b) for b in blocks.replace("\r\n", "\n").split("\n\n") if b.strip()]
        for block in blocks[1:] if len(blocks) > 1 else blocks:
            recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
            address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
            action = str(block.get("Action", "")).strip().lower()
            status = str(block.get("Status", "")).strip().split(" ")[0]
            if not address or "@" not in address or action not in ("failed", "delayed"):
                continue
            kind = "hard" if action == "failed" and status.startswith("5") else "soft"
            reason = " ".join(str(block.get("Diagnostic-Code", "")).split()) or status
            found.append(Bounce(address, kind, status, reason))
    return found


def messages(source: str) -> Iterator[bytes]:
    """Raw messages of a Maildir or mbox path, or an imap(s)://user@host[:port]/FOLDER URL
    (password from the URL or PUBLISHER_IMAP_PASSWORD)."""
    if source.startswith(("imap://", "imaps://")):
        yield from _imap(source)
        return
    path = Path(source)
    if path.is_dir():
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise BounceError(f"{path}: not a Maildir (no cur/ or new/ folder)")
        box: mailbox.Mailbox = mailbox.Maildir(path, factory=None, create=False)
    elif path.is_file():
        box = mailbox.mbox(path, create=False)
    else:
        raise BounceError(f"{source}: no such Maildir, mbox file or IMAP URL")
    for key in box.iterkeys():
        yield box.get_bytes(key)


def _imap(source: str) -> Iterator[bytes]:
    url = urlsplit(source)
    folder = unquote(url.path.lstrip("/")) or "INBOX"
    password = unquote(url.password) if url.password else os.environ.get("PUBLISHER_IMAP_PASSWORD", "")
    try:
        cls = imaplib.IMAP4_SSL if url.scheme == "imaps" else imaplib.IMAP4
        conn = cls(url.hostname or "localhost", url.port or (993 if url.scheme == "imaps" else 143))
        if url.username:
            conn.login(unquote(url.username), password)
        typ, _ = conn.select(folder, readonly=True)
        if typ != "OK":
            raise BounceError(f"IMAP {url.hostname}: no folder {folder!r}")
        _, data = conn.search(None, "ALL")
        for num in data[0].split():
            _, parts = conn.fetch(num, "(RFC822)")
            for part in parts:
                if isinstance(part, tuple):
                    yield part[1]
        conn.logout()
    except (imaplib.IMAP4.error, OSError) as exc:
        raise BounceError(f"IMAP {url.hostname}:{url.port or ''}: {exc}") from None


@dataclass
class BounceReport:
    read: int = 0
    reports: int = 0
    hard: int = 0
    soft: int = 0
    bounced: list[str] = field(default_factory=list)  # subscribers now in the bounced state
    unsubscribed: list[str] = field(default_factory=list)  # who wrote to the mailto: address


def unsubscribe_request(msg: Message, address: str | None) -> str | None:
    """The sender of a mail to List-Unsubscribe's mailto: `address` (RFC 2369) whose subject
    says unsubscribe (as the mailto: link sets it: a reader's reply to the newsletter, often
    to the same address, is not a request), else None. Auto-replies (RFC 3834) are not."""
    if not address:
        return None
    from email.utils import getaddresses

    to = {a.lower() for _, a in getaddresses(msg.get_all("To", []) + msg.get_all("Cc", []))}
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower() != "no"
    if address.lower() not in to or auto or "unsubscribe" not in str(msg.get("Subject", "")).lower():
        return None
    sender = getaddresses([str(msg.get("Reply-To") or msg.get("From") or "")])
    return sender[0][1].lower() if sender and "@" in sender[0][1] else None


def process(store: Store, source: str, now: datetime, threshold: int,
            unsubscribe_address: str | None = None) -> BounceReport:
    """Count the bounce reports in `source`; a mail to `unsubscribe_address` unsubscribes
    its sender (what the one-click link does)."""
    from publisher.audience.subscribers import unsubscribe

    report = BounceReport()
    for raw in messages(source):
        report.read += 1
        msg = email.message_from_bytes(raw, policy=policy.compat32)
        bounces = parse_dsn(msg)
        if not bounces:
            sender = unsubscribe_request(msg, unsubscribe_address)
            found = store.get_subscriber(sender) if sender else None
            if found is not None and found.status != "unsubscribed":
                unsubscribe(store, sender, now)
                report.unsubscribed.append(sender)
            continue
        report.reports += 1
        key = str(msg.get("Message-ID") or hashlib.sha256(raw).hexdigest())
        for b in bounces:
            before = store.get_subscriber(b.email)
            after = store.record_bounce(b.email, b.kind, b.reason, f"dsn:{key}:{b.email}"[:400],
                                        now, threshold)
            if after is None:
                continue
            counted = (after.hard_bounces != before.hard_bounces) if before else False
            if b.kind == "hard" and counted:
                report.hard += 1
            elif b.kind == "soft":
                report.soft += 1
            if before and before.status != "bounced" and after.status == "bounced":
                report.bounced.append(after.email)
    return report
