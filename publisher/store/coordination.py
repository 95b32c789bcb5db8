"""What processes on many machines agree on through the database: a lease naming the one
`publisher run` that schedules, and the next free send slot of a rate limit shared by every
worker.

Both are single rows changed inside one transaction holding the row's lock (PostgreSQL:
SELECT ... FOR UPDATE; SQLite: BEGIN IMMEDIATE, one writer), so concurrent callers queue up
and each sees the other's result. Times are seconds since the epoch by the database's clock
on PostgreSQL (machines' clocks may disagree), by this machine's on SQLite (one machine).
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from publisher.store.tables import leases, rate_limits


def clock(conn: Connection) -> float:
    """Now, in seconds since the epoch, as every process sharing this database sees it."""
    if conn.dialect.name == "postgresql":
        return float(conn.execute(text("SELECT extract(epoch FROM clock_timestamp())")).scalar())
    return time.time()


def insert_ignoring_conflicts(conn: Connection, table):
    """INSERT ... ON CONFLICT DO NOTHING, in this connection's dialect."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing()


def insert_missing(conn: Connection, table, **values) -> bool:
    """Insert one row unless its key is taken; whether the row was new."""
    return conn.execute(insert_ignoring_conflicts(conn, table).values(**values)).rowcount == 1


class Coordination:
    engine: Engine

    def reserve_sends(self, name: str, count: int, rate: float) -> float:
        """Reserve the next `count` send slots of the shared limit `name` (`rate` per second);
        returns the seconds to wait before the first, the others following 1/rate apart."""
        with self.engine.begin() as conn:
            now = clock(conn)
            insert_missing(conn, rate_limits, name=name, next_free=now)
            query = select(rate_limits.c.next_free).where(rate_limits.c.name == name)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            slot = max(conn.execute(query).scalar_one(), now)
            conn.execute(update(rate_limits).where(rate_limits.c.name == name)
                         .values(next_free=slot + count / rate))
        return slot - now

    def take_lease(self, name: str, owner: str, seconds: float) -> bool:
        """Hold (or renew) the lease `name` for `seconds` unless another owner's has not run
        out; whether `owner` holds it now."""
        with self.engine.begin() as conn:
            now = clock(conn)
            if insert_missing(conn, leases, name=name, owner=owner, expires=now + seconds):
                return True
            mine_or_free = (leases.c.owner == owner) | (leases.c.expires < now)
            return conn.execute(
                update(leases).where(leases.c.name == name, mine_or_free)
                .values(owner=owner, expires=now + seconds)
            ).rowcount == 1

    def drop_lease(self, name: str, owner: str) -> None:
        """Give the lease up at once (a clean stop): a standby takes it at its next try."""
        with self.engine.begin() as conn:
            conn.execute(update(leases).where(leases.c.name == name, leases.c.owner == owner)
                         .values(expires=0.0))

    def lease_holder(self, name: str) -> tuple[str, float] | None:
        """(owner, seconds left) of the lease, or None when nobody holds it."""
        with self.engine.begin() as conn:
            now = clock(conn)
            row = conn.execute(select(leases).where(leases.c.name == name)).first()
        return (row.owner, row.expires - now) if row and row.expires > now else None
