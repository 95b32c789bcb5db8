"""Rows to models: the store's results are frozen dataclasses, never rows."""

from __future__ import annotations

import json

from publisher.models import Delivery, Issue, Subscriber
from publisher.store.tables import deliveries, subscribers


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
        optin_source=getattr(row, "optin_source", ""),
        optin_client=getattr(row, "optin_client", ""),
        rhythm=getattr(row, "rhythm", ""),
    )


def _issue(row) -> Issue:
    return Issue(
        id=row.id,
        number=row.number,
        period=row.period,
        subject=row.subject,
        article_ids=tuple(json.loads(row.article_ids)),
        categories=tuple(json.loads(row.categories)),
        html=row.html,
        text=row.text,
        created=row.created,
        sent=row.sent,
        rhythm=row.rhythm,
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
    deliveries.c.articles,
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
        articles=tuple(json.loads(row.articles)) if row.articles else (),
    )
