"""Each subscriber's own rhythm: every article, daily, weekly or monthly, and nothing missed
or repeated when they change it (issue 17).

    outcome = send_rhythm(config, store, transport, tokens, articles, now, "daily")
    queued = send_rhythm(..., "weekly", send=False)        # queue for `publisher worker`s

What is due to a subscriber is decided by the ledger, not by the calendar: the published
articles in their categories, dated since they joined (confirmed: a new or returning
subscriber does not get the archive, nor a burst of mails on an on-publish rhythm) and within newsletter.max_age_days,
that no issue has queued to them yet, whatever its rhythm. So a switch from daily to weekly
neither loses what the daily letter had not carried yet nor repeats what it had.

A digest rhythm's issue holds every article due to one of its subscribers; each delivery
carries that subscriber's share (`deliveries.articles`, "" when it is the whole issue).
Subscribers with the same share and categories are one audience, rendered once and
personalised per subscriber, so the cost is per audience. An on-publish rhythm makes one
issue per article (its period names the article: two senders make one), from the article
templates.
"""

from __future__ import annotations

import hashlib
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Iterator

from publisher.audience.tokens import Tokens
from publisher.config.sections import ON_PUBLISH
from publisher.content.article import make_slug
from publisher.errors import PublisherError
from publisher.mail.delivery import OWNER
from publisher.mail.sending import Progress
from publisher.mail.transport import Transport
from publisher.models import Article, Issue, Subscriber
from publisher.newsletter.campaign import SendOutcome, check_size, deliver, plan_of
from publisher.store import Store


class UnknownRhythm(PublisherError):
    pass


LEDGER_LEASE = "rhythm-ledger"
LEDGER_WAIT = 300.0  # seconds a send waits for another one's queueing


@contextmanager
def ledger_lock(store: Store, wait: float | None = None) -> Iterator[None]:
    """One process at a time reads the ledger and queues from it (a lease in the store):
    otherwise a subscriber switching rhythm between two rhythms' sends could be queued the
    same article by both, each having read the ledger before the other wrote it."""
    owner = f"{OWNER}:{threading.get_ident()}"
    deadline = time.monotonic() + (LEDGER_WAIT if wait is None else wait)
    while not store.take_lease(LEDGER_LEASE, owner, 600):
        if time.monotonic() > deadline:
            holder = store.lease_holder(LEDGER_LEASE)
            raise PublisherError(f"another send ({holder[0] if holder else '?'}) is queueing "
                                 "from the ledger: try again when it has finished")
        time.sleep(0.05)
    try:
        yield
    finally:
        store.drop_lease(LEDGER_LEASE, owner)


def check_rhythm(config, rhythm: str) -> str:
    """`rhythm` when config.yaml names it, else a one-line error listing those it does."""
    rhythms = config.newsletter.rhythms
    if not rhythms:
        raise UnknownRhythm(f"config.yaml: newsletter.rhythms is not set, so there is no "
                            f"rhythm {rhythm!r} (one digest for everyone: leave out --rhythm)")
    if rhythm not in rhythms:
        raise UnknownRhythm(f"config.yaml: no rhythm {rhythm!r} in newsletter.rhythms "
                            f"(there are: {', '.join(rhythms)})")
    return rhythm


def horizon(config, now: datetime) -> datetime:
    """Articles dated before this are never mailed (newsletter.max_age_days)."""
    return now - timedelta(days=config.newsletter.max_age_days)


def members(config, store: Store, rhythm: str) -> list[Subscriber]:
    """The active subscribers who follow `rhythm` (theirs, or the default one)."""
    of = config.newsletter.rhythm_of
    return [s for s in store.list_subscribers("active") if of(s.rhythm) == rhythm]


def candidates(config, articles: list[Article], now: datetime) -> list[Article]:
    """What may be mailed at `now`: published, listed articles within the horizon, newest first."""
    start = horizon(config, now)
    found = [a for a in articles if a.is_published(now) and a.kind == "article" and a.listed
             and a.date > start]
    found.sort(key=lambda a: (a.date, a.source), reverse=True)
    return found


