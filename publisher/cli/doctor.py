"""`publisher doctor [--json] [--online]`: deliverability, links, accessibility, spam score."""

from __future__ import annotations

import sys

import click

from publisher.cli import pass_context


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON (for CI).")
@click.option("--online", is_flag=True, help="Also fetch the issue's external links.")
@pass_context
def doctor(ctx, as_json: bool, online: bool) -> None:
    """Check DNS (SPF, DKIM, DMARC, MX), the next issue (links, size, text part,
    accessibility, headers, DKIM signature, spam score) and the built site (feeds, links,
    images). Exit status 1 when a check fails."""
    from datetime import datetime

    from rich.console import Console

    from publisher.doctor import diagnose

    config = ctx.config
    report = diagnose(config, datetime.now(config.site.tz), online=online)
    if as_json:
        click.echo(report.to_json())
    else:
        report.print_table(Console(width=max(Console().width, 140)))
    sys.exit(0 if report.ok else 1)
