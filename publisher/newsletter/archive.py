"""The newsletter archive that `publisher build` publishes: an index of every sent issue, one
page per issue (the "view in browser" target) and an Atom feed of the issues.

    files = render_archive(issues, config, articles)   # {relative path: bytes}

Pure: the issues come from the store, the articles (to list each issue's links in the feed)
from the build. Nothing depends on the clock: the feed's `updated` is the newest issue's date,
so an unchanged archive rebuilds to the same bytes.
"""

from __future__ import annotations

from typing import Iterable, Mapping
from urllib.parse import urlsplit

from publisher.config import Config
from publisher.models import Article, Issue

INDEX = "newsletter/index.html"
FEED = "feeds/newsletter.atom.xml"


def issue_path(number: int) -> str:
    return f"newsletter/{number}/index.html"


def render_archive(
    issues: Iterable[Issue], config: Config, articles: Mapping[str, Article] | None = None
) -> dict[str, bytes]:
    """Every archive file; nothing when no issue was sent yet."""
    from babel.dates import format_date  # here, not at the top: every `publisher build`

    from publisher.newsletter.templates import render_file, template_env  # imports this module

    ordered = sorted(issues, key=lambda i: i.number, reverse=True)
    if not ordered:
        return {}
    articles = articles or {}
    site = config.site
    lang = config.newsletter.lang or site.lang
    views = [
        {
            "number": i.number,
            "subject": i.subject,
            "date": i.sent or i.created,
            "date_text": format_date((i.sent or i.created).astimezone(site.tz).date(), format="long", locale=lang),
            "url": f"{site.url}newsletter/{i.number}/",
            "count": len(i.article_ids),
            "articles": [articles[a] for a in i.article_ids if a in articles],
        }
        for i in ordered
    ]
    env = template_env(str(config.path("templates")))
    index, _ = render_file(
        env,
        "newsletter/index.html.j2",
        {"site": site, "lang": lang, "issues": views, "feed_url": site.url + FEED},
    )
    files = {INDEX: index.encode("utf-8"), FEED: _atom(views, config)}
    for issue in ordered:
        files[issue_path(issue.number)] = issue.html.encode("utf-8")
    return files


def _atom(views: list[dict], config: Config) -> bytes:
    from feedgen.feed import FeedGenerator
    from markupsafe import escape

    site = config.site
    host = urlsplit(site.url).hostname or "localhost"
    fg = FeedGenerator()
    fg.id(f"tag:{host},2000:/newsletter")
    fg.title(f"{site.title} · la lettre")
    fg.author({"name": site.author})
    fg.link(href=site.url + FEED, rel="self")
    fg.link(href=site.url + "newsletter/", rel="alternate")
    fg.language(config.newsletter.lang or site.lang)
    fg.updated(max(v["date"] for v in views))
    for v in views:  # newest first, appended in that order
        entry = fg.add_entry(order="append")
        entry.id(f"tag:{host},{v['date']:%Y-%m-%d}:/newsletter/{v['number']}")
        entry.title(v["subject"])
        entry.link(href=v["url"])
        entry.published(v["date"])
        entry.updated(v["date"])
        items = "".join(
            f'<li><a href="{escape(a.url)}">{escape(a.title)}</a> — {escape(a.summary)}</li>'
            for a in v["articles"]
        )
        entry.content(
            f'<p><a href="{escape(v["url"])}">{escape(v["subject"])}</a></p>'
            + (f"<ul>{items}</ul>" if items else ""),
            type="html",
        )
    return fg.atom_str(pretty=True)


def archive_outputs(config: Config, articles: Mapping[str, Article] | None = None) -> dict[str, bytes] | None:
    """Edge for `publisher build`: the archive of the stored issues; None when there is no
    database yet (a build never creates one)."""
    if not config.database_url and not (config.path("var") / "publisher.db").is_file():
        return None  # checked before importing the store: SQLAlchemy costs 0.4 s to import
    from publisher.store import open_store
    from publisher.store.engine import database_url

    url = database_url(config)
    if url.startswith("sqlite") and not _sqlite_file_exists(url):
        return None
    store = open_store(config)
    try:
        return render_archive(store.list_issues(), config, articles)
    finally:
        store.close()


def _sqlite_file_exists(url: str) -> bool:
    from pathlib import Path

    path = url.split(":///", 1)[-1].split("?", 1)[0]
    return bool(path) and path != ":memory:" and Path(path).is_file()
