"""`send`, the use case: finish unfinished issues, create the next one, queue it, send it.

The CLI and (later) the scheduler call `send_newsletter`; both get the same idempotent steps:
the store's unique period means two racing senders create one issue, the ledger's unique
(issue, subscriber) means a re-run queues nobody twice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

from publisher.audience.notices import Links
from publisher.audience.tokens import Tokens
from publisher.errors import DeliveryError, PublisherError
from publisher.mail.dkim import DkimSigner
from publisher.mail.message import Prepared, sender_address
from publisher.mail.processes import send_in_processes
from publisher.mail.sending import Progress, SendReport, SendSettings
from publisher.mail.transport import Transport
from publisher.models import Article, Delivery, Issue
from publisher.store import Store


class IssueTooLarge(PublisherError):
    pass


@dataclass
class SendOutcome:
    reports: list[tuple[Issue, SendReport]] = field(default_factory=list)
    nothing_new: str = ""  # why no new issue was created, when none was
    queued: list[tuple[Issue, int]] = field(default_factory=list)  # (issue, deliveries added)


def plan_of(issue: Issue, articles: list[Article]):
    """Rebuild the plan of a stored issue (to resume its sending after a crash)."""
    from publisher.newsletter.issue import IssuePlan

    by_id = {a.id: a for a in articles}
    since = datetime.fromisoformat(issue.period.split("/")[0]) \
        if "/" in issue.period and not issue.rhythm else issue.created
    chosen = tuple(by_id[i] for i in issue.article_ids if i in by_id)
    return IssuePlan(number=issue.number, now=issue.created, since=since, articles=chosen,
                     rhythm=issue.rhythm)


class IssueComposer:
    """Delivery -> the complete message for its subscriber (None: nothing for them)."""

    def __init__(self, plan, config, tokens: Tokens):
        from publisher.newsletter.personalise import Audiences

        self.config, self.links = config, Links(config, tokens)
        self.audiences = Audiences(plan, config)
        self.signer = DkimSigner.from_config(config)
        self.lock = threading.Lock()
        self.everyone = self.audiences.compiled(None)

    def wants(self, subscriber) -> bool:
        return self.audiences.plan.for_categories(subscriber.categories) is not None

    def __call__(self, d: Delivery) -> bytes | Prepared | None:
        from publisher.newsletter.personalise import Recipient

        if d.articles or d.categories:
            with self.lock:  # Audiences renders lazily and caches: one thread at a time
                compiled = self.audiences.compiled(d.categories, d.articles)
        else:
            compiled = self.everyone
        if compiled is None:
            return None
        recipient = Recipient(
            email=d.email, name=d.name, unsubscribe_url=self.links.unsubscribe(d.email),
            preferences_url=self.links.preferences(d.email),
        )
        if self.signer:
            return self.signer.sign(compiled.message_bytes(recipient))
        return compiled.prepared(recipient)


def one_digest(config) -> None:
    """The one digest for everyone exists only without newsletter.rhythms (issue 17)."""
    if config.newsletter.rhythms:
        raise PublisherError("newsletter.rhythms is set in config.yaml: each rhythm is sent on "
                             "its own (`publisher newsletter send --rhythm NAME`)")


def check_size(html: str, config, force: bool) -> None:
    size = len(html.encode("utf-8"))
    limit = config.mail.max_html_bytes
    if size > limit and not force:
        raise IssueTooLarge(f"the issue's HTML is {size / 1024:.0f} KB, over the "
                            f"{limit / 1024:.0f} KB Gmail shows before clipping it; shorten it "
                            "(fewer articles, newsletter.content: summary) or send with --force")


def plan_next(config, store: Store, articles: list[Article], now: datetime):
    """(plan of the next issue or None when nothing is new, the last issue or None)."""
    from publisher.newsletter.issue import plan_issue

    last = store.last_issue()
    plan = plan_issue(articles, last.created if last else None, last.number + 1 if last else 1,
                      now, config, sent=store.sent_article_ids() if last else frozenset())
    return plan, last


def nothing_new(config, last: Issue | None) -> str:
    since = f"issue {last.number} ({last.created:%Y-%m-%d %H:%M})" if last else \
        f"the last {config.newsletter.first_window_days} days"
    return f"nothing new since {since}"


def next_issue(config, store: Store, articles: list[Article], now: datetime, force: bool = False):
    """(the stored next issue, its plan), or (None, why) when there is nothing new."""
    from publisher.newsletter.issue import render_issue

    plan, last = plan_next(config, store, articles, now)
    if plan is None:
        return None, nothing_new(config, last)
    rendered = render_issue(plan, config)
    check_size(rendered.html, config, force)
    issue, _ = store.save_issue(rendered.issue())
    return issue, plan_of(issue, articles) if issue.number != plan.number else plan


def deliver(config, store: Store, transport: Transport, tokens: Tokens, issue: Issue, plan,
            now: datetime, progress: Progress | None = None,
            stop: threading.Event | None = None, first_pass: bool = False) -> SendReport:
    """Queue (once) and send one issue; mark it sent when every delivery is settled. With
    `first_pass`, return once what is left waits for a later retry (`report.waiting`, due
    at `report.retry_at`): `publisher run` and `worker` send those when due."""
    from dataclasses import replace

    from publisher.newsletter.issue import issue_config

    config = issue_config(config, issue.rhythm)  # an on-publish rhythm's own templates
    composer = IssueComposer(plan, config, tokens)
    if not store.issue_queued(issue.id) and not issue.rhythm:  # a rhythm's: `rhythms._queue`
        store.queue_deliveries(issue, now, wants=composer.wants)
    settings = replace(SendSettings.from_config(config.mail, config.path("var")),
                       first_pass=first_pass)
    report = send_in_processes(store, issue.id, composer, transport, sender_address(config),
                               settings, config.mail.processes, progress, stop)
    store.skip_inactive_deliveries(issue.id)
    counts = store.delivery_counts(issue.id)
    report.waiting = counts.get("queued", 0) + counts.get("claimed", 0)
    if not report.waiting:
        store.mark_issue(issue.id, sent=now)
    else:
        report.retry_at = store.next_delivery_time(issue.id, datetime.now(timezone.utc))
    return report


def send_newsletter(config, store: Store, transport: Transport, tokens: Tokens,
                    articles: list[Article], now: datetime, *, force: bool = False,
                    progress: Progress | None = None,
                    stop: threading.Event | None = None,
                    first_pass: bool = False) -> SendOutcome:
    """`stop` (set by a SIGTERM in `publisher run`) ends the send after the messages in
    flight; the rest stays queued for the next send."""
    one_digest(config)
    outcome = SendOutcome()
    for issue in store.unfinished_issues():  # a crash or a stop left these half sent
        outcome.reports.append((issue, deliver(config, store, transport, tokens, issue,
                                               plan_of(issue, articles), now, progress, stop,
                                               first_pass)))
    if stop is not None and stop.is_set():
        return outcome
    issue, plan = next_issue(config, store, articles, now, force)
    if issue is None:
        outcome.nothing_new = plan
    elif issue.sent is None and all(i.id != issue.id for i, _ in outcome.reports):
        outcome.reports.append((issue, deliver(config, store, transport, tokens, issue, plan,
                                               now, progress, stop, first_pass)))
    return outcome


@dataclass
class QueueOutcome:
    queued: list[tuple[Issue, int]] = field(default_factory=list)  # (issue, deliveries added)
    nothing_new: str = ""


def queue_newsletter(config, store: Store, articles: list[Article], now: datetime, *,
                     force: bool = False) -> QueueOutcome:
    """Create the next issue (if anything is new) and queue it for `publisher worker`s to
    send; an issue whose queueing a crash interrupted is finished first. Idempotent."""
    one_digest(config)
    outcome = QueueOutcome()
    stored = [(i, plan_of(i, articles)) for i in store.unfinished_issues()
              if not store.issue_queued(i.id)]
    issue, plan = next_issue(config, store, articles, now, force)
    if issue is None:
        outcome.nothing_new = plan
    elif not store.issue_queued(issue.id) and all(i.id != issue.id for i, _ in stored):
        stored.append((issue, plan))
    for issue, plan in stored:
        wants = lambda sub, plan=plan: plan.for_categories(sub.categories) is not None  # noqa: E731
        outcome.queued.append((issue, store.queue_deliveries(issue, now, wants=wants)))
    return outcome


def send_test(config, store: Store, transport: Transport, tokens: Tokens,
              articles: list[Article], address: str, now: datetime) -> str:
    """A copy of the next issue (or the last one) to one address, marked as a test; the
    ledger is untouched. Returns the subject as sent."""
    from publisher.newsletter.issue import render_issue
    from publisher.newsletter.personalise import Recipient, compile_issue

    plan, last = plan_next(config, store, articles, now)
    if plan is None and last is None:
        raise DeliveryError("there is no issue to send: nothing new and none sent before")
    plan = plan or plan_of(last, articles)
    rendered = render_issue(plan, config)
    links = Links(config, tokens)
    compiled = compile_issue(rendered, config, now, test=True)
    data = compiled.message_bytes(Recipient(
        email=address, name="", unsubscribe_url=links.unsubscribe(address),
        preferences_url=links.preferences(address)))
    signer = DkimSigner.from_config(config)
    conn = transport.connect()
    try:
        conn.send(sender_address(config), address, signer.sign(data) if signer else data)
    finally:
        conn.close()
    return compiled.subject
