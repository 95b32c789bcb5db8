"""`publisher build` and `publisher check`."""

from __future__ import annotations

import sys

import click

from publisher.cli import Context, pass_context


def _now(config):
    from datetime import datetime

    return datetime.now(config.site.tz)


@click.command()
@click.option("--strict", is_flag=True, help="Exit with status 1 when there is any warning.")
@click.option("--full", is_flag=True, help="Ignore the cache and rebuild everything.")
@pass_context
def build(ctx: Context, strict: bool, full: bool) -> None:
    """Read content/, write feeds and pages to public/."""
    from rich.console import Console
    from rich.markup import escape

    from publisher.cli.progress import progress_bar
    from publisher.newsletter.archive import archive_outputs
    from publisher.site.build import build as run_build

    config = ctx.config
    console = Console(stderr=True)
    with progress_bar(console) as progress:
        report = run_build(config, _now(config), progress=progress,
                           use_cache=False if full else None,
                           extra_outputs=archive_outputs(config))
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    state = "up to date" if report.up_to_date else f"{report.written} files written"
    later = f", {report.drafts_or_scheduled} draft or scheduled" if report.drafts_or_scheduled else ""
    click.echo(
        f"{report.articles} articles{later}, {report.feeds} feeds, {report.pages} pages, "
        f"{len(report.warnings)} warnings; {state} in {report.seconds:.2f} s "
        f"-> {config.path('output')}"
    )
    if report.next_publication:
        click.echo(f"next scheduled article goes live at {report.next_publication:%Y-%m-%d %H:%M %Z}")
    if strict and report.warnings:
        sys.exit(1)


@click.command()
@pass_context
def check(ctx: Context) -> None:
    """Report every problem in config.yaml and content/; change nothing."""
    from publisher.content import load_articles
    from publisher.site.plan import dedupe_paths

    config = ctx.config  # config problems are reported (all of them) by the CLI group
    loaded = load_articles(config)
    problems = [str(p) for p in loaded.problems]
    problems += dedupe_paths([a for a in loaded.articles if not a.draft], config)[1]
    for problem in problems:
        click.echo(f"{problem}")
    click.echo(f"{len(loaded.articles)} articles read, {len(problems)} problems")
    if problems:
        sys.exit(1)