def due_shares(config, store: Store, subscribers: list[Subscriber], articles: list[Article],
               now: datetime) -> dict[int, tuple[str, ...]]:
    """Subscriber id -> ids of the articles due to them (newest first, at most
    newsletter.max_articles: the older ones stay due for the next issue); those with nothing
    due are left out. Computed once per distinct (categories, received, join) case."""
    pool = candidates(config, articles, now)
    if not pool or not subscribers:
        return {}
    oldest = pool[-1].date
    received = store.received_articles(horizon(config, now), [s.id for s in subscribers])
    limit = config.newsletter.max_articles
    slugs = [(a, {make_slug(c) for c in a.categories}) for a in pool]
    pool_ids = {a.id for a in pool}
    cache: dict[tuple, tuple[str, ...]] = {}
    shares: dict[int, tuple[str, ...]] = {}
    for sub in subscribers:
        floor = sub.confirmed or sub.created  # (re)joined: a return brings no backlog
        had = received.get(sub.id, set())
        key = (sub.categories, frozenset(had & pool_ids), floor if floor >= oldest else None)
        share = cache.get(key)
        if share is None:
            wanted = {make_slug(c) for c in sub.categories}
            share = cache[key] = tuple(
                a.id for a, cats in slugs
                if a.id not in had and a.date >= floor and (not wanted or cats & wanted)
            )[:limit]
        if share:
            shares[sub.id] = share
    return shares


def _queue(config, store: Store, issue: Issue, articles: list[Article], now: datetime,
           shares: dict[int, tuple[str, ...]] | None = None) -> int:
    """Queue `issue` to the rhythm's subscribers with their share of it (recomputed from the
    ledger when not given: the resumption of a queueing a crash cut short)."""
    if shares is None:
        shares = due_shares(config, store, members(config, store, issue.rhythm), articles, now)
    inside = set(issue.article_ids)
    order = {a: k for k, a in enumerate(issue.article_ids)}
    rows = []
    for sid, share in shares.items():
        mine = sorted((a for a in share if a in inside), key=order.__getitem__)
        if mine:
            rows.append((sid, tuple(mine)))
    return store.queue_shares(issue, rows, now)


def _new_issues(config, store: Store, rhythm: str, articles: list[Article], now: datetime,
                force: bool) -> tuple[list[tuple[Issue, dict]], str]:
    """The issues this send makes (saved), each with the shares to queue; or why none."""
    from publisher.newsletter.issue import IssuePlan, issue_config, render_issue

    subs = members(config, store, rhythm)
    shares = due_shares(config, store, subs, articles, now)
    if not shares:
        return [], f"nothing new for the {rhythm} rhythm's {len(subs)} subscribers"
    by_id = {a.id: a for a in articles}
    due = {a for share in shares.values() for a in share}
    chosen = sorted((by_id[a] for a in due), key=lambda a: (a.date, a.source), reverse=True)
    made = []
    cfg = issue_config(config, rhythm)
    last = store.last_issue(rhythm)
    number = last.number + 1 if last else 1
    since = last.created if last else now - timedelta(days=config.newsletter.first_window_days)
    instant = config.newsletter.rhythms[rhythm] == ON_PUBLISH
    for group in [[a] for a in reversed(chosen)] if instant else [chosen]:
        # on-publish: one issue per article, oldest first (another, later, for whoever
        # becomes due to it afterwards: a switch, a new subscriber)
        slot = f"{now.isoformat()}:{_short(group[0].id)}" if instant else ""
        for _ in range(5):
            plan = IssuePlan(number=number, now=now, since=since, articles=tuple(group),
                             rhythm=rhythm, slot=slot)
            rendered = render_issue(plan, cfg)
            check_size(rendered.html, cfg, force)
            issue, _ = store.save_issue(rendered.issue())
            if issue.article_ids == plan_ids(plan) or not instant:
                break  # (a racing sender's issue of this number, with the same articles, is this one)
            number = issue.number + 1  # another article's issue took the number
        made.append((issue, shares))
        number = issue.number + 1
    return made, ""


