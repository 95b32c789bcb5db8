"""`publisher bounces process [--source]`."""

from __future__ import annotations

import click

from publisher.cli import pass_context


@click.group()
def bounces() -> None:
    """Read delivery status notifications and mark bounced subscribers."""


@bounces.command()
@click.option("--source", help="Maildir or mbox path, or imap(s)://user@host/FOLDER (default: mail.bounce_source).")
@pass_context
def process(ctx, source: str | None) -> None:
    """Count hard bounces; past mail.bounce_threshold a subscriber is marked bounced."""
    from datetime import datetime, timezone

    from publisher.audience.bounces import BounceError
    from publisher.audience.bounces import process as run
    from publisher.store import open_store

    config = ctx.config
    source = source or config.mail.bounce_source
    if not source:
        raise BounceError("no bounce source: give --source or set mail.bounce_source")
    from publisher.mail.message import unsubscribe_mailto

    report = run(open_store(config), source, datetime.now(timezone.utc),
                 config.mail.bounce_threshold, unsubscribe_mailto(config))
    click.echo(f"{report.read} messages read, {report.reports} bounce reports: {report.hard} hard, "
               f"{report.soft} soft, {len(report.unsubscribed)} unsubscribe requests")
    for address in report.unsubscribed:
        click.echo(f"unsubscribed: {address}")
    for address in report.bounced:
        click.echo(f"bounced: {address}")
