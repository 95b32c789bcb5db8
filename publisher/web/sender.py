"""The background sender of the web server: confirmation and welcome mails leave here, never
inside a request, so a slow or hanging mail server cannot hold a page, and a request for a new,
pending, active or departed address does the same work (one INSERT) and answers the same.

The limits are applied here, counted in the store (so every process shares them): at most
`web.mailbox_per_hour` confirmations to one mailbox (`victim+1@`, `victim+2@` are one) and
`web.confirmations_per_hour` in all. Expired pending subscriptions and old notices are purged.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from publisher.audience import subscribers as uc
from publisher.audience.notices import Notices
from publisher.store import QueuedNotice, Store

log = logging.getLogger("publisher.web.sender")

HOUR = timedelta(hours=1)
ATTEMPTS = 4  # tries of one notice before it is given up (logged)


class NoticeSender:
    def __init__(self, config, store: Store, notices: Notices, poll: float = 5.0):
        self.config, self.store, self.notices, self.poll = config, store, notices, poll
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._purged = datetime.min.replace(tzinfo=timezone.utc)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="notices", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 3.0) -> None:
        """Stop after the mail in hand (a hanging server is left to its daemon thread)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                while self.drain(datetime.now(timezone.utc)) and not self._stopping.is_set():
                    pass
                self.purge(datetime.now(timezone.utc))
            except Exception as exc:  # noqa: BLE001 - the web server goes on; retried later
                log.warning("notices: %s", str(exc).splitlines()[0] if str(exc) else exc)
            self._wake.wait(self.poll)

    def purge(self, now: datetime) -> None:
        if now - self._purged < timedelta(minutes=5):
            return
        self._purged = now
        gone, expired = self.store.purge(now - 2 * HOUR,
                                         now - timedelta(hours=self.config.web.confirm_hours))
        if expired:
            log.info("notices: %d pending subscriptions expired", expired)

    def drain(self, now: datetime) -> int:
        """Send what is due; the number of notices handled."""
        batch = self.store.claim_notices(now, lease=max(60.0, 3 * self.config.mail.timeout))
        for notice in batch:
            if self._stopping.is_set():
                break  # the lease runs out and the next start sends it
            try:
                status = self.handle(notice, datetime.now(timezone.utc))
            except Exception as exc:  # noqa: BLE001 - the mail server's fault: try again later
                retry = notice.attempts + 1 < ATTEMPTS
                log.warning("%s mail to %s not sent%s: %s", notice.kind, notice.email,
                            " (will retry)" if retry else "", exc)
                later = now + timedelta(seconds=30 * 2 ** notice.attempts) if retry else None
                self.store.settle_notice(notice.id, "failed", now, retry_at=later)
                continue
            self.store.settle_notice(notice.id, status, datetime.now(timezone.utc))
        return len(batch)

    def handle(self, notice: QueuedNotice, now: datetime) -> str:
        if notice.kind == "welcome":
            sub = self.store.get_subscriber(notice.email)
            if sub is None or sub.status != "active":
                return "skipped"
            last = self.store.last_issue()
            self.notices.welcome(sub, last.number if last else None)
            return "sent"
        outcome = "skipped"  # an active subscriber gets nothing

        def confirm(sub, asked) -> None:
            nonlocal outcome
            outcome = self._confirmation(notice, sub, asked, now)

        uc.request(self.store, notice.email, notice.data.get("name", ""),
                   notice.data.get("categories", []), now, confirm,
                   str(notice.data.get("client", "")), str(notice.data.get("rhythm", "")))
        return outcome

    def _confirmation(self, notice: QueuedNotice, sub, asked, now: datetime) -> str:
        web = self.config.web
        if self.store.notices_sent("subscribe", now - HOUR, notice.mailbox) >= web.mailbox_per_hour:
            log.info("confirmation to %s not sent: %d to this mailbox in the last hour",
                     notice.email, web.mailbox_per_hour)
            return "limited"
        if self.store.notices_sent("subscribe", now - HOUR) >= web.confirmations_per_hour:
            log.warning("confirmation to %s not sent: web.confirmations_per_hour (%d) reached",
                        notice.email, web.confirmations_per_hour)
            return "limited"
        self.notices.confirmation(sub, asked)
        return "sent"
