"""The ledger as each subscriber's record of articles received (issue 17): which articles the
deliveries of recent issues carried to whom, and queueing an issue with each subscriber's own
share of its articles."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Iterable

from sqlalchemy import Engine, select, update

from publisher.models import Issue
from publisher.store.coordination import insert_ignoring_conflicts
from publisher.store.tables import deliveries, issues, subscribers


class Received:
    engine: Engine

    def mark_issue(self, issue_id: int, **dates: datetime) -> None:  # in Store
        raise NotImplementedError

    def received_articles(self, since: datetime, subscriber_ids: Iterable[int] | None = None,
                          chunk: int = 5000) -> dict[int, set[str]]:
        """Subscriber id -> ids of the articles queued to them by an issue created since
        `since` (whatever its rhythm, whatever the delivery's outcome: queued is promised).
        A delivery with no list of its own carried every article of its issue. The sets are
        shared by subscribers who got the same deliveries: do not change them."""
        d, i = deliveries, issues
        with self.engine.begin() as conn:
            recent = {row.id: json.loads(row.article_ids) for row in conn.execute(
                select(i.c.id, i.c.article_ids).where(i.c.created >= since))}
        found: dict[int, set[str]] = {}
        if not recent:
            return found
        query = select(d.c.subscriber_id, d.c.issue_id, d.c.articles).where(
            d.c.issue_id.in_(list(recent)))
        wanted = None if subscriber_ids is None else list(subscriber_ids)
        batches = [None] if wanted is None else [wanted[k:k + chunk]
                                                 for k in range(0, len(wanted), chunk)]
        got: dict[int, list] = {}  # subscriber -> [(issue, their share)]: the rows as read
        with self.engine.begin() as conn:
            for batch in batches:
                q = query if batch is None else query.where(d.c.subscriber_id.in_(batch))
                for subscriber_id, issue_id, articles in conn.execute(q):
                    got.setdefault(subscriber_id, []).append((issue_id, articles))
        unions: dict[frozenset, set[str]] = {}  # most subscribers got the same issues alike
        for subscriber_id, rows in got.items():
            key = frozenset(rows)
            union = unions.get(key)
            if union is None:
                union = unions[key] = {a for issue_id, articles in rows for a in
                                       (json.loads(articles) if articles else recent[issue_id])}
            found[subscriber_id] = union
        return found

    def queue_shares(self, issue: Issue, shares: Iterable[tuple[int, tuple[str, ...]]],
                     now: datetime, chunk: int = 1000) -> int:
        """Queue `issue` to each (subscriber id, their articles of it); a share equal to the
        whole issue is stored as "" (the common case costs nothing). Idempotent, like
        `queue_deliveries`: run again after a crash, it adds only the missing."""
        whole = tuple(issue.article_ids)
        rows = [dict(issue_id=issue.id, subscriber_id=sid, status="queued",
                     articles="" if tuple(ids) == whole else json.dumps(list(ids)))
                for sid, ids in shares]
        d, queued = deliveries, 0
        for k in range(0, len(rows), chunk):
            with self.engine.begin() as conn:
                if rows[k:k + chunk]:
                    added = conn.execute(insert_ignoring_conflicts(conn, d).returning(d.c.id),
                                         rows[k:k + chunk])
                    queued += len(added.all())
        assert issue.id is not None
        self.mark_issue(issue.id, queued=now)
        return queued

    def set_rhythm(self, emails: list[str], rhythm: str, chunk: int = 1000) -> None:
        """Give these subscribers `rhythm` (an import's rhythm column)."""
        s = subscribers
        for k in range(0, len(emails), chunk):
            with self.engine.begin() as conn:
                conn.execute(update(s).where(s.c.email.in_(emails[k:k + chunk]))
                             .values(rhythm=rhythm))
