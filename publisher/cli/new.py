"""`publisher new "Title"`: a new article file with its front matter, named by date and slug."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import click

from publisher.cli import pass_context


def dated(now: datetime) -> str:
    """A new article's `date:`: now, to the minute. A date alone would mean site.default_time
    (08:00), and an article written at night would wait for the morning."""
    return f"{now:%Y-%m-%d %H:%M}"


def front_matter(title: str, day: str, category: str | None, draft: bool) -> str:
    """The Markdown file's text: YAML front matter (strings JSON-quoted, valid YAML) and an
    empty body."""
    lines = ["---", f"title: {json.dumps(title, ensure_ascii=False)}", f"date: {day}"]
    if category:
        lines.append(f"category: {json.dumps(category, ensure_ascii=False)}")
    lines += ["tags: []", 'summary: ""']
    if draft:
        lines.append("draft: true")
    return "\n".join(lines + ["---", "", ""])


@click.command()
@click.argument("title")
@click.option("--category", default=None, help="The article's category (section).")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="YYYY-MM-DD, published at site.default_time (default: now, in "
                   "site.timezone).")
@click.option("--draft", is_flag=True, help="Not published until `draft: true` is removed.")
@pass_context
def new(ctx, title: str, category: str | None, day: datetime | None, draft: bool) -> None:
    """Write content/YYYY-MM-DD-slug.md for a new article and print its path."""
    from publisher.content.article import make_slug

    config = ctx.config
    slug = make_slug(title)
    if not slug:
        raise click.UsageError(f"cannot make a file name from the title {title!r}")
    when = day or datetime.now(config.site.tz)  # a day given: published at default_time
    path = config.path("content") / f"{when:%Y-%m-%d}-{slug}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "x", encoding="utf-8") as f:
            f.write(front_matter(title, f"{day:%Y-%m-%d}" if day else dated(when), category,
                                 draft))
    except FileExistsError:
        click.secho(f"error: {path} already exists; choose another title or --date",
                    fg="red", err=True)
        sys.exit(1)
    click.echo(str(path))
