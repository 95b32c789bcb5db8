"""Open the database named by the config and bring its schema to the latest migration."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text

from publisher.errors import PublisherError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "0008"  # the newest revision in publisher/store/migrations/versions


class StoreError(PublisherError):
    """The database cannot be opened or upgraded: names the URL (without its password)."""


def database_url(config) -> str:
    """`database_url` from the config or environment, else SQLite under paths.var."""
    if config.database_url:
        url = config.database_url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url
    var = config.path("var")
    private_folder(var)
    return f"sqlite:///{var / 'publisher.db'}"


def private_folder(folder: Path) -> None:
    """Make `folder` (ours alone: var/, the outbox) and tighten it to 0700: it holds the
    subscribers' database, mails carrying tokens, the secret key."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o077:
        folder.chmod(0o700)


def private_sqlite_file(url: str) -> None:
    """Create (or tighten) a SQLite database file 0600 before SQLite opens it: it holds every
    subscriber's address, and SQLite gives its -wal and -shm files the database's mode."""
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    try:  # never open() an existing database: closing any descriptor of it would drop the
        os.close(os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))  # process's locks
    except FileExistsError:
        if os.stat(name).st_mode & 0o077:
            os.chmod(name, 0o600)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn) -> None:
            # Take the write lock at BEGIN: two processes claiming at once queue up instead of
            # failing with "database is locked" when a read transaction tries to write.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Upgrade the schema to HEAD with Alembic; a no-op (and no Alembic import) when current."""
    with engine.connect() as conn:
        if inspect(conn).has_table("alembic_version"):
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            if current == HEAD:
                return
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
