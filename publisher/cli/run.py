"""`publisher run` (the scheduler and the web server) and `publisher jobs` (what it will do)."""

from __future__ import annotations

import sys

import click

from publisher.cli import pass_context


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: web.host, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default: web.port, 8000).")
@click.option("--no-web", is_flag=True, help="Schedule and watch only; serve nothing.")
@click.option("--dev", is_flag=True, help="Pages reload in the browser after each rebuild.")
@pass_context
def run(ctx, host: str | None, port: int | None, no_web: bool, dev: bool) -> None:
    """Build, serve the site, rebuild on changes and on schedule, send the digest on time.

    Runs until SIGTERM or Ctrl-C, then stops cleanly: a send in progress finishes the
    messages in flight and the rest resumes at the next start. A slot missed while the process
    was down runs once at start (within schedule.grace). With the default local site.url,
    links follow --host and --port. Log times are in site.timezone."""
    import logging
    import os
    from pathlib import Path

    from publisher.cli.preview import follow_address, setup_logging, watch_config
    from publisher.config import DEFAULT_CONFIG
    from publisher.schedule.runner import Runner

    config = ctx.config
    setup_logging(config, sys.stderr)
    host, port = host or config.web.host, port or config.web.port
    if not no_web:
        config, note = follow_address(config, host, port)
        if note:
            logging.getLogger("publisher.run").warning("%s", note)
    runner = Runner(config)
    if dev and not no_web:
        from publisher.web.devreload import dev_app

        runner.wrap_app = lambda app: dev_app(app, config.path("output"), runner.stopping)
    source = Path(ctx.config_path or os.environ.get("PUBLISHER_CONFIG") or DEFAULT_CONFIG)
    if source.is_file():
        watch_config(source, runner.stopping)
    sys.exit(runner.run(web=not no_web, host=host, port=port))


@click.command()
@pass_context
def jobs(ctx) -> None:
    """Each job, its trigger, its next run (in the site's time zone) and its last outcome."""
    from datetime import datetime

    from rich.console import Console
    from rich.table import Table

    from publisher.content import load_articles
    from publisher.schedule.jobs import job_table
    from publisher.store import open_store

    config = ctx.config
    tz = config.site.tz
    now = datetime.now(tz)
    store = open_store(config)
    try:
        rows = job_table(config, store, now, load_articles(config).next_publication(now))
    finally:
        store.close()
    table = Table(title=f"Jobs ({config.site.timezone})", title_justify="left")
    for column in ("job", "trigger", "next run", "last run"):
        table.add_column(column)
    for row in rows:
        next_run = f"{row.next_run.astimezone(tz):%Y-%m-%d %H:%M:%S %Z}" if row.next_run else "-"
        last = "never"
        if row.last is not None:
            took = f" in {row.last.seconds:.2f} s" if row.last.seconds is not None else ""
            status = "interrupted" if row.last.status == "running" and _gone(row.last.owner) \
                else row.last.status
            last = (f"{row.last.started.astimezone(tz):%Y-%m-%d %H:%M:%S} {status}: "
                    f"{row.last.summary}{took}").rstrip(": ")
        table.add_row(row.name, row.trigger, next_run, last)
    Console(width=max(120, Console().width)).print(table, highlight=False)


def _gone(owner: str) -> bool:
    """Whether the "host:pid" that started a run is a process of this host that has ended."""
    import os
    import socket

    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    return False
