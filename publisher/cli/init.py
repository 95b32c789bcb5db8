"""`publisher init DIR`: a new publication folder, as `hugo new site` or `pelican-quickstart`.

What it writes comes from publisher/cli/scaffold/ (package data): a commented config.yaml, a
first article in the chosen language, an empty templates/ with a README, a .gitignore.
Nothing that exists is ever overwritten: the command refuses before writing anything.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from string import Template
from zoneinfo import ZoneInfo

import click

from publisher.cli.new import dated

SCAFFOLD = Path(__file__).resolve().parent / "scaffold"
LOCAL_URL = "http://127.0.0.1:8000/"
LANGUAGES = ("en", "fr")
DEFAULTS = {  # language -> (title, author, time zone, first article's heading)
    "en": ("My publication", "The editors", "UTC", "Welcome to {title}"),
    "fr": ("Ma publication", "La rédaction", "Europe/Paris", "Bienvenue sur {title}"),
}


def scaffold(lang: str, title: str, url: str, now: datetime) -> dict[str, str]:
    """Relative path -> text of every file of a new publication (pure: no disk writes).
    The first article is dated `now` (see new.dated), so that it is on the site at once."""
    _, author, timezone, heading = DEFAULTS[lang]
    today = now.date()
    values = {
        "title": title, "url": json.dumps(url), "lang": lang, "timezone": timezone,
        "author": json.dumps(author, ensure_ascii=False), "date": dated(now),
        "heading": json.dumps(heading.format(title=title), ensure_ascii=False),
        "newsletter": (SCAFFOLD / f"newsletter.{lang}.yaml").read_text(encoding="utf-8"),
    }
    config = _fill("config.yaml", values, title=json.dumps(title, ensure_ascii=False))
    return {
        "config.yaml": config,
        f"content/{today.isoformat()}-{'welcome' if lang == 'en' else 'bienvenue'}.md":
            _fill(f"first-article.{lang}.md", values),
        "templates/README.md": (SCAFFOLD / "templates-README.md").read_text(encoding="utf-8"),
        ".gitignore": (SCAFFOLD / "gitignore").read_text(encoding="utf-8"),
    }


def _fill(name: str, values: dict[str, str], **override: str) -> str:
    return Template((SCAFFOLD / name).read_text(encoding="utf-8")).substitute(values, **override)


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--language", type=click.Choice(LANGUAGES), default=None,
              help="Language of the site's pages, dates and typography (asked when missing).")
@click.option("--title", default=None, help="The publication's title (asked when missing).")
@click.option("--url", default=None, help=f"Its public address (default: {LOCAL_URL}).")
def init(directory: Path, language: str | None, title: str | None, url: str | None) -> None:
    """Start a new publication in DIRECTORY: config.yaml, content/, templates/, .gitignore."""
    ask = sys.stdin.isatty()
    if language is None:
        language = click.prompt("Language", type=click.Choice(LANGUAGES), default="en") \
            if ask else "en"
    if title is None:
        default = DEFAULTS[language][0]
        title = click.prompt("Title", default=default) if ask else default
    if url is None:
        url = click.prompt("Public address (URL)", default=LOCAL_URL) if ask else LOCAL_URL
    if not url.startswith(("http://", "https://")):
        raise click.UsageError(f"--url {url!r} must start with http:// or https://")
    url = url if url.endswith("/") else url + "/"
    files = scaffold(language, title, url, datetime.now(ZoneInfo(DEFAULTS[language][2])))
    taken = [rel for rel in files if (directory / rel).exists()]
    if taken:
        click.secho(f"error: {directory / taken[0]} already exists; nothing was written "
                    "(publisher init never overwrites)", fg="red", err=True)
        sys.exit(1)
    for rel, text in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as f:  # "x": never over a file made meanwhile
            f.write(text)
    click.echo(f"new publication in {directory}/ ({language}): config.yaml, content/, templates/")
    click.echo(f'next: cd {directory} && publisher new "A title" && publisher run')
