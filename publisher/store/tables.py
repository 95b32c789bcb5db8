"""The schema: SQLAlchemy Core tables shared by the store and the Alembic migrations."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend (SQLite drops zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the store")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("status", String(16), nullable=False, index=True),
    Column("categories", Text, nullable=False, server_default="[]"),  # JSON list
    Column("created", UTCDateTime, nullable=False),
    Column("confirmed", UTCDateTime),
    Column("unsubscribed", UTCDateTime),
    Column("hard_bounces", Integer, nullable=False, server_default="0"),
    Column("optin_source", String(16), nullable=False, server_default=""),  # form, import, cli
    Column("optin_client", String(100), nullable=False, server_default=""),  # kept or hashed
    Column("rhythm", String(32), nullable=False, server_default=""),  # "": the default rhythm
)

suppressions = Table(  # forgotten addresses: a keyed hash, so import and add refuse them
    "suppressions",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("created", UTCDateTime, nullable=False),
)

settings = Table(  # the store's own facts, e.g. the fingerprint of its secret key
    "settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

issues = Table(
    "issues",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rhythm", String(32), nullable=False, server_default=""),  # "": the one digest
    Column("number", Integer, nullable=False),  # per rhythm
    Column("period", String(200), nullable=False, unique=True),  # two racing senders: one issue
    Column("subject", Text, nullable=False),
    Column("article_ids", Text, nullable=False, server_default="[]"),  # JSON list
    Column("categories", Text, nullable=False, server_default="[]"),  # JSON list
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("queued", UTCDateTime),  # every delivery is in the ledger
    Column("sent", UTCDateTime),  # every delivery is settled
    UniqueConstraint("rhythm", "number", name="uq_issues_rhythm_number"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("issue_id", Integer, ForeignKey("issues.id", ondelete="CASCADE"), nullable=False),
    Column(
        "subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False
    ),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("error", Text, nullable=False, server_default=""),
    Column("claimed_until", UTCDateTime),  # the lease of the sender that claimed it
    Column("claimed_by", String(200), nullable=False, server_default=""),  # "host:pid"
    Column("next_attempt", UTCDateTime),
    Column("first_attempt", UTCDateTime),  # its first claim: retries end mail.retry_for after
    Column("sent", UTCDateTime),
    # JSON list of the issue's articles this subscriber gets; "": all those in their
    # categories. With the issue's article_ids, what each subscriber has received.
    Column("articles", Text, nullable=False, server_default=""),
    UniqueConstraint("issue_id", "subscriber_id"),
    Index("ix_deliveries_claim", "issue_id", "status", "next_attempt"),
)

bounces = Table(
    "bounces",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False
    ),
    Column("kind", String(8), nullable=False),  # hard | soft
    Column("reason", Text, nullable=False, server_default=""),
    Column("source", String(400), nullable=False, unique=True),  # a report counts once
    Column("created", UTCDateTime, nullable=False),
)

leases = Table(  # who holds a role (the scheduling `publisher run`) and until when
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("owner", String(200), nullable=False),  # "host:pid"
    Column("expires", Float, nullable=False),  # seconds since the epoch, by the database's clock
)

rate_limits = Table(  # one budget shared by every worker: the next free send slot
    "rate_limits",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("next_free", Float, nullable=False),  # seconds since the epoch
)

job_runs = Table(  # what `publisher run` did: one row per (job, slot), claimed by inserting it
    "job_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job", String(32), nullable=False),
    Column("slot", UTCDateTime, nullable=False),  # the scheduled fire time (or when it ran)
    Column("trigger", String(16), nullable=False),  # schedule, catch-up, start, change, ...
    Column("owner", String(200), nullable=False, server_default=""),  # "host:pid"
    Column("started", UTCDateTime, nullable=False),
    Column("finished", UTCDateTime),
    Column("status", String(16), nullable=False),  # running, ok, skipped, stopped, error
    Column("summary", Text, nullable=False, server_default=""),
    Column("seconds", Float),
    UniqueConstraint("job", "slot"),
    Index("ix_job_runs_job_started", "job", "started"),
)

# The dashboard's indexes (migration 0007; the prefix ones are per dialect, made there).
Index("ix_subscribers_status_id", subscribers.c.status, subscribers.c.id)
Index("ix_subscribers_created", subscribers.c.created)
Index("ix_subscribers_unsubscribed", subscribers.c.unsubscribed)
Index("ix_deliveries_subscriber", deliveries.c.subscriber_id)
Index("ix_bounces_subscriber", bounces.c.subscriber_id)
notices = Table(  # transactional mails to send outside the web request, then kept an hour or two
    "notices",  # as the record the per-mailbox and global limits count
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # subscribe (a form request) | welcome
    Column("email", String(320), nullable=False),
    Column("mailbox", String(320), nullable=False),  # the address as its provider sees it
    Column("data", Text, nullable=False, server_default="{}"),  # JSON: what the form asked
    Column("created", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),  # queued, sent, skipped, limited, failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt", UTCDateTime),
    Column("claimed_until", UTCDateTime),  # the lease of the sender that claimed it
    Column("sent", UTCDateTime),  # when a mail went out (what the limits count)
    Index("ix_notices_status_next", "status", "next_attempt"),
    Index("ix_notices_mailbox_sent", "mailbox", "sent"),
)
