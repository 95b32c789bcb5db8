"""`publisher admin set-password | remove-password`: the dashboard's password, kept in the
database as a scrypt hash (never the password itself). PUBLISHER_ADMIN_PASSWORD, when set,
is used instead."""

from __future__ import annotations

import click

from publisher.cli import pass_context


@click.group()
def admin() -> None:
    """The dashboard at /admin/ (off until a password is set)."""


@admin.command("set-password")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              envvar="PUBLISHER_NEW_ADMIN_PASSWORD",
              help="The new password (asked for when not given; also PUBLISHER_NEW_ADMIN_PASSWORD).")
@pass_context
def set_password(ctx, password: str) -> None:
    """Store the admin password's hash in the database: /admin/ is on; sessions end."""
    from publisher.errors import PublisherError
    from publisher.store import open_store
    from publisher.web.admin.auth import MIN_PASSWORD, PASSWORD_SETTING, hash_password

    if len(password) < MIN_PASSWORD:
        raise PublisherError(f"the password is {len(password)} characters, at least "
                             f"{MIN_PASSWORD} are needed")
    store = open_store(ctx.config)
    store.set_setting(PASSWORD_SETTING, hash_password(password))
    click.echo(f"admin password set: the dashboard is at {ctx.config.site.url}admin/ "
               "(restart a running `publisher run` or `serve` if it was off)")


@admin.command("remove-password")
@pass_context
def remove_password(ctx) -> None:
    """Remove the stored password: /admin/ answers 404 (unless PUBLISHER_ADMIN_PASSWORD)."""
    from publisher.store import open_store
    from publisher.web.admin.auth import PASSWORD_SETTING

    open_store(ctx.config).set_setting(PASSWORD_SETTING, None)
    click.echo("admin password removed: the dashboard is off")
