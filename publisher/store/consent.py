"""The store's consent queries: the suppression list of forgotten addresses, the opt-in
record, and settings the database keeps about itself (the secret key's fingerprint)."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import Engine, select, update

from publisher.store.coordination import insert_ignoring_conflicts
from publisher.store.tables import settings, subscribers, suppressions


class Consent:
    engine: Engine

    def setting_once(self, name: str, value: str) -> str:
        """The stored value of a setting; `value` is stored first when there is none (the
        first caller wins a race: every caller gets the same answer)."""
        with self.engine.begin() as conn:
            conn.execute(insert_ignoring_conflicts(conn, settings).values(name=name, value=value))
            return conn.execute(select(settings.c.value).where(settings.c.name == name)).scalar()

    def get_setting(self, name: str) -> str | None:
        with self.engine.begin() as conn:
            return conn.execute(select(settings.c.value).where(settings.c.name == name)).scalar()

    def suppress(self, digest: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert_ignoring_conflicts(conn, suppressions)
                         .values(digest=digest, created=now))

    def unsuppress(self, digests: Iterable[str]) -> None:
        digests = list(digests)
        if digests:
            with self.engine.begin() as conn:
                conn.execute(suppressions.delete().where(suppressions.c.digest.in_(digests)))

    def suppressed(self, digests: Iterable[str]) -> set[str]:
        """Which of these digests are on the suppression list."""
        digests, found = list(digests), set()
        with self.engine.begin() as conn:
            for i in range(0, len(digests), 500):
                found.update(conn.execute(select(suppressions.c.digest).where(
                    suppressions.c.digest.in_(digests[i:i + 500]))).scalars())
        return found

    def record_optin(self, email: str, source: str, client: str = "") -> None:
        """Where this person's consent came from: form, import or cli, and from which client
        address (kept, hashed or left out, as the config says)."""
        with self.engine.begin() as conn:
            conn.execute(update(subscribers).where(subscribers.c.email == email)
                         .values(optin_source=source[:16], optin_client=client[:100]))

