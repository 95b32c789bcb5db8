"""`publisher serve [--host] [--port] [--dev]`: the site, subscribe pages and one-click
unsubscribe."""

from __future__ import annotations

import click

from publisher.cli import pass_context


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: web.host, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default: web.port, 8000).")
@click.option("--dev", is_flag=True, help="Pages reload in the browser when public/ changes.")
@pass_context
def serve(ctx, host: str | None, port: int | None, dev: bool) -> None:
    """Serve public/ (with ETag and 304) and the subscription pages.

    With the default local site.url, links follow --host and --port (the site is rebuilt for
    them when they differ from the last build's)."""
    import threading

    import uvicorn

    from publisher.cli.preview import follow_address
    from publisher.web.app import create_app
    from publisher.web.server import uvicorn_config

    config = ctx.config
    host, port = host or config.web.host, port or config.web.port
    served, note = follow_address(config, host, port)
    if note:
        click.echo(f"note: {note}", err=True)
    if served is not config:
        from datetime import datetime

        from publisher.newsletter.archive import archive_outputs
        from publisher.site.build import build

        report = build(served, datetime.now(served.site.tz), extra_outputs=archive_outputs(served))
        click.echo(f"built for {served.site.url}: {report.written} files written", err=True)
    app = create_app(served)
    if dev:
        from publisher.web.devreload import dev_app

        app = dev_app(app, served.path("output"), threading.Event())
    click.echo(f"serving {served.path('output')} and the subscription pages on {served.site.url}"
               if not note else f"serving {served.path('output')} on http://{host}:{port}/")
    uvicorn.Server(uvicorn_config(app, served, host, port)).run()
