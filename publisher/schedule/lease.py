"""Exactly one `publisher run` schedules: the holder of the store's "scheduler" lease.

    lead = Leadership(store, takeover=15.0)
    if lead.acquire(stopping):       # blocks while another process holds the lease
        thread(lead.keep, stopping)   # renews it; sets `stopping` if it is lost
        ...schedule...
    lead.release()                   # a clean stop hands over at once

The lease is a row in the store (PostgreSQL or SQLite alike, one code path): it lasts 3/4 of
`takeover` and is renewed every 1/4, and standbys try every 1/4, so when the holder dies a
standby schedules within `takeover` seconds. A holder that cannot renew in time (the database
is unreachable, or a long pause let another take over) stops scheduling rather than risk two
schedulers; each job's (job, slot) row would keep a slot from running twice anyway.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from publisher.mail.delivery import OWNER

log = logging.getLogger("publisher.run")
LEASE = "scheduler"


class Leadership:
    def __init__(self, store, takeover: float, owner: str | None = None):
        self.store = store
        self.ttl, self.every = takeover * 0.75, takeover / 4
        self.owner = owner or f"{OWNER}:{uuid.uuid4().hex[:6]}"
        self.held = False

    def _take(self) -> bool | None:
        """Whether this process holds the lease now; None when the store could not say."""
        try:
            return self.store.take_lease(LEASE, self.owner, self.ttl)
        except Exception as exc:  # noqa: BLE001 - the database may be back at the next try
            log.warning("scheduler lease: %s", str(exc).strip().splitlines()[0])
            return None

    def acquire(self, stop: threading.Event) -> bool:
        """Wait until this process holds the lease (True) or `stop` is set (False)."""
        waited = False
        while not stop.is_set():
            if self._take():
                self.held = True
                if waited:
                    log.info("taking over: this process schedules now")
                return True
            if not waited:
                log.info("standing by: another process schedules; this one will within "
                         "%.0f s of it stopping", self.ttl + self.every)
                waited = True
            stop.wait(self.every)
        return False

    def keep(self, stop: threading.Event) -> None:
        """Renew the lease until `stop`; set `stop` when it is lost."""
        renewed = time.monotonic()
        while not stop.wait(self.every):
            held = self._take()
            if held:
                renewed = time.monotonic()
            elif held is False or time.monotonic() - renewed > self.ttl - self.every / 2:
                log.error("scheduler lease lost (another process may schedule now); stopping")
                self.held = False
                stop.set()
                return

    def release(self) -> None:
        if self.held:
            self.held = False
            try:
                self.store.drop_lease(LEASE, self.owner)
            except Exception:  # noqa: BLE001 - it runs out by itself
                pass
