"""The `publisher` command. Subcommands live in sibling modules and are imported on demand,
so `publisher --help` stays fast: heavy libraries are imported inside the commands."""

from __future__ import annotations

import importlib
import sys
from functools import cached_property

import click

from publisher.errors import ConfigError, PublisherError, os_error_line

# name -> "module:attribute"; each helper module owns its commands.
COMMANDS = {
    "build": "publisher.cli.site:build",
    "check": "publisher.cli.site:check",
    "newsletter": "publisher.cli.newsletter:newsletter",
    "subscribers": "publisher.cli.subscribers:subscribers",
    "serve": "publisher.cli.serve:serve",
    "run": "publisher.cli.run:run",
    "jobs": "publisher.cli.run:jobs",
    "bounces": "publisher.cli.bounces:bounces",
    "worker": "publisher.cli.worker:worker",
    "db": "publisher.cli.db:db",
    "init": "publisher.cli.init:init",
    "new": "publisher.cli.new:new",
    "admin": "publisher.cli.admin:admin",
    "doctor": "publisher.cli.doctor:doctor",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when it is used or listed."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module, attr = self.lazy[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            for problem in exc.problems:
                click.secho(f"error: {problem}", fg="red", err=True)
            sys.exit(2)
        except PublisherError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(1)
        except OSError as exc:  # a read-only or full disk, a missing permission
            click.secho(f"error: {os_error_line(exc)}", fg="red", err=True)
            sys.exit(1)
        except Exception as exc:
            from sqlalchemy.exc import SQLAlchemyError

            if not isinstance(exc, SQLAlchemyError):
                raise
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            click.secho(f"error: database: {reason[0] if reason else type(exc).__name__}",
                        fg="red", err=True)
            sys.exit(1)


class Context:
    """What every command needs: the config, loaded once and only when asked for."""

    def __init__(self, config_path: str | None):
        self.config_path = config_path

    @cached_property
    def config(self):
        from publisher.config import load_config

        return load_config(self.config_path)


@click.group(cls=LazyGroup, lazy=COMMANDS)
@click.option(
    "--config",
    "config_path",
    envvar="PUBLISHER_CONFIG",
    type=click.Path(dir_okay=False),
    help="Config file (default: ./config.yaml; also PUBLISHER_CONFIG).",
)
@click.version_option(package_name="publisher")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Turn a folder of dated articles into feeds, pages and a newsletter digest."""
    ctx.obj = Context(config_path)


pass_context = click.make_pass_decorator(Context)
