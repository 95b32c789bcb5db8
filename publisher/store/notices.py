"""The queue of transactional mails: a web request only inserts a row; the web server's
background sender claims rows under a lease, sends, and settles them. Settled rows stay a
while: they are what the per-mailbox and global limits on confirmation mails count."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, insert, or_, select, update

from publisher.store.tables import notices, subscribers


@dataclass(frozen=True)
class QueuedNotice:
    id: int
    kind: str  # subscribe | welcome
    email: str
    mailbox: str
    data: dict
    attempts: int


class NoticeQueue:
    engine: object

    def queue_notice(self, kind: str, email: str, mailbox: str, data: dict, now: datetime) -> None:
        """One INSERT, the same for every address: what the request does, whoever asks."""
        with self.engine.begin() as conn:
            conn.execute(insert(notices).values(kind=kind, email=email, mailbox=mailbox,
                                                data=json.dumps(data), created=now,
                                                status="queued", next_attempt=now))

    def claim_notices(self, now: datetime, lease: float, limit: int = 20) -> list[QueuedNotice]:
        """Up to `limit` due rows, held for `lease` seconds (another sender takes them after)."""
        due = (select(notices).where(
            notices.c.status == "queued", notices.c.next_attempt <= now,
            or_(notices.c.claimed_until.is_(None), notices.c.claimed_until < now))
            .order_by(notices.c.id).limit(limit))
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            rows = conn.execute(due).all()
            if rows:
                conn.execute(update(notices).where(notices.c.id.in_([r.id for r in rows]))
                             .values(claimed_until=now + timedelta(seconds=lease)))
        return [QueuedNotice(r.id, r.kind, r.email, r.mailbox, json.loads(r.data), r.attempts)
                for r in rows]

    def settle_notice(self, notice_id: int, status: str, now: datetime,
                      retry_at: datetime | None = None) -> None:
        """sent / skipped / limited / failed, or queued again for `retry_at`."""
        values = dict(claimed_until=None, attempts=notices.c.attempts + 1)
        if retry_at is not None:
            values.update(status="queued", next_attempt=retry_at)
        else:
            values.update(status=status, sent=now if status == "sent" else None)
        with self.engine.begin() as conn:
            conn.execute(update(notices).where(notices.c.id == notice_id).values(**values))

    def notices_sent(self, kind: str, since: datetime, mailbox: str | None = None) -> int:
        """Mails of `kind` sent since `since` (to one mailbox, or to anyone)."""
        query = select(func.count()).select_from(notices).where(
            notices.c.kind == kind, notices.c.status == "sent", notices.c.sent >= since)
        if mailbox is not None:
            query = query.where(notices.c.mailbox == mailbox)
        with self.engine.begin() as conn:
            return int(conn.execute(query).scalar() or 0)

    def purge(self, notices_before: datetime, pending_before: datetime) -> tuple[int, int]:
        """Forget settled notices created before `notices_before`, and subscriptions still
        pending since before `pending_before` (their link has expired): (notices, pending)."""
        with self.engine.begin() as conn:
            gone = conn.execute(delete(notices).where(
                notices.c.created < notices_before,
                or_(notices.c.status != "queued", notices.c.created < notices_before - timedelta(days=1)),
            )).rowcount
            expired = conn.execute(delete(subscribers).where(and_(
                subscribers.c.status == "pending", subscribers.c.created < pending_before,
                subscribers.c.confirmed.is_(None)))).rowcount
        return gone, expired
