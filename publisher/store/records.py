"""Rows to models: the store's results are frozen dataclasses, never rows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from publisher.models import Delivery, Subscriber
from publisher.store.tables import deliveries, subscribers


@dataclass(frozen=True, slots=True)
class StoredIssue:
    """An issue as the archive keeps it: what was sent, to be resent or shown again."""

    id: int
    number: int
    period: str
    subject: str
    article_ids: tuple[str, ...]
    categories: tuple[str, ...]
    html: str
    text: str
    created: datetime
    queued: datetime | None = None
    sent: datetime | None = None


def _subscriber(row) -> Subscriber:
    return Subscriber(
        id=row.id,
        email=row.email,
        name=row.name,
        status=row.status,
        categories=tuple(json.loads(row.categories)),
        created=row.created,
        confirmed=row.confirmed,
        unsubscribed=row.unsubscribed,
        hard_bounces=row.hard_bounces,
    )


def _issue(row) -> StoredIssue:
    return StoredIssue(
        id=row.id,
        number=row.number,
        period=row.period,
        subject=row.subject,
        article_ids=tuple(json.loads(row.article_ids)),
        categories=tuple(json.loads(row.categories)),
        html=row.html,
        text=row.text,
        created=row.created,
        queued=row.queued,
        sent=row.sent,
    )


_DELIVERY_COLUMNS = (
    deliveries.c.id,
    deliveries.c.issue_id,
    deliveries.c.subscriber_id,
    subscribers.c.email,
    subscribers.c.name,
    subscribers.c.categories,
    deliveries.c.status,
    deliveries.c.attempts,
    deliveries.c.error,
    deliveries.c.sent,
    deliveries.c.claimed_until,
    deliveries.c.next_attempt,
)


def _delivery(row) -> Delivery:
    return Delivery(
        id=row.id,
        issue_id=row.issue_id,
        subscriber_id=row.subscriber_id,
        email=row.email,
        name=row.name,
        categories=tuple(json.loads(row.categories)),
        status=row.status,
        attempts=row.attempts,
        error=row.error,
        sent=row.sent,
        claimed_until=row.claimed_until,
        next_attempt=row.next_attempt,
    )
