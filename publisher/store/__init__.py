"""The store: one method per query over SQLAlchemy Core; returns models, never rows.

The only module that writes SQL. SQLite (WAL) by default, PostgreSQL by URL. The deliveries
table is the ledger: a delivery is queued, claimed under a lease (`claimed_until`), then marked
sent, failed (with its reason) or queued again for a retry after `next_attempt`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Iterable, Iterator

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from publisher.models import Issue, Subscriber
from publisher.store.admin import AdminQueries
from publisher.store.consent import Consent
from publisher.store.coordination import Coordination, insert_ignoring_conflicts
from publisher.store.engine import StoreError, database_url, make_engine, migrate, safe_url
from publisher.store.jobs import JobRuns
from publisher.store.ledger import Ledger
from publisher.store.notices import NoticeQueue, QueuedNotice
from publisher.store.records import _issue, _subscriber
from publisher.store.rhythms import Received
from publisher.store.tables import bounces, issues, subscribers

__all__ = ["QueuedNotice", "Store", "StoreError", "open_store"]


def open_store(config) -> "Store":
    """The store named by the config, its schema upgraded; a clear error when unreachable."""
    url = database_url(config)
    try:
        engine = make_engine(url)
        migrate(engine)
    except (OperationalError, OSError) as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise StoreError(f"database {safe_url(url)}: {reason}") from None
    return Store(engine)


class Store(Ledger, JobRuns, Coordination, AdminQueries, NoticeQueue, Consent, Received):
    """Subscribers and issues here; the ledger's queries in publisher.store.ledger."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def close(self) -> None:
        self.engine.dispose()

    # -- subscribers ------------------------------------------------------------------------

    def add_subscriber(
        self, email: str, name: str, categories: Iterable[str], status: str, now: datetime,
        rhythm: str = "",
    ) -> Subscriber:
        """Insert a new subscriber; raises KeyError when the address is already known."""
        values = dict(
            email=email,
            name=name,
            status=status,
            categories=json.dumps(sorted(set(categories))),
            created=now,
            confirmed=now if status == "active" else None,
            rhythm=rhythm,
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(subscribers).values(**values))
        except IntegrityError:
            raise KeyError(email) from None
        found = self.get_subscriber(email)
        assert found is not None
        return found

    def insert_subscribers(self, rows: list[tuple[str, str, Iterable[str]]], status: str,
                           now: datetime) -> list[str]:
        """Add many (email, name, categories) in one statement, leaving known addresses alone
        (ON CONFLICT DO NOTHING); returns the addresses added."""
        if not rows:
            return []
        values = [dict(email=email, name=name, status=status, created=now,
                       categories=json.dumps(sorted(set(categories))),
                       confirmed=now if status == "active" else None)
                  for email, name, categories in rows]
        with self.engine.begin() as conn:
            stmt = insert_ignoring_conflicts(conn, subscribers).returning(subscribers.c.email)
            return list(conn.execute(stmt, values).scalars())

    def merge_subscribers(self, rows: list[tuple[str, str, list[str]]], status: str,
                          now: datetime) -> tuple[list[str], dict[str, str]]:
        """Add those of (email, name, categories) not known yet: (the addresses added, the
        status of those already known). One round trip on PostgreSQL: the rows are COPYed
        into a temporary table, then looked up and inserted from there."""
        if not rows:
            return [], {}
        if self.engine.dialect.name != "postgresql":
            known = self.subscriber_states([email for email, _, _ in rows])
            return self.insert_subscribers([r for r in rows if r[0] not in known], status,
                                           now), known
        with self.engine.begin() as conn, conn.connection.driver_connection.cursor() as cur:
            cur.execute("CREATE TEMP TABLE import_rows (email text, name text, categories text)"
                        " ON COMMIT DROP")
            with cur.copy("COPY import_rows (email, name, categories) FROM STDIN") as copy:
                for email, name, categories in rows:
                    copy.write_row((email, name, json.dumps(sorted(set(categories)))))
            cur.execute("SELECT s.email, s.status FROM subscribers s JOIN import_rows USING (email)")
            known = dict(cur.fetchall())
            cur.execute("INSERT INTO subscribers (email, name, status, categories, created,"
                        " confirmed, hard_bounces) SELECT email, name, %s, categories, %s, %s, 0"
                        " FROM import_rows ON CONFLICT (email) DO NOTHING RETURNING email",
                        (status, now, now if status == "active" else None))
            return [email for (email,) in cur.fetchall()], known

    def subscriber_states(self, emails: list[str]) -> dict[str, str]:
        """Address -> status of those of `emails` that are known."""
        with self.engine.begin() as conn:
            rows = conn.execute(select(subscribers.c.email, subscribers.c.status)
                                .where(subscribers.c.email.in_(emails))).all()
        return {email: status for email, status in rows}

    def get_subscriber(self, email: str) -> Subscriber | None:
        with self.engine.begin() as conn:
            row = conn.execute(select(subscribers).where(subscribers.c.email == email)).first()
        return _subscriber(row) if row else None

    def list_subscribers(self, status: str | None = None) -> Iterator[Subscriber]:
        """Every subscriber (or those in one state) by address, streamed in pages."""
        query = select(subscribers).order_by(subscribers.c.email)
        if status:
            query = query.where(subscribers.c.status == status)
        last = ""
        while True:
            with self.engine.begin() as conn:
                rows = conn.execute(query.where(subscribers.c.email > last).limit(1000)).all()
            yield from (_subscriber(r) for r in rows)
            if len(rows) < 1000:
                return
            last = rows[-1].email

    def count_subscribers(self) -> dict[str, int]:
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(subscribers.c.status, func.count()).group_by(subscribers.c.status)
            ).all()
        return {status: n for status, n in rows}

    def update_subscriber(self, email: str, **changes) -> Subscriber | None:
        """Change status, name, categories or dates of one subscriber; None when unknown."""
        if "categories" in changes:
            changes["categories"] = json.dumps(sorted(set(changes["categories"])))
        with self.engine.begin() as conn:
            conn.execute(update(subscribers).where(subscribers.c.email == email).values(**changes))
        return self.get_subscriber(email)

    def remove_subscriber(self, email: str) -> bool:
        with self.engine.begin() as conn:
            gone = conn.execute(subscribers.delete().where(subscribers.c.email == email))
        return gone.rowcount > 0

    def record_bounce(
        self, email: str, kind: str, reason: str, source: str, now: datetime, threshold: int
    ) -> Subscriber | None:
        """Count one bounce report once (by `source`); a hard one past `threshold` bounces."""
        found = self.get_subscriber(email)
        if found is None:
            return None
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(bounces).values(
                        subscriber_id=found.id, kind=kind, reason=reason[:2000], source=source,
                        created=now,
                    )
                )
                if kind == "hard":
                    conn.execute(
                        update(subscribers)
                        .where(subscribers.c.id == found.id)
                        .values(hard_bounces=subscribers.c.hard_bounces + 1)
                    )
                    conn.execute(
                        update(subscribers)
                        .where(subscribers.c.id == found.id, subscribers.c.status == "active")
                        .where(subscribers.c.hard_bounces >= threshold)
                        .values(status="bounced")
                    )
        except IntegrityError:
            pass  # this report was already counted
        return self.get_subscriber(email)

    # -- issues -----------------------------------------------------------------------------

    def save_issue(self, issue: Issue) -> tuple[Issue, bool]:
        """Store `issue` unless a racing sender stored it first: (the stored issue, whether new).

        Idempotent twice over: the unique period (a scheduler's run) and the unique number in
        its rhythm (two senders who both saw issue N last both make N+1: the second gets the
        first's). A number below 1 takes the next free one of its rhythm.
        """
        for _ in range(5):
            existing = self._issue_for_period(issue.period)
            if existing:
                return existing, False
            try:
                with self.engine.begin() as conn:
                    number = issue.number
                    if number < 1:
                        number = (conn.execute(select(func.max(issues.c.number))
                                               .where(issues.c.rhythm == issue.rhythm))
                                  .scalar() or 0) + 1
                    conn.execute(
                        insert(issues).values(
                            number=number, period=issue.period, subject=issue.subject,
                            article_ids=json.dumps(list(issue.article_ids)),
                            categories=json.dumps(sorted(set(issue.categories))),
                            html=issue.html, text=issue.text, created=issue.created,
                            sent=issue.sent, rhythm=issue.rhythm,
                        )
                    )
                return self._issue_for_period(issue.period), True  # type: ignore[return-value]
            except IntegrityError:
                if issue.number >= 1 and (taken := self.get_issue(issue.number,
                                                                  issue.rhythm)) is not None:
                    return taken, False
        raise StoreError(f"could not save the issue for period {issue.period!r}")

    def _issue_for_period(self, period: str) -> Issue | None:
        with self.engine.begin() as conn:
            row = conn.execute(select(issues).where(issues.c.period == period)).first()
        return _issue(row) if row else None

    def get_issue(self, number: int, rhythm: str = "") -> Issue | None:
        with self.engine.begin() as conn:
            row = conn.execute(select(issues).where(issues.c.number == number,
                                                    issues.c.rhythm == rhythm)).first()
        return _issue(row) if row else None

    def last_issue(self, rhythm: str = "") -> Issue | None:
        """The newest issue of a rhythm ("": the one digest of a config without rhythms)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(issues).where(issues.c.rhythm == rhythm)
                               .order_by(issues.c.number.desc()).limit(1)).first()
        return _issue(row) if row else None

    def sent_article_ids(self) -> frozenset[str]:
        """Ids of every article an issue carried: what the next issue must not repeat."""
        with self.engine.begin() as conn:
            rows = conn.execute(select(issues.c.article_ids)).scalars().all()
        return frozenset(i for ids in rows for i in json.loads(ids))

    def list_issues(self) -> list[Issue]:
        """Every issue, newest first (by rhythm, then number)."""
        with self.engine.begin() as conn:
            rows = conn.execute(select(issues).order_by(issues.c.rhythm,
                                                        issues.c.number.desc())).all()
        return [_issue(r) for r in rows]

    def unfinished_issues(self, rhythm: str | None = None) -> list[Issue]:
        """Issues (of one rhythm, or all) whose sending has not settled every delivery,
        oldest first."""
        query = select(issues).where(issues.c.sent.is_(None)).order_by(issues.c.created,
                                                                       issues.c.id)
        if rhythm is not None:
            query = query.where(issues.c.rhythm == rhythm)
        with self.engine.begin() as conn:
            rows = conn.execute(query).all()
        return [_issue(r) for r in rows]

    def issue_queued(self, issue_id: int) -> bool:
        """Whether every delivery of the issue is in the ledger (queueing finished)."""
        with self.engine.begin() as conn:
            return conn.execute(
                select(issues.c.queued).where(issues.c.id == issue_id)
            ).scalar() is not None

    def mark_issue(self, issue_id: int, **dates: datetime) -> None:
        """Set `queued` or `sent` on an issue."""
        with self.engine.begin() as conn:
            conn.execute(update(issues).where(issues.c.id == issue_id).values(**dates))
