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
    """Every archive file; nothing when no issue was sent yet. Pass only the issues that
    reached someone (see `published_issues`)."""
    from babel.dates import format_date  # here, not at the top: every `publisher build`

    ordered = sorted(issues, key=lambda i: i.number, reverse=True)
    if not ordered:
        return {}
    articles = articles or {}
    site = config.site
    lang = config.newsletter.lang or site.lang
    views = []
    for i in ordered:
        listed = [articles[a] for a in i.article_ids if a in articles]
        views.append({
            "number": i.number,
            "subject": i.subject,
            "date": i.sent or i.created,
            "date_text": format_date((i.sent or i.created).astimezone(site.tz).date(), format="long", locale=lang),
            "url": f"{site.url}newsletter/{i.number}/",
            "count": len(i.article_ids),
            "lead": listed[0] if listed else None,
            "articles": listed,
        })
    files = {INDEX: _index_page(views, ordered, config, lang), FEED: _atom(views, config)}
    for issue in ordered:
        files[issue_path(issue.number)] = issue.html.encode("utf-8")
    return files


def _index_page(views: list[dict], issues: list[Issue], config: Config, lang: str) -> bytes:
    """newsletter/index.html in the site's frame (base.html: masthead, navigation, footer).
    The navigation lists the categories the issues carried: the archive is built without
    reading every article of the site."""
    from publisher import i18n
    from publisher.content.article import make_slug
    from publisher.site.pages import Page, environment, feed_groups, forget_partials, render_page

    _ = i18n.gettext_for(config.site.lang)  # a page of the site: in the site's language
    env = environment(config.path("templates"), "", None)  # the one render_page uses
    i18n.install(env, config.site.lang)  # the site's templates may not speak gettext yet
    forget_partials()  # a masthead cached by an earlier build may list old categories
    site = config.site
    names = sorted({c for i in issues for c in i.categories}, key=str.casefold)
    categories = [(n, make_slug(n), site.url + config.paths.category.format(slug=make_slug(n)).lstrip("/"))
                  for n in names]
    feeds = ((f"{site.title} (ATOM)", "application/atom+xml", site.url + "feeds/all.atom.xml"),
             (_("The letter of %(site)s") % {"site": site.title} + " (ATOM)", "application/atom+xml",
              site.url + FEED))
    page = Page(path=INDEX, template="newsletter/index.html.j2", title=_("The letter"), feeds=feeds)
    extra = {"issues": views, "feed_url": site.url + FEED, "lang": lang,
             "feed_groups": feed_groups(feeds)}
    return render_page(page, config, categories, extra=extra)


def _atom(views: list[dict], config: Config) -> bytes:
    from feedgen.feed import FeedGenerator
    from markupsafe import escape

    from publisher import i18n

    site = config.site
    host = urlsplit(site.url).hostname or "localhost"
    fg = FeedGenerator()
    fg.id(f"tag:{host},2000:/newsletter")
    fg.title(i18n.gettext_for(config.newsletter.lang or site.lang)("The letter of %(site)s") % {"site": site.title})
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
    """Edge for `publisher build`: the archive of the stored issues that reached someone;
    None when there is no database yet (a build never creates one)."""
    if not config.database_url and not (config.path("var") / "publisher.db").is_file():
        return None  # checked before importing the store: SQLAlchemy costs 0.4 s to import
    from publisher.store import open_store
    from publisher.store.engine import database_url

    url = database_url(config)
    if url.startswith("sqlite") and not _sqlite_file_exists(url):
        return None
    store = open_store(config)
    try:
        issues = published_issues(store)
    finally:
        store.close()
    if articles is None:
        articles = issue_articles(config, issues)
    return render_archive(issues, config, articles)


def published_issues(store) -> list[Issue]:
    """The issues at least one subscriber received: one sent to nobody (everyone
    unsubscribed, every delivery failed) is no letter to archive."""
    return [i for i in store.list_issues() if i.id is not None and store.delivery_counts(i.id).get("sent")]


def issue_articles(config: Config, issues: list[Issue]) -> dict[str, Article]:
    """The articles the issues list, by id. An id made from the source path
    (tag:host,date:/stem) names its file: those are read alone, not the whole content folder,
    which is read only when some id (set in front matter) cannot be found that way."""
    from publisher.content import ARTICLE_SUFFIXES, load_articles, read_article
    from publisher.errors import ContentError

    wanted = {a for i in issues for a in i.article_ids}
    found: dict[str, Article] = {}
    root = config.path("content")
    for article_id in wanted:
        stem = article_id.partition(":/")[2] if article_id.startswith("tag:") else ""
        for suffix in sorted(ARTICLE_SUFFIXES) if stem and ".." not in stem.split("/") else ():
            path = root / f"{stem}{suffix}"
            try:
                article = read_article(path.read_bytes(), f"{stem}{suffix}", config)
            except (OSError, ContentError):
                continue
            if article.id == article_id:
                found[article_id] = article
                break
    if wanted - found.keys():
        found.update({a.id: a for a in load_articles(config).articles if a.id in wanted})
    return found


def _sqlite_file_exists(url: str) -> bool:
    from pathlib import Path

    path = url.split(":///", 1)[-1].split("?", 1)[0]
    return bool(path) and path != ":memory:" and Path(path).is_file()
