"""`publisher subscribers add|import|list|remove|export|unsubscribe`."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from publisher.cli import pass_context


def _store(ctx):
    from publisher.store import open_store

    return open_store(ctx.config)


def _guard(ctx, store):
    """The suppression list, keyed with the one secret key (refused when it is another)."""
    from publisher.audience.consent import Suppressions
    from publisher.audience.tokens import tokens_for

    return Suppressions(store, tokens_for(ctx.config, store).digest)


def _notify(ctx, pending: bool, store=None):
    """The confirmation sender when --pending, else None."""
    if not pending:
        return None
    from publisher.audience.notices import Notices
    from publisher.audience.tokens import tokens_for
    from publisher.mail.transport import make_transport

    config = ctx.config
    return Notices(config, make_transport(config), tokens_for(config, store)).confirmation


@click.group()
def subscribers() -> None:
    """Manage the newsletter's subscribers."""


@subscribers.command()
@click.argument("email")
@click.option("--name", default="", help="The person's name, used in greetings.")
@click.option("--category", "categories", multiple=True, help="A category to follow (repeatable; none: all).")
@click.option("--pending", is_flag=True, help="Send a confirmation email instead of activating at once.")
@click.option("--force", is_flag=True, help="Add again someone who unsubscribed or bounced.")
@click.option("--rhythm", metavar="NAME", help="How often they hear from you: a name of "
              "newsletter.rhythms (default: newsletter.default_rhythm).")
@pass_context
def add(ctx, email: str, name: str, categories: tuple[str, ...], pending: bool, force: bool,
        rhythm: str | None) -> None:
    """Add EMAIL, active at once (or pending with --pending)."""
    from publisher.audience import subscribers as uc
    from publisher.audience.rhythm import chosen_rhythm as rhythm_of_choice

    store = _store(ctx)
    sub, changed = uc.add(store, email, name, categories, datetime.now(timezone.utc),
                          pending=pending, notify=_notify(ctx, pending, store), force=force,
                          guard=_guard(ctx, store),
                          rhythm=rhythm_of_choice(ctx.config, rhythm))
    if not changed:
        click.echo(f"{sub.email} is already {sub.status}")
    elif pending:
        click.echo(f"{sub.email} is pending: a confirmation email was sent")
    else:
        click.echo(f"{sub.email} is active")


@subscribers.command("set")
@click.argument("email")
@click.option("--rhythm", metavar="NAME", help="Their new rhythm (a name of newsletter.rhythms): "
              "what the old one had not sent yet comes with the new one, nothing twice.")
@click.option("--category", "categories", multiple=True,
              help="Their categories, replacing the old ones (repeatable).")
@click.option("--all-categories", is_flag=True, help="Follow every category.")
@pass_context
def set_(ctx, email: str, rhythm: str | None, categories: tuple[str, ...],
         all_categories: bool) -> None:
    """Change what EMAIL receives: their rhythm or categories."""
    from publisher.audience.rhythm import change
    from publisher.audience.rhythm import chosen_rhythm as rhythm_of_choice

    if not rhythm and not categories and not all_categories:
        raise click.UsageError("nothing to change: give --rhythm, --category or --all-categories")
    store = _store(ctx)
    sub = change(store, email, rhythm=rhythm_of_choice(ctx.config, rhythm) if rhythm else None,
                    categories=() if all_categories else (categories or None))
    shown = ctx.config.newsletter.rhythm_of(sub.rhythm) or "digest"
    click.echo(f"{sub.email}: {shown}, {','.join(sub.categories) or 'every category'}")


@subscribers.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--pending", is_flag=True, help="Send each new address a confirmation email.")
@pass_context
def import_(ctx, file: Path, pending: bool) -> None:
    """Import FILE.csv: email, name, categories (one per column or comma-separated); with a
    header row, also status and rhythm columns."""
    from publisher.audience import subscribers as uc

    store = _store(ctx)
    report = uc.import_csv(store, file, datetime.now(timezone.utc), pending=pending,
                           notify=_notify(ctx, pending, store), guard=_guard(ctx, store),
                           rhythms=ctx.config.newsletter.rhythms)
    for problem in report.problems:
        click.secho(f"skipped {problem}", fg="yellow", err=True)
    left = f" ({report.left} of them as unsubscribed or bounced)" if report.left else ""
    click.echo(f"{report.added} imported{left}, {report.unchanged} already there, "
               f"{len(report.problems)} skipped")


@subscribers.command("list")
@click.option("--status", type=click.Choice(["pending", "active", "unsubscribed", "bounced"]))
@pass_context
def list_(ctx, status: str | None) -> None:
    """One line per subscriber: address, state, categories (and rhythm, with rhythms)."""
    of = ctx.config.newsletter.rhythm_of
    for sub in _store(ctx).list_subscribers(status):
        rhythm = f"\t{of(sub.rhythm)}" if ctx.config.newsletter.rhythms else ""
        click.echo(f"{sub.email}\t{sub.status}\t{','.join(sub.categories) or '*'}{rhythm}")


@subscribers.command()
@click.argument("email")
@click.option("--forget", is_flag=True,
              help="Erase everything about EMAIL, keeping only a keyed hash so that no import "
                   "or add brings it back without --force.")
@pass_context
def remove(ctx, email: str, forget: bool) -> None:
    """Delete EMAIL and its delivery history."""
    from publisher.audience import subscribers as uc

    if forget:
        from publisher.audience.consent import forget as forget_

        store = _store(ctx)
        address = forget_(store, _guard(ctx, store), email, datetime.now(timezone.utc))
        click.echo(f"{address} forgotten: erased, and kept out of imports")
        return
    uc.remove(_store(ctx), email)
    click.echo(f"{uc.normalise(email)} removed")


@subscribers.command()
@click.argument("emails", nargs=-1, required=True, metavar="ADDRESS...")
@pass_context
def unsubscribe(ctx, emails: tuple[str, ...]) -> None:
    """Unsubscribe each ADDRESS, as the one-click link does (effective at once, even for a
    send under way)."""
    from publisher.audience.consent import unsubscribe_many

    done = unsubscribe_many(_store(ctx), emails, datetime.now(timezone.utc))
    click.echo(f"{len(done)} unsubscribed")


@subscribers.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--status", type=click.Choice(["pending", "active", "unsubscribed", "bounced"]))
@click.option("--one", "one", metavar="ADDRESS",
              help="Print everything kept about ADDRESS as JSON (their right of access).")
@pass_context
def export(ctx, file: Path | None, status: str | None, one: str | None) -> None:
    """Write every subscriber to FILE.csv (the import reads it back)."""
    from publisher.audience import subscribers as uc

    if one:
        import json

        from publisher.audience.consent import export_one

        click.echo(json.dumps(export_one(_store(ctx), one), indent=2, ensure_ascii=False))
        return
    if file is None:
        raise click.UsageError("give FILE, or --one ADDRESS")
    count = uc.export_csv(_store(ctx), file, status)
    click.echo(f"{count} subscribers written to {file}")
