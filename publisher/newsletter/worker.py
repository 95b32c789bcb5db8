"""`publisher worker`: send whatever is queued, on any number of machines at once.

    work(config, store, transport, tokens, stop)   # until `stop` is set (SIGTERM)

A worker sends only issues whose queueing has finished (`newsletter send --queue-only`, or a
`publisher run` that queued them), through the same ledger as `newsletter send`: batches are
claimed under a lease (FOR UPDATE SKIP LOCKED on PostgreSQL), so workers never share a
delivery, and the batch of a worker that dies goes back to the others when its lease ends.
The rate limit (mail.rate_limit) is one budget shared by every worker, kept in the store.
Each worker needs the project (config.yaml and content/): it renders the issue it sends.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

from publisher.audience.tokens import Tokens
from publisher.mail.sending import SendReport
from publisher.mail.transport import Transport
from publisher.models import Issue
from publisher.store import Store

log = logging.getLogger("publisher.newsletter.worker")


@dataclass
class WorkReport:
    reports: list[tuple[Issue, SendReport]] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(r.sent for _, r in self.reports)


def ready_issues(store: Store) -> list[Issue]:
    """Issues queued for sending and not yet settled, oldest first."""
    return [i for i in store.unfinished_issues() if store.issue_queued(i.id)]


def work(config, store: Store, transport: Transport, tokens: Tokens, stop: threading.Event,
         *, poll: float = 2.0, drain: bool = False) -> WorkReport:
    """Send queued issues until `stop` is set (messages in flight finish, the rest stays
    queued); with `drain`, return as soon as nothing is left to send. Polls every `poll` s."""
    from publisher.content import load_articles
    from publisher.newsletter.campaign import deliver, plan_of

    outcome = WorkReport()
    while not stop.is_set():
        issues = ready_issues(store)
        if issues:
            now = datetime.now(timezone.utc)
            articles = load_articles(config).published(now)
        for issue in issues:
            if stop.is_set():
                break
            report = deliver(config, store, transport, tokens, issue, plan_of(issue, articles),
                             datetime.now(timezone.utc), stop=stop)
            outcome.reports.append((issue, report))
            log.info("issue %d: %d sent, %d retried, %d failed, %d skipped in %.1f s (%.0f/s)",
                     issue.number, report.sent, report.retried, len(report.failed),
                     report.skipped, report.elapsed, report.rate)
        if drain and not issues:
            break
        if not issues:
            stop.wait(poll)
    return outcome
