"""What a send is given and gives back, the rate limit shared by its threads, and the
lock-step sender: one thread per connection, for TLS, a server without PIPELINING or the outbox
(a plain server that pipelines gets `publisher.mail.pipelining` instead). Both senders share
one contract: chunks of deliveries in from `work` (None: finish, give back the rest), lists
of (kind, delivery, error) out to `results`."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from publisher.errors import DeliveryError
from publisher.mail.smtp import outcome_kind
from publisher.models import Delivery

if TYPE_CHECKING:
    from publisher.mail.message import Prepared
    from publisher.mail.transport import Transport
    from publisher.store import Store

Compose = Callable[[Delivery], "bytes | Prepared | None"]  # None: nothing in this issue for them
Progress = Callable[[int, int], None]  # (settled, total)
REPORT_AFTER = 0.02  # seconds: a worker hands back what it sent at least this often


@dataclass(frozen=True)
class SendSettings:
    connections: int = 4
    batch_size: int = 200
    lease: timedelta = timedelta(minutes=5)
    max_attempts: int = 5  # pauses in a row of a server that cannot be reached
    backoff: float = 30.0  # seconds before the first retry; doubled at each next one
    max_backoff: float = 3600.0  # seconds: the doubling stops there
    retry_for: timedelta = timedelta(hours=24)  # after a delivery's first try: then it fails
    rate_limit: float = 0.0  # messages per second over all connections; 0: no limit
    bounce_threshold: int = 3
    journal: Path | None = None  # folder of the journals of accepted deliveries (var/journal)
    journal_fsync: bool = False  # a disk flush per message: survives a power loss too
    first_pass: bool = False  # end when what is left waits for a retry (or a lease) later

    @classmethod
    def from_config(cls, mail, var: Path | None = None) -> "SendSettings":
        return cls(connections=mail.connections, batch_size=mail.batch_size,
                   max_attempts=mail.max_attempts, backoff=mail.retry_backoff,
                   rate_limit=mail.rate_limit, bounce_threshold=mail.bounce_threshold,
                   lease=timedelta(seconds=mail.lease), retry_for=mail.retry_for,
                   max_backoff=max(mail.retry_backoff, mail.retry_max_backoff),
                   journal=var / "journal" if var is not None else None,
                   journal_fsync=mail.journal_fsync)


@dataclass
class SendReport:
    issue_id: int
    sent: int = 0
    retried: int = 0  # temporary failures scheduled for another try
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (address, reason)
    elapsed: float = 0.0
    waiting: int = 0  # deliveries left for a later retry (a first pass ended before them)
    retry_at: datetime | None = None  # when the next of them is due

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
                    try:
                        delay = self.store.reserve_sends(self.name, self.grant, self.rate)
                    except Exception:  # noqa: BLE001 - the database is gone: pace here alone;
                        delay = 0.0  # the send loop meets the error and stops in one line
                    self.next = time.monotonic() + delay
                    self.left = self.grant
                slot = self.next
                self.left -= 1
            self.next = slot + self.interval
        delay = slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def threaded_worker(transport: Transport, sender: str, compose: Compose, work: queue.Queue,
            results: queue.Queue, limiter: RateLimiter, cancelled=frozenset(),
            journal=None) -> None:
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
                if journal is not None:  # written down before the next message goes out
                    journal.record(d.id)
                done.append(("sent", d, None))
            except DeliveryError as exc:
                done.append((outcome_kind(exc), d, exc))
                if conn is not None and (exc.code is None or exc.code == 421):
                    conn.close()  # the server hung up or will: open a new one for the next
                    conn = None
            except Exception as exc:  # noqa: BLE001 - a bug composing one message fails only it
                error = DeliveryError(f"{type(exc).__name__}: {exc}", permanent=True)
                done.append(("failed", d, error))
        results.put(done)
    if conn is not None:
        conn.close()
