"""The ledger at work: claim deliveries, send them over reused connections, mark them.

    report = send_deliveries(store, issue_id, compose, transport, sender, settings)

A delivery is claimed (under a lease, by "host:pid"), sent, then marked sent; outcomes are
committed in batches, at least every `COMMIT_EVERY` outcomes and every `COMMIT_AFTER` seconds.
Kill the process at any moment and send again: the dead sender's claims come back at once
(same host) or when their lease ends, so nobody is lost and at most the messages in flight at
the crash plus those sent in the last quarter second (never more than about `COMMIT_EVERY`)
go out twice (with the same Message-ID). A 4xx, a dropped
connection or a timeout is retried with exponential backoff. A 5xx to RCPT fails that
delivery with its reason and counts as a hard bounce; a 5xx to DATA (the content refused)
fails it without a bounce, and `REJECTS_IN_A_ROW` of those stop the send; a 5xx to the
greeting, EHLO, AUTH or MAIL FROM (the server refuses us) stops the send at once. A stopped
send leaves the rest queued and raises one DeliveryError. A server that cannot be reached
pauses the whole send, with backoff, and after `max_attempts` pauses stops it cleanly, leaving
the rest queued.
An unsubscribe takes effect at once: someone who leaves is never claimed again, and the
deliveries this sender already holds for them (claimed, not yet on the wire) are skipped: while
deliveries are in flight, the ledger asks the store every `UNSUBSCRIBED_AFTER` seconds which of
their subscribers are no longer active (one query on primary keys), and the sending threads
look at that set just before a message's MAIL goes out.

This thread claims and settles; the sending is another's. To a plain SMTP server that offers
PIPELINING, one thread drives every connection (`publisher.mail.pipelining`); otherwise (TLS, a
lock-step server, the outbox) each connection has a thread of its own (`sending.threaded_worker`). Forked
sender processes (`mail.processes`) are in `publisher.mail.processes`.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from datetime import datetime, timedelta, timezone

from publisher.errors import DeliveryError
from publisher.mail.journal import Journal, replay
from publisher.mail.pipelining import pipelined_connection, pipelined_worker
from publisher.mail.sending import (  # noqa: F401 - Compose, Progress: the callers' types
    Compose,
    Progress,
    RateLimiter,
    SendReport,
    SendSettings,
    threaded_worker,
)
from publisher.mail.transport import Transport
from publisher.models import Delivery
from publisher.store import Store, StoreError

log = logging.getLogger("publisher.mail.delivery")
OWNER = f"{socket.gethostname()}:{os.getpid()}"
COMMIT_EVERY = 50  # outcomes: a commit at least this often (fewer if batch_size is smaller)
COMMIT_AFTER = 0.25  # seconds: and at least this often while outcomes are waiting
RECLAIM_AFTER = 1.0  # seconds: after a claim that found fewer than it asked, before the next
REJECTS_IN_A_ROW = 5  # DATA refused with a 5xx this many times in a row: the content is at fault
FIRST_PASS_WAIT = 5.0  # seconds: a first pass ends rather than wait longer for a retry
UNSUBSCRIBED_AFTER = 0.25  # seconds: who left meanwhile is looked up this often while sending


def utcnow() -> datetime:
    return datetime.now(timezone.utc)



def _stopped(exc: DeliveryError | None, what: str) -> DeliveryError:
    where = getattr(exc, "where", "")
    server = f"SMTP {where}" if where else "the mail server"
    return DeliveryError(f"{server} {what} ({exc}): the send is stopped, the rest stays "
                         "queued; fix it and run the send again")


class _Batch:
    """Outcomes waiting for one commit."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.retries: list[tuple[int, str, datetime]] = []
        self.failures: list[tuple[int, str]] = []
        self.skipped: list[int] = []
        self.released: list[int] = []
        self.size = 0  # outcomes the send loop added since the last commit

    def __len__(self) -> int:
        return self.size

    def commit(self, store: Store) -> None:
        if self.sent or self.retries or self.failures or self.skipped:
            store.settle_deliveries(self.sent, self.retries, self.failures, utcnow(), self.skipped)
        if self.released:
            store.release_deliveries(self.released)
        self.__init__()  # type: ignore[misc]


def _dead(host: str, pid: int) -> bool:
    """Whether sender "host:pid" is known to be gone: a process of this host that is not
    this one and no longer exists."""
    if host != socket.gethostname() or f"{host}:{pid}" == OWNER:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        pass  # alive, someone else's
    return False


def release_dead_claims(store: Store, issue_id: int) -> int:
    """Take back at once the claims of senders on this host whose process is gone."""
    released = 0
    for owner in store.claim_owners(issue_id):
        name, _, pid = owner.rpartition(":")
        if pid.isdigit() and _dead(name, int(pid)):
            released += store.release_claims_of(issue_id, owner)
    return released


