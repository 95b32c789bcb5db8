"""`publisher subscribers add|import|list|remove|export`."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from publisher.cli import pass_context


def _store(ctx):
    from publisher.store import open_store

    return open_store(ctx.config)


def _notify(ctx, pending: bool):
    """The confirmation sender when --pending, else None."""
    if not pending:
        return None
    from publisher.audience.notices import Notices
    from publisher.audience.tokens import tokens_for
    from publisher.mail.transport import make_transport

    config = ctx.config
    return Notices(config, make_transport(config), tokens_for(config)).confirmation


@click.group()
def subscribers() -> None:
    """Manage the newsletter's subscribers."""


@subscribers.command()
@click.argument("email")
@click.option("--name", default="", help="The person's name, used in greetings.")
@click.option("--category", "categories", multiple=True, help="A category to follow (repeatable; none: all).")
@click.option("--pending", is_flag=True, help="Send a confirmation email instead of activating at once.")
@click.option("--force", is_flag=True, help="Add again someone who unsubscribed or bounced.")
@pass_context
def add(ctx, email: str, name: str, categories: tuple[str, ...], pending: bool, force: bool) -> None:
    """Add EMAIL, active at once (or pending with --pending)."""
    from publisher.audience import subscribers as uc

    sub, changed = uc.add(_store(ctx), email, name, categories, datetime.now(timezone.utc),
                          pending=pending, notify=_notify(ctx, pending), force=force)
    if not changed:
        click.echo(f"{sub.email} is already {sub.status}")
    elif pending:
        click.echo(f"{sub.email} is pending: a confirmation email was sent")
    else:
        click.echo(f"{sub.email} is active")


@subscribers.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--pending", is_flag=True, help="Send each new address a confirmation email.")
@pass_context
def import_(ctx, file: Path, pending: bool) -> None:
    """Import FILE.csv: email, name, categories (one per column or comma-separated)."""
    from publisher.audience import subscribers as uc

    report = uc.import_csv(_store(ctx), file, datetime.now(timezone.utc), pending=pending,
                           notify=_notify(ctx, pending))
    for problem in report.problems:
        click.secho(f"skipped {problem}", fg="yellow", err=True)
    left = f" ({report.left} of them as unsubscribed or bounced)" if report.left else ""
    click.echo(f"{report.added} imported{left}, {report.unchanged} already there, "
               f"{len(report.problems)} skipped")


@subscribers.command("list")
@click.option("--status", type=click.Choice(["pending", "active", "unsubscribed", "bounced"]))
@pass_context
def list_(ctx, status: str | None) -> None:
    """One line per subscriber: address, state, categories."""
    for sub in _store(ctx).list_subscribers(status):
        click.echo(f"{sub.email}\t{sub.status}\t{','.join(sub.categories) or '*'}")


@subscribers.command()
@click.argument("email")
@pass_context
def remove(ctx, email: str) -> None:
    """Delete EMAIL and its delivery history."""
    from publisher.audience import subscribers as uc

    uc.remove(_store(ctx), email)
    click.echo(f"{uc.normalise(email)} removed")


@subscribers.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--status", type=click.Choice(["pending", "active", "unsubscribed", "bounced"]))
@pass_context
def export(ctx, file: Path, status: str | None) -> None:
    """Write every subscriber to FILE.csv (the import reads it back)."""
    from publisher.audience import subscribers as uc

    count = uc.export_csv(_store(ctx), file, status)
    click.echo(f"{count} subscribers written to {file}")