def finish_queueing(config, store: Store, articles: list[Article], now: datetime) -> int:
    """Queue the rhythms' issues whose queueing a crash cut short (before a resumption sends
    them): deliveries added."""
    with ledger_lock(store):
        return sum(_queue(config, store, issue, articles, now)
                   for issue in store.unfinished_issues()
                   if issue.rhythm and issue.id is not None and not store.issue_queued(issue.id))


def _short(article_id: str) -> str:
    return hashlib.blake2b(article_id.encode(), digest_size=12).hexdigest()


def plan_ids(plan) -> tuple[str, ...]:
    return tuple(a.id for a in plan.articles)


def send_rhythm(config, store: Store, transport: Transport | None, tokens: Tokens | None,
                articles: list[Article], now: datetime, rhythm: str, *, force: bool = False,
                progress: Progress | None = None, stop: threading.Event | None = None,
                first_pass: bool = False, send: bool = True) -> SendOutcome:
    """Finish the rhythm's unfinished issues, make its new ones (a digest: one; on-publish:
    one per article due), queue them with each subscriber's share, and send them (unless
    `send` is false: then `outcome.queued` lists (issue, deliveries queued))."""
    check_rhythm(config, rhythm)
    outcome = SendOutcome()
    with ledger_lock(store):
        pending = store.unfinished_issues(rhythm)
        for issue in pending:  # a queueing a crash cut short: finished before anything new
            assert issue.id is not None
            if not store.issue_queued(issue.id):
                outcome.queued.append((issue, _queue(config, store, issue, articles, now)))
        if not (stop is not None and stop.is_set()):
            made, why = _new_issues(config, store, rhythm, articles, now, force)
            outcome.nothing_new = why
            seen = {i.id for i in pending}
            for issue, shares in made:
                assert issue.id is not None
                if issue.id in seen or issue.sent is not None:
                    continue
                pending.append(issue)
                if not store.issue_queued(issue.id):
                    outcome.queued.append((issue, _queue(config, store, issue, articles, now,
                                                         shares)))
    for issue in pending if send else ():
        if stop is not None and stop.is_set():
            break
        assert transport is not None and tokens is not None
        outcome.reports.append((issue, deliver(config, store, transport, tokens, issue,
                                               plan_of(issue, articles), now, progress, stop,
                                               first_pass)))
    return outcome


def preview_plan(config, store: Store | None, rhythm: str, articles: list[Article],
                 now: datetime):
    """The plan of the rhythm's next issue (on-publish: the oldest article due), or None;
    without a store (no database yet), every subscriber would be new."""
    from publisher.newsletter.issue import IssuePlan

    check_rhythm(config, rhythm)
    if store is None:
        return None
    shares = due_shares(config, store, members(config, store, rhythm), articles, now)
    due = {a for share in shares.values() for a in share}
    chosen = sorted((a for a in articles if a.id in due), key=lambda a: (a.date, a.source),
                    reverse=True)
    if not chosen:
        return None
    if config.newsletter.rhythms[rhythm] == ON_PUBLISH:
        chosen = chosen[-1:]
    last = store.last_issue(rhythm)
    return IssuePlan(number=last.number + 1 if last else 1, now=now,
                     since=last.created if last else now, articles=tuple(chosen), rhythm=rhythm)


def rhythm_preview(config, rhythm: str, articles: list[Article], now: datetime):
    """`preview_plan` for `publisher newsletter preview --rhythm`: never creates a database
    (without one, nobody is subscribed: the plan holds what a new subscriber would get)."""
    from publisher.newsletter.archive import _sqlite_file_exists
    from publisher.store import open_store
    from publisher.store.engine import database_url

    check_rhythm(config, rhythm)
    url = database_url(config)
    if url.startswith("sqlite") and not _sqlite_file_exists(url):
        return None
    store = open_store(config)
    try:
        return preview_plan(config, store, rhythm, articles, now)
    finally:
        store.close()
