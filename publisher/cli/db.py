"""`publisher db upgrade`: bring the database's schema to the newest migration."""

from __future__ import annotations

import click

from publisher.cli import pass_context


@click.group()
def db() -> None:
    """The database (PUBLISHER_DATABASE_URL, or SQLite under paths.var)."""


@db.command()
@pass_context
def upgrade(ctx) -> None:
    """Run the Alembic migrations up to the newest; print the revision."""
    from sqlalchemy import text

    from publisher.store import open_store

    store = open_store(ctx.config)  # opening upgrades
    try:
        with store.engine.connect() as conn:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        click.echo(f"{store.engine.url.render_as_string(hide_password=True)} "
                   f"at revision {revision}")
    finally:
        store.close()