def send_deliveries(store: Store, issue_id: int, compose: Compose, transport: Transport,
                    sender: str, settings: SendSettings, progress: Progress | None = None,
                    stop: threading.Event | None = None, *,
                    wait_for_others: bool = True) -> SendReport:
    """Send every due delivery of an issue; returns when none is left (retries included),
    or soon after `stop` is set: messages in flight finish, the rest stay queued. Without
    `wait_for_others`, it does not wait for the claims of other senders to be settled or to
    run out (they are its siblings in `processes.send_in_processes`, which sees to them)."""
    report = SendReport(issue_id)
    started = time.monotonic()
    journal = None
    if settings.journal is not None:  # what dead senders sent: into the ledger first
        replay(store, settings.journal, _dead)
        journal = Journal.open(settings.journal, OWNER, settings.journal_fsync)
    release_dead_claims(store, issue_id)
    counts = store.delivery_counts(issue_id)
    total = counts.get("queued", 0) + counts.get("claimed", 0)
    work: queue.Queue = queue.Queue()
    results: queue.Queue = queue.Queue()
    limiter = RateLimiter(settings.rate_limit, store)
    cancelled: set[int] = set()  # deliveries in flight whose subscriber left: not to be sent
    connections = max(1, min(settings.connections, total))
    threads: list[threading.Thread] = []  # started with the first claim that finds the server

    def start_sending() -> None:
        """Open the first connection (DeliveryError: the server is down or refuses us), then
        start the sending thread(s)."""
        first = pipelined_connection(transport)
        if first is not None:  # one thread drives every connection (see publisher.mail.pipelining)
            threads.append(threading.Thread(
                target=pipelined_worker, daemon=True, name="sender",
                args=(transport, first, sender, compose, work, results, limiter, connections,
                      cancelled, journal)))
        else:
            threads.extend(threading.Thread(
                target=threaded_worker, daemon=True, name=f"sender-{i}",
                args=(transport, sender, compose, work, results, limiter, cancelled, journal))
                for i in range(connections))
        for t in threads:
            t.start()

    def pause(down: DeliveryError) -> None:
        """The server cannot be reached: no claim for a while, twice as long each time in a
        row; past `max_attempts` pauses the send stops, the rest queued."""
        nonlocal pauses, paused_until
        pauses += 1
        if pauses > settings.max_attempts:
            raise DeliveryError(f"{down}; gave up after {settings.max_attempts} tries: run the "
                                "send again to resume") from None
        wait = settings.backoff * 2 ** (pauses - 1)
        paused_until = time.monotonic() + wait
        log.warning("issue send paused for %.0f s: %s", wait, down)

    inflight: dict[int, Delivery] = {}
    batch = _Batch()
    pauses, paused_until = 0, 0.0
    rejects = 0  # DATA refused in a row
    done = 0
    outcomes: list = []
    chunk = 0  # deliveries a hand-over to the sending thread(s), once they are started
    commit_every = min(settings.batch_size, COMMIT_EVERY)
    commit_at = 0.0  # when the oldest outcome waiting in `batch` must be committed
    drained_until = 0.0  # a claim found fewer than it asked for: none again before this
    look_at = time.monotonic() + UNSUBSCRIBED_AFTER  # when to ask who left meanwhile
    try:
        while stop is None or not stop.is_set():
            now = time.monotonic()
            if (len(inflight) < settings.batch_size and now >= paused_until
                    and (not inflight or now >= drained_until)):
                claimed = store.claim_deliveries(issue_id, settings.batch_size, settings.lease,
                                                 utcnow(), OWNER)
                if len(claimed) < settings.batch_size:
                    drained_until = now + RECLAIM_AFTER
                if claimed and not threads:
                    try:
                        start_sending()
                    except DeliveryError as exc:  # one try answers for the whole batch
                        batch.released.extend(d.id for d in claimed)
                        if exc.permanent:
                            raise _stopped(exc, "refused the sender") from None
                        claimed = []
                        pause(exc)
                if threads and not chunk:
                    chunk = _chunk_size(settings, len(threads))
                for d in claimed:
                    inflight[d.id] = d
                for i in range(0, len(claimed), chunk or 1):
                    work.put(claimed[i:i + chunk])
            if not inflight:
                batch.commit(store)
                if time.monotonic() < paused_until:
                    time.sleep(min(paused_until - time.monotonic(), 1.0))
                    continue
                due = store.next_delivery_time(issue_id, utcnow(), leases=wait_for_others)
                if due is None or (settings.first_pass
                                   and (due - utcnow()).total_seconds() > FIRST_PASS_WAIT):
                    break
                time.sleep(min(max((due - utcnow()).total_seconds(), 0.01), 1.0))
                continue
            if not outcomes:
                now = time.monotonic()
                if now >= look_at:  # who left since their delivery was claimed: skip them
                    look_at = now + UNSUBSCRIBED_AFTER
                    gone = store.inactive_subscribers({d.subscriber_id for d in inflight.values()})
                    if gone:
                        cancelled.update(i for i, d in inflight.items() if d.subscriber_id in gone)
                wait = min(commit_at if len(batch) else now + 0.5, look_at) - now
                try:
                    outcomes = results.get(timeout=max(wait, 0.001))
                except queue.Empty:
                    batch.commit(store)
                    if not any(t.is_alive() for t in threads):  # a bug killed them: no hang
                        raise DeliveryError("the sending thread stopped (its traceback is "
                                            "above): the rest stays queued") from None
                    continue
            if journal is not None and journal.broken is not None:
                why = journal.broken.strerror or journal.broken
                raise DeliveryError(f"journal {journal.path}: {why}: the send is stopped, the "
                                    "rest stays queued; fix it and run the send again") from None
            kind, d, exc = outcomes.pop()
            del inflight[d.id]
            if cancelled:
                cancelled.discard(d.id)  # settled (or released): a later claim is a new question
            settled = kind in ("sent", "skipped", "failed")
            if kind == "sent":
                batch.sent.append(d.id)
                report.sent += 1
                if pauses:
                    log.warning("issue send resumed: the mail server answers again")
                pauses = rejects = 0
            elif kind == "skipped":
                batch.skipped.append(d.id)
                report.skipped += 1
            elif kind == "refused":  # the server will take nothing from us: stop at once
                batch.released.append(d.id)
                raise _stopped(exc, "refused the sender")
            elif kind == "down":  # the server cannot be reached: give it back, pause, retry
                batch.released.append(d.id)
                if time.monotonic() >= paused_until:  # one pause for the messages it caught
                    pause(exc)
            elif kind == "retry" and (later := _retry_time(d, settings)) is not None:
                batch.retries.append((d.id, str(exc), later))
                report.retried += 1
            else:
                settled = True
                reason = str(exc) if kind != "retry" else \
                    f"gave up after {d.attempts} tries in {settings.retry_for}: {exc}"
                batch.failures.append((d.id, reason))
                report.failed.append((d.email, reason))
                if kind == "bounced":
                    store.record_bounce(d.email, "hard", reason, f"smtp:{issue_id}:{d.id}",
                                        utcnow(), settings.bounce_threshold)
                if kind == "rejected":
                    rejects += 1
                    if rejects >= REJECTS_IN_A_ROW:
                        raise _stopped(exc, f"refused the message {rejects} times in a row")
                else:
                    rejects = 0
            done += settled
            batch.size += 1  # each outcome above went into one of its lists
            if batch.size == 1:
                commit_at = time.monotonic() + COMMIT_AFTER
            if batch.size >= commit_every or time.monotonic() >= commit_at:
                batch.commit(store)
            if progress and not outcomes:
                progress(done, total)
    except StoreError as exc:  # what went out is in the journal: the next send records it
        raise StoreError(f"{exc}: the send is stopped; what was sent is recorded at the next "
                         "send, the rest stays queued") from None
    finally:
        results.put(outcomes)  # those taken but not yet counted
        committed = _stop(threads, work, results, batch, inflight, store, report)
        if journal is not None:
            journal.close(committed)
        report.elapsed = time.monotonic() - started
    return report


