"""The store's consent queries: the suppression list of forgotten addresses, the opt-in
record, and settings the database keeps about itself (the secret key's fingerprint)."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import Engine, delete, insert, select, update

from publisher.store.coordination import insert_ignoring_conflicts
from publisher.store.tables import bounces, deliveries, issues, settings, subscribers, suppressions


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

    def set_setting(self, name: str, value: str | None) -> None:
        """Store `value` under `name` (the dashboard's password hash...); None removes it."""
        with self.engine.begin() as conn:
            conn.execute(delete(settings).where(settings.c.name == name))
            if value is not None:
                conn.execute(insert(settings).values(name=name, value=value))

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

    def record_optin(self, emails: str | Iterable[str], source: str, client: str = "") -> None:
        """Where these people's consent came from: form, import or cli, and from which client
        address (kept, hashed or left out, as the config says). One statement a 500."""
        emails = [emails] if isinstance(emails, str) else list(emails)
        with self.engine.begin() as conn:
            for i in range(0, len(emails), 500):
                conn.execute(update(subscribers).where(subscribers.c.email.in_(emails[i:i + 500]))
                             .values(optin_source=source[:16], optin_client=client[:100]))

    def deliveries_of(self, subscriber_id: int) -> list[dict]:
        """One person's deliveries: issue number, status, when sent, attempts, last error."""
        d = deliveries
        with self.engine.begin() as conn:
            rows = conn.execute(select(issues.c.number, d.c.status, d.c.sent, d.c.attempts,
                                       d.c.error).join(issues, issues.c.id == d.c.issue_id)
                                .where(d.c.subscriber_id == subscriber_id)
                                .order_by(issues.c.number)).all()
        return [dict(issue=n, status=s, sent=t.isoformat() if t else None, attempts=a, error=e)
                for n, s, t, a, e in rows]

    def bounces_of(self, subscriber_id: int) -> list[dict]:
        with self.engine.begin() as conn:
            rows = conn.execute(select(bounces.c.kind, bounces.c.reason, bounces.c.created)
                                .where(bounces.c.subscriber_id == subscriber_id)
                                .order_by(bounces.c.id)).all()
        return [dict(kind=k, reason=r, created=c.isoformat()) for k, r, c in rows]
