"""The dashboard's queries: settings, keyset pages of subscribers, one subscriber's history,
growth by week and each issue's outcomes.

Every page query is bounded and rides an index of migration 0007, so the subscribers page
answers in milliseconds at a million rows: pages are keyset (`id < after`, newest first,
never OFFSET), a search is a prefix of the address or of the name (a range on an index),
a status filter walks (status, id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, and_, exists, func, or_, select

from publisher.models import Subscriber
from publisher.store.records import _subscriber
from publisher.store.tables import bounces, deliveries, issues, subscribers

_TOP = "\U0010ffff"  # above every character: [q, q + _TOP) is "starts with q"


@dataclass(frozen=True, slots=True)
class DeliveryLine:
    """One issue as one subscriber met it."""

    issue_number: int
    subject: str
    status: str
    attempts: int
    error: str
    sent: datetime | None


@dataclass(frozen=True, slots=True)
class BounceLine:
    kind: str
    reason: str
    created: datetime


@dataclass(frozen=True, slots=True)
class IssueStats:
    """An issue's outcomes: deliveries by status, bounces and those who left after it."""

    id: int
    number: int
    subject: str
    created: datetime
    sent: datetime | None
    counts: dict[str, int] = field(default_factory=dict)
    bounced: int = 0
    unsubscribed_after: int = 0
    rhythm: str = ""  # numbers are per rhythm (newsletter.rhythms)

    @property
    def key(self) -> str:
        """Its name in the dashboard's URLs: "7", or "daily-7" for a rhythm's."""
        return f"{self.rhythm}-{self.number}" if self.rhythm else str(self.number)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class AdminQueries:
    engine: Engine

    # -- subscribers ------------------------------------------------------------------------

    def subscriber_page(self, q: str = "", status: str = "", category: str = "",
                        after: int | None = None, limit: int = 50) -> tuple[list[Subscriber], bool]:
        """Up to `limit` subscribers, newest first, after the id `after`: (them, more?).

        `q` is a prefix of the address, or (without an @) of the name, case-insensitive."""
        s = subscribers
        query = select(s).order_by(s.c.id.desc()).limit(limit + 1)
        if after is not None:
            query = query.where(s.c.id < after)
        if status:
            query = query.where(s.c.status == status)
        if category:
            query = query.where(s.c.categories.contains(json.dumps(category), autoescape=True))
        q = q.strip().lower()
        if q:
            by_email = self._prefix(s.c.email, q)
            query = query.where(by_email if "@" in q else or_(by_email,
                                                              self._prefix(func.lower(s.c.name), q)))
        with self.engine.begin() as conn:
            rows = conn.execute(query).all()
        return [_subscriber(r) for r in rows[:limit]], len(rows) > limit

    def _prefix(self, column, prefix: str):
        if self.engine.dialect.name == "postgresql":  # text_pattern_ops indexes serve LIKE
            return column.startswith(prefix, autoescape=True)
        return and_(column >= prefix, column < prefix + _TOP)  # SQLite: a range on the index

    def subscriber_by_id(self, subscriber_id: int) -> Subscriber | None:
        with self.engine.begin() as conn:
            row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()
        return _subscriber(row) if row else None

    def subscriber_deliveries(self, subscriber_id: int, limit: int = 200) -> list[DeliveryLine]:
        d, i = deliveries, issues
        query = (select(i.c.number, i.c.subject, d.c.status, d.c.attempts, d.c.error, d.c.sent)
                 .join(i, i.c.id == d.c.issue_id).where(d.c.subscriber_id == subscriber_id)
                 .order_by(i.c.number.desc()).limit(limit))
        with self.engine.begin() as conn:
            return [DeliveryLine(*row) for row in conn.execute(query).all()]

    def subscriber_bounces(self, subscriber_id: int, limit: int = 200) -> list[BounceLine]:
        b = bounces
        query = (select(b.c.kind, b.c.reason, b.c.created).where(b.c.subscriber_id == subscriber_id)
                 .order_by(b.c.created.desc()).limit(limit))
        with self.engine.begin() as conn:
            return [BounceLine(*row) for row in conn.execute(query).all()]

    def signups_between(self, bounds: list[datetime]) -> list[int]:
        """New subscribers in each [bounds[k], bounds[k+1]): one index range count each."""
        c = subscribers.c.created
        with self.engine.begin() as conn:
            return [conn.execute(select(func.count()).where(c >= lo, c < hi)).scalar() or 0
                    for lo, hi in zip(bounds, bounds[1:])]

    # -- issues -----------------------------------------------------------------------------

    def issue_stats(self, limit: int = 20, number: int | None = None,
                    rhythm: str = "") -> list[IssueStats]:
        """The last `limit` issues (or issue `number` of `rhythm`), newest first, with their
        outcomes.

        "Unsubscribed after": recipients of the issue who left between it and the next one."""
        i, d, s = issues, deliveries, subscribers
        query = select(i.c.id, i.c.number, i.c.subject, i.c.created, i.c.sent, i.c.rhythm)
        if number is not None:
            query = query.where(i.c.number == number, i.c.rhythm == rhythm)
        with self.engine.begin() as conn:
            rows = conn.execute(query.order_by(i.c.created.desc(), i.c.number.desc())
                                .limit(limit)).all()
            found = []
            for row in rows:
                counts = dict(conn.execute(select(d.c.status, func.count())
                                           .where(d.c.issue_id == row.id)
                                           .group_by(d.c.status)).all())
                key = f"smtp:{row.id}:"  # bounces recorded by the ledger name their issue
                bounced = conn.execute(select(func.count()).select_from(bounces).where(
                    bounces.c.source >= key, bounces.c.source < key + _TOP)).scalar() or 0
                until = conn.execute(select(func.min(i.c.created))
                                     .where(i.c.number > row.number,
                                            i.c.rhythm == row.rhythm)).scalar()
                left = select(func.count()).select_from(s).where(
                    s.c.unsubscribed >= row.created,
                    exists().where(d.c.issue_id == row.id, d.c.subscriber_id == s.c.id,
                                   d.c.status == "sent"))
                if until is not None:
                    left = left.where(s.c.unsubscribed < until)
                found.append(IssueStats(row.id, row.number, row.subject, row.created, row.sent,
                                        counts, bounced, conn.execute(left).scalar() or 0,
                                        row.rhythm))
        return found

    def issue_failures(self, issue_id: int, limit: int = 100) -> list[tuple[str, str, int]]:
        """(address, reason, attempts) of the failed deliveries of an issue, up to `limit`."""
        d, s = deliveries, subscribers
        query = (select(s.c.email, d.c.error, d.c.attempts).join(s, s.c.id == d.c.subscriber_id)
                 .where(d.c.issue_id == issue_id, d.c.status == "failed")
                 .order_by(d.c.id).limit(limit))
        with self.engine.begin() as conn:
            return [tuple(row) for row in conn.execute(query).all()]
