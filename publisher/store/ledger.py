"""The ledger's queries: queue, claim under a lease, settle in batches, count."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Callable, Iterable

from sqlalchemy import Engine, and_, bindparam, func, literal, or_, select, update
from sqlalchemy.exc import DBAPIError

from publisher.models import Delivery, Issue, Subscriber
from publisher.store.coordination import insert_ignoring_conflicts
from publisher.store.engine import StoreError, safe_url
from publisher.store.records import _DELIVERY_COLUMNS, _delivery, _subscriber
from publisher.store.tables import deliveries, subscribers

# Built once: most of a settle's cost was making and compiling these (~0.5 ms a commit).
_IDS = bindparam("ids", expanding=True)
_SENT = (update(deliveries).where(deliveries.c.id.in_(_IDS))
         .values(status="sent", sent=bindparam("now"), error="", claimed_until=None))
_SKIPPED = update(deliveries).where(deliveries.c.id.in_(_IDS)).values(status="skipped",
                                                                      claimed_until=None)
_CLAIM = (update(deliveries).where(deliveries.c.id.in_(_IDS))
          .values(status="claimed", claimed_until=bindparam("until"),
                  claimed_by=bindparam("owner"), attempts=deliveries.c.attempts + 1,
                  first_attempt=func.coalesce(deliveries.c.first_attempt, bindparam("now"))))

_INACTIVE = select(subscribers.c.id).where(subscribers.c.id.in_(_IDS),
                                           subscribers.c.status != "active")


def _guarded(query):
    """A database that fails under a send (full disk, server gone) is one StoreError line,
    naming the database and the reason, not a driver traceback."""

    @functools.wraps(query)
    def run(self, *args, **kwargs):
        try:
            return query(self, *args, **kwargs)
        except DBAPIError as exc:
            lines = str(getattr(exc, "orig", exc)).strip().splitlines() or [type(exc).__name__]
            raise StoreError(f"database {safe_url(str(self.engine.url))}: {lines[0]}") from None

    return run


class Ledger:
    engine: Engine

    def list_subscribers(self, status: str | None = None) -> Iterable:  # in Store
        raise NotImplementedError

    # -- deliveries: the ledger -------------------------------------------------------------

    def queue_deliveries(
        self, issue: Issue, now: datetime, wants: Callable[[Subscriber], bool] | None = None,
        chunk: int = 1000,
    ) -> int:
        """One queued delivery per active subscriber who wants this issue's categories.

        Idempotent (unique issue+subscriber): run again after a crash, it adds only the missing.
        ON CONFLICT DO NOTHING, not NOT EXISTS: PostgreSQL plans an anti-join against the table
        being filled by scanning it once per subscriber (its statistics say it is empty), which
        took minutes for 100,000; the unique index makes each row's check one look-up.
        """
        d, s = deliveries, subscribers
        everyone = (  # those who follow every category: one INSERT ... SELECT
            select(literal(issue.id), s.c.id, literal("queued"))
            .where(s.c.status == "active", s.c.categories == "[]")
        )
        count = select(func.count()).where(d.c.issue_id == issue.id)
        with self.engine.begin() as conn:  # (rowcount of INSERT ... SELECT is not portable)
            before = conn.execute(count).scalar() or 0
            conn.execute(insert_ignoring_conflicts(conn, d)
                         .from_select(["issue_id", "subscriber_id", "status"], everyone))
            queued = (conn.execute(count).scalar() or 0) - before
        wanted = set(issue.categories)
        keep = wants or (lambda sub: sub.wants(wanted))
        last, rows = "", []
        while True:  # the others, page by page, through the predicate
            with self.engine.begin() as conn:
                page = conn.execute(
                    select(s).where(s.c.status == "active", s.c.categories != "[]",
                                    s.c.email > last).order_by(s.c.email).limit(chunk)
                ).all()
                rows = [dict(issue_id=issue.id, subscriber_id=r.id, status="queued")
                        for r in page if keep(_subscriber(r))]
                if rows:
                    added = conn.execute(insert_ignoring_conflicts(conn, d).returning(d.c.id), rows)
                    queued += len(added.all())
            if len(page) < chunk:
                break
            last = page[-1].email
        self.mark_issue(issue.id, queued=now)
        return queued

    @_guarded
    def claim_deliveries(
        self, issue_id: int, limit: int, lease: timedelta, now: datetime, owner: str = ""
    ) -> list[Delivery]:
        """Claim up to `limit` due deliveries of active subscribers under a lease.

        Due: queued and past `next_attempt`, or claimed by a sender whose lease ran out (it
        crashed). PostgreSQL lets many senders claim at once (FOR UPDATE SKIP LOCKED).
        """
        d, s = deliveries, subscribers
        due = or_(
            and_(d.c.status == "queued", or_(d.c.next_attempt.is_(None), d.c.next_attempt <= now)),
            and_(d.c.status == "claimed", d.c.claimed_until < now),
        )
        pick = (  # the rows themselves, with their subscriber: no second read after the update
            select(*_CLAIM_COLUMNS)
            .join(s, s.c.id == d.c.subscriber_id)
            .where(d.c.issue_id == issue_id, s.c.status == "active", due)
            .limit(limit)  # in index order: no sort of the whole issue at every claim
        )
        until = now + lease
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                pick = pick.with_for_update(of=d, skip_locked=True)
            rows = conn.execute(pick).all()
            if len(rows) < limit:  # the end of the issue: settle those who left meanwhile
                _skip_gone(conn, issue_id, now)
            if not rows:
                return []
            rows.sort(key=itemgetter(0))
            conn.execute(_CLAIM, {"ids": [r[0] for r in rows], "until": until, "owner": owner,
                                  "now": now})
        return [_claimed(r, until, now) for r in rows]

    @_guarded
    def settle_deliveries(
        self,
        sent: Iterable[int],
        retries: Iterable[tuple[int, str, datetime]],
        failures: Iterable[tuple[int, str]],
        now: datetime,
        skipped: Iterable[int] = (),
    ) -> None:
        """Record a batch of outcomes in one commit: sent, to retry at a time, failed (reason),
        skipped (nothing in the issue for them)."""
        sent, retries, failures, skipped = list(sent), list(retries), list(failures), list(skipped)
        d = deliveries
        with self.engine.begin() as conn:
            if skipped:
                conn.execute(_SKIPPED, {"ids": skipped})
            if sent:
                conn.execute(_SENT, {"ids": sent, "now": now})
            if retries:
                conn.execute(
                    update(d).where(d.c.id == bindparam("b_id")).values(
                        status="queued", error=bindparam("b_error"),
                        next_attempt=bindparam("b_next"), claimed_until=None,
                    ),
                    [{"b_id": i, "b_error": e[:2000], "b_next": t} for i, e, t in retries],
                )
            if failures:
                conn.execute(
                    update(d).where(d.c.id == bindparam("b_id")).values(
                        status="failed", error=bindparam("b_error"), claimed_until=None
                    ),
                    [{"b_id": i, "b_error": e[:2000]} for i, e in failures],
                )

    @_guarded
    def record_sent(self, ids: Iterable[int], now: datetime) -> None:
        """Mark sent what a sender's journal says the server accepted (its process died, or
        the database failed, before the ledger heard of it)."""
        ids, d = sorted(set(ids)), deliveries
        with self.engine.begin() as conn:
            for i in range(0, len(ids), 500):
                conn.execute(update(d).where(d.c.id.in_(ids[i:i + 500]), d.c.status != "sent")
                             .values(status="sent", sent=now, error="", claimed_until=None))

    @_guarded
    def claim_owners(self, issue_id: int) -> set[str]:
        """Who holds claims on this issue's deliveries ("host:pid" of each sender)."""
        d = deliveries
        with self.engine.begin() as conn:
            return set(conn.execute(
                select(d.c.claimed_by).distinct().where(d.c.issue_id == issue_id, d.c.status == "claimed")
            ).scalars())

    @_guarded
    def release_claims_of(self, issue_id: int, owner: str) -> int:
        """Give back every claim of a sender known to be dead (its messages may have gone out:
        at most these are sent twice). The attempt it made still counts."""
        d = deliveries
        with self.engine.begin() as conn:
            result = conn.execute(
                update(d).where(d.c.issue_id == issue_id, d.c.status == "claimed", d.c.claimed_by == owner)
                .values(status="queued", claimed_until=None, claimed_by="")
            )
        return result.rowcount

    @_guarded
    def release_deliveries(self, ids: Iterable[int]) -> None:
        """Give claimed deliveries back without counting the attempt (the send was stopped)."""
        ids = list(ids)
        if ids:
            with self.engine.begin() as conn:
                conn.execute(
                    update(deliveries).where(deliveries.c.id.in_(ids), deliveries.c.status == "claimed")
                    .values(status="queued", claimed_until=None, attempts=deliveries.c.attempts - 1)
                )

    def skip_inactive_deliveries(self, issue_id: int) -> int:
        """Settle the queued deliveries of people who left (unsubscribed, bounced) as skipped."""
        gone = select(subscribers.c.id).where(subscribers.c.status != "active")
        with self.engine.begin() as conn:
            result = conn.execute(
                update(deliveries)
                .where(deliveries.c.issue_id == issue_id, deliveries.c.status.in_(["queued", "claimed"]))
                .where(deliveries.c.subscriber_id.in_(gone))
                .values(status="skipped", claimed_until=None)
            )
        return result.rowcount

    @_guarded
    def inactive_subscribers(self, ids: Iterable[int]) -> set[int]:
        """Which of these subscribers are no longer active (unsubscribed, bounced): one query
        on primary keys, asked while a send holds their deliveries."""
        ids = list(ids)
        if not ids:
            return set()
        with self.engine.begin() as conn:
            return set(conn.execute(_INACTIVE, {"ids": ids}).scalars())

    @_guarded
    def delivery_counts(self, issue_id: int) -> dict[str, int]:
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(deliveries.c.status, func.count())
                .where(deliveries.c.issue_id == issue_id)
                .group_by(deliveries.c.status)
            ).all()
        return {status: n for status, n in rows}

    @_guarded
    def next_delivery_time(self, issue_id: int, now: datetime,
                           leases: bool = True) -> datetime | None:
        """When the next unsettled delivery of this issue comes due (a retry, or a lease;
        without `leases`, claimed deliveries are left out)."""
        d = deliveries
        with self.engine.begin() as conn:
            _skip_gone(conn, issue_id, now)  # else they count as due, and a send never ends
            waiting = conn.execute(
                select(func.count()).where(
                    d.c.issue_id == issue_id, d.c.status == "queued", d.c.next_attempt.is_(None)
                )
            ).scalar()
            retry = conn.execute(
                select(func.min(d.c.next_attempt)).where(
                    d.c.issue_id == issue_id, d.c.status == "queued"
                )
            ).scalar()
            lease = conn.execute(
                select(func.min(d.c.claimed_until)).where(
                    d.c.issue_id == issue_id, d.c.status == "claimed"
                )
            ).scalar() if leases else None
        times = [t for t in (now if waiting else None, retry, lease) if t is not None]
        return min(times) if times else None

    def list_deliveries(self, issue_id: int, status: str | None = None) -> list[Delivery]:
        query = (
            select(*_DELIVERY_COLUMNS)
            .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
            .where(deliveries.c.issue_id == issue_id)
            .order_by(deliveries.c.id)
        )
        if status:
            query = query.where(deliveries.c.status == status)
        with self.engine.begin() as conn:
            return [_delivery(r) for r in conn.execute(query).all()]