def _chunk_size(settings: SendSettings, threads: int) -> int:
    """Deliveries per hand-over to a sending thread. What a thread has taken is sent even after
    a stop, so under a rate limit a hand-over is at most half a second's worth of that thread's
    share: a stop then leaves the rest queued instead of waiting out a whole chunk."""
    size = max(1, min(25, settings.batch_size // (2 * threads)))
    if settings.rate_limit:
        size = max(1, min(size, int(settings.rate_limit / (2 * threads))))
    return size


def _retry_time(d: Delivery, settings: SendSettings) -> datetime | None:
    """When to try a temporary failure again, as an MTA does: backoff doubling up to
    `max_backoff`, for `retry_for` after the first try; None once that time is up."""
    now = utcnow()
    later = now + timedelta(seconds=min(settings.max_backoff,
                                        settings.backoff * 2 ** min(d.attempts - 1, 30)))
    if later > (d.first_attempt or now) + settings.retry_for:
        return None
    return later


def _stop(threads, work: queue.Queue, results: queue.Queue, batch: _Batch, inflight: dict,
          store: Store, report: SendReport) -> bool:
    """Give back what was never started, let the workers end, record (and count in `report`)
    what they sent; the rest they held, or held when a bug killed them, goes back to the
    queue. Whether every outcome is in the ledger (else the journal keeps what was sent)."""
    while True:
        try:
            chunk = work.get_nowait()
        except queue.Empty:
            break
        for d in chunk or ():
            batch.released.append(d.id)
            inflight.pop(d.id, None)
    for _ in threads:
        work.put(None)
    for t in threads:
        t.join(timeout=30)
    while True:
        try:
            done = results.get_nowait()
        except queue.Empty:
            break
        for kind, d, _ in done:
            if inflight.pop(d.id, None) is not None:
                (batch.sent if kind == "sent" else batch.released).append(d.id)
                report.sent += kind == "sent"
    alive = any(t.is_alive() for t in threads)
    if not alive:  # what a dead worker held: nobody will report it
        batch.released.extend(inflight)
    try:
        batch.commit(store)
    except Exception:  # noqa: BLE001 - the first error is the one to report
        return False
    return not alive
