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
lock-step server, the outbox) each connection has a thread of its own (`_worker`). Forked
sender processes (`mail.processes`) are in `publisher.mail.processes`.
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from publisher.errors import DeliveryError
from publisher.mail.mailer import Prepared, Transport
from publisher.models import Delivery
from publisher.mail.pipelining import pipelined_connection, pipelined_worker
from publisher.store import Store

Compose = Callable[[Delivery], "bytes | Prepared | None"]  # None: nothing in this issue for them
Progress = Callable[[int, int], None]  # (settled, total)
OWNER = f"{socket.gethostname()}:{os.getpid()}"
COMMIT_EVERY = 50  # outcomes: a commit at least this often (fewer if batch_size is smaller)
COMMIT_AFTER = 0.25  # seconds: and at least this often while outcomes are waiting
REPORT_AFTER = 0.02  # seconds: a worker hands back what it sent at least this often
RECLAIM_AFTER = 1.0  # seconds: after a claim that found fewer than it asked, before the next
REJECTS_IN_A_ROW = 5  # DATA refused with a 5xx this many times in a row: the content is at fault
UNSUBSCRIBED_AFTER = 0.25  # seconds: who left meanwhile is looked up this often while sending


@dataclass(frozen=True)
class SendSettings:
    connections: int = 4
    batch_size: int = 200
    lease: timedelta = timedelta(minutes=5)
    max_attempts: int = 5
    backoff: float = 30.0  # seconds before the first retry; doubled at each next one
    rate_limit: float = 0.0  # messages per second over all connections; 0: no limit
    bounce_threshold: int = 3

    @classmethod
    def from_config(cls, mail) -> "SendSettings":
        return cls(connections=mail.connections, batch_size=mail.batch_size,
                   max_attempts=mail.max_attempts, backoff=mail.retry_backoff,
                   rate_limit=mail.rate_limit, bounce_threshold=mail.bounce_threshold,
                   lease=timedelta(seconds=mail.lease))


@dataclass
class SendReport:
    issue_id: int
    sent: int = 0
    retried: int = 0  # temporary failures scheduled for another try
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (address, reason)
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed else 0.0


class RateLimiter:
    """At most `rate` sends per second over every thread; 0 means no limit. With a store, over
    every process sharing it too (the provider's limit is global): slots are reserved there a
    quarter second's worth at a time, then spent here 1/rate apart."""

    def __init__(self, rate: float, store: Store | None = None, name: str = "mail"):
        self.interval = 1.0 / rate if rate else 0.0
        self.rate, self.store, self.name = rate, store, name
        self.grant = max(1, min(100, int(rate / 4)))
        self.lock = threading.Lock()
        self.next = 0.0
        self.left = 0  # slots reserved in the store, not yet spent

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            if self.store is None:
                slot = max(self.next, time.monotonic())
            else:
                if not self.left:
                    delay = self.store.reserve_sends(self.name, self.grant, self.rate)
                    self.next, self.left = time.monotonic() + delay, self.grant
                slot = self.next
                self.left -= 1
            self.next = slot + self.interval
        delay = slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _worker(transport: Transport, sender: str, compose: Compose, work: queue.Queue,
            results: queue.Queue, limiter: RateLimiter, cancelled=frozenset()) -> None:
    """One connection, reused for every message it takes from `work` (in small chunks: one
    queue hand-off per chunk, not per message). Outcomes go back at the end of a chunk or
    after `REPORT_AFTER` seconds, whichever first, so they can be committed soon. A delivery
    in `cancelled` (its subscriber left meanwhile) is skipped if it is not yet sent."""
    conn = None
    while True:
        chunk = work.get()
        if chunk is None:
            break
        done: list = []
        report_at = time.monotonic() + REPORT_AFTER
        for d in chunk:
            if done and time.monotonic() >= report_at:
                results.put(done)
                done, report_at = [], time.monotonic() + REPORT_AFTER
            try:
                data = compose(d)
                if data is None:
                    done.append(("skipped", d, None))
                    continue
                if conn is None:
                    try:
                        conn = transport.connect()
                    except DeliveryError as exc:
                        done.append(("refused" if exc.permanent else "down", d, exc))
                        continue
                limiter.wait()
                if cancelled and d.id in cancelled:  # unsubscribed meanwhile
                    done.append(("skipped", d, None))
                    continue
                conn.send(sender, d.email, data)
                done.append(("sent", d, None))
            except DeliveryError as exc:
                done.append((_kind(exc), d, exc))
                if conn is not None and (exc.code is None or exc.code == 421):
                    conn.close()  # the server hung up or will: open a new one for the next
                    conn = None
            except Exception as exc:  # noqa: BLE001 - a bug composing one message fails only it
                error = DeliveryError(f"{type(exc).__name__}: {exc}", permanent=True)
                done.append(("failed", d, error))
        results.put(done)
    if conn is not None:
        conn.close()


def _kind(exc: DeliveryError) -> str:
    """What a failed send means: "retry" (temporary), "bounced" (5xx to RCPT: this address),
    "rejected" (5xx to DATA: this message), "refused" (5xx to EHLO or MAIL FROM: us), or
    "failed" (anything else permanent, e.g. an address the server cannot take)."""
    if not exc.permanent:
        return "retry"
    stage = getattr(exc, "stage", "")
    if exc.code is None or not stage:
        return "failed"
    return {"rcpt": "bounced", "data": "rejected"}.get(stage, "refused")


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


def release_dead_claims(store: Store, issue_id: int) -> int:
    """Take back at once the claims of senders on this host whose process is gone."""
    host = socket.gethostname()
    released = 0
    for owner in store.claim_owners(issue_id):
        name, _, pid = owner.rpartition(":")
        if name != host or not pid.isdigit() or owner == OWNER:
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            released += store.release_claims_of(issue_id, owner)
        except PermissionError:
            pass  # alive, someone else's
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
                      cancelled)))
        else:
            threads.extend(threading.Thread(
                target=_worker, daemon=True, name=f"sender-{i}",
                args=(transport, sender, compose, work, results, limiter, cancelled))
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
        paused_until = time.monotonic() + settings.backoff * 2 ** (pauses - 1)

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
                    chunk = max(1, min(25, settings.batch_size // (2 * len(threads))))
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
                if due is None:
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
            kind, d, exc = outcomes.pop()
            del inflight[d.id]
            if cancelled:
                cancelled.discard(d.id)  # settled (or released): a later claim is a new question
            settled = kind in ("sent", "skipped", "failed")
            if kind == "sent":
                batch.sent.append(d.id)
                report.sent += 1
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
            elif kind == "retry" and d.attempts < settings.max_attempts:
                later = utcnow() + timedelta(seconds=settings.backoff * 2 ** (d.attempts - 1))
                batch.retries.append((d.id, str(exc), later))
                report.retried += 1
            else:
                settled = True
                reason = str(exc) if kind != "retry" else f"gave up after {d.attempts} tries: {exc}"
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
    finally:
        results.put(outcomes)  # those taken but not yet counted
        _stop(threads, work, results, batch, inflight, store)
        report.elapsed = time.monotonic() - started
    return report


def _stop(threads, work: queue.Queue, results: queue.Queue, batch: _Batch, inflight: dict,
          store: Store) -> None:
    """Give back what was never started, let the workers end, record what they finished;
    what a worker that died of a bug held goes back to the queue."""
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
    if not any(t.is_alive() for t in threads):  # what a dead worker held: nobody will report it
        batch.released.extend(inflight)
    try:
        batch.commit(store)
    except Exception:  # noqa: BLE001 - the first error is the one to report
        pass