def _skip_gone(conn, issue_id: int, now: datetime) -> int:
    """Settle as skipped the deliveries of people who left (unsubscribed, bounced) that no
    live sender holds: queued ones, and claims whose lease ran out. The claim never picks
    them, so left queued they would look due for ever."""
    d = deliveries
    gone = select(subscribers.c.id).where(subscribers.c.status != "active")
    return conn.execute(
        update(d).where(d.c.issue_id == issue_id, d.c.subscriber_id.in_(gone))
        .where(or_(d.c.status == "queued", and_(d.c.status == "claimed", d.c.claimed_until < now)))
        .values(status="skipped", claimed_until=None)
    ).rowcount


_CLAIM_COLUMNS = (deliveries.c.id, deliveries.c.issue_id, deliveries.c.subscriber_id,
                  subscribers.c.email, subscribers.c.name, subscribers.c.categories,
                  deliveries.c.attempts, deliveries.c.error, deliveries.c.sent,
                  deliveries.c.next_attempt, deliveries.c.first_attempt, deliveries.c.articles)


def _claimed(row, until: datetime, now: datetime) -> Delivery:
    """A row read by a claim (_CLAIM_COLUMNS, unpacked: much cheaper than by name), as the
    claim leaves it: claimed until `until`, one more attempt."""
    (id_, issue_id, subscriber_id, email, name, categories, attempts, error, sent, next_attempt,
     first_attempt, articles) = row
    return Delivery(  # by position: a claim makes hundreds at once
        id_, issue_id, subscriber_id, email, name,
        () if categories == "[]" else tuple(json.loads(categories)),
        "claimed", attempts + 1, error, sent, until, next_attempt, first_attempt or now,
        tuple(json.loads(articles)) if articles else ())
