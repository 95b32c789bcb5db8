"""`publisher serve [--host] [--port]`: the site, subscribe pages and one-click unsubscribe."""

from __future__ import annotations

import click

from publisher.cli import pass_context


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: web.host, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default: web.port, 8000).")
@pass_context
def serve(ctx, host: str | None, port: int | None) -> None:
    """Serve public/ (with ETag and 304) and the subscription pages."""
    import uvicorn

    from publisher.web.app import create_app
    from publisher.web.server import uvicorn_config

    config = ctx.config
    app = create_app(config)
    host, port = host or config.web.host, port or config.web.port
    click.echo(f"serving {config.path('output')} and the subscription pages on http://{host}:{port}/")
    uvicorn.Server(uvicorn_config(app, config, host, port)).run()
