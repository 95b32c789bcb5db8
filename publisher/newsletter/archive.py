"""The newsletter archive that `publisher build` publishes: an index of every issue that
reached someone, in the site's frame (base.html), one page per issue (the "view in browser"
target) and an Atom feed of the issues.

    files = render_archive(issues, config, articles)   # {relative path: bytes}

`render_archive` is pure: the issues come from the store, the articles (each issue's lead and
links) from their files; `archive_outputs` is the edge that reads both. Nothing depends on the
clock: the feed's `updated` is the newest issue's date, so an unchanged archive rebuilds to the
same bytes.
"""

from __future__ import annotations

from typing import Iterable, Mapping
from urllib.parse import urlsplit

from publisher.config import Config
from publisher.models import Article, Issue

INDEX = "newsletter/index.html"
FEED = "feeds/newsletter.atom.xml"


def issue_path(number: int, rhythm: str = "") -> str:
    """An issue's page; numbers are per rhythm (newsletter.rhythms), so a rhythm's issues
    live under its name: newsletter/daily/3/."""
    return f"newsletter/{rhythm}/{number}/index.html" if rhythm else f"newsletter/{number}/index.html"


def render_archive(
    issues: Iterable[Issue], config: Config, articles: Mapping[str, Article] | None = None
) -> dict[str, bytes]:
    """Every archive file; nothing when no issue was sent yet. Pass only the issues that
    reached someone (see `published_issues`)."""
    from babel.dates import format_date  # here, not at the top: every `publisher build`

    ordered = sorted(issues, key=lambda i: (i.created, i.number), reverse=True)
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
            "rhythm": i.rhythm,
            "subject": i.subject,
            "date": i.sent or i.created,
            "date_text": format_date((i.sent or i.created).astimezone(site.tz).date(), format="long", locale=lang),
            "url": site.url + issue_path(i.number, i.rhythm).removesuffix("index.html"),
            "count": len(i.article_ids),
            "lead": listed[0] if listed else None,
            "articles": listed,
        })
    files = {INDEX: _index_page(views, ordered, config, lang), FEED: _atom(views, config)}
    for issue in ordered:
        files[issue_path(issue.number, issue.rhythm)] = issue.html.encode("utf-8")
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
        where = f"{v['rhythm']}/{v['number']}" if v["rhythm"] else v["number"]
        entry.id(f"tag:{host},{v['date']:%Y-%m-%d}:/newsletter/{where}")
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
    None when there is no database yet (a build never creates one). What it rendered is kept
    under paths.var with a key of all it used (issues, their articles' files, config and
    templates): a build with nothing new reads the issues and stats a few files, no more."""
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
    if articles is not None:
        return render_archive(issues, config, articles)
    cache = config.path("var") / "cache" / "newsletter-archive.pickle"
    key = _cache_key(config, issues)
    kept = _load(cache) if key else None
    if kept is not None and kept[0] == key:
        return kept[1]
    found, complete = issue_articles(config, issues)
    files = render_archive(issues, config, found)
    if key and complete:
        _save(cache, (key, files))
    return files


def published_issues(store) -> list[Issue]:
    """The issues at least one subscriber received: one sent to nobody (everyone
    unsubscribed, every delivery failed) is no letter to archive."""
    return [i for i in store.list_issues() if i.id is not None and store.delivery_counts(i.id).get("sent")]


def _source_stem(article_id: str) -> str | None:
    """"tag:host,2024-11-12:/2024/orsay" -> "2024/orsay": the source file an id made from
    its path names (without its suffix); None for an id set in front matter."""
    stem = article_id.partition(":/")[2] if article_id.startswith("tag:") else ""
    return stem if stem and ".." not in stem.split("/") else None


def issue_articles(config: Config, issues: list[Issue]) -> tuple[dict[str, Article], bool]:
    """(the articles the issues list, by id; whether each was found by its file). An id made
    from the source path names its file: those are read alone, not the whole content folder,
    which is read only when some id (set in front matter) cannot be found that way."""
    from publisher.content import ARTICLE_SUFFIXES, load_articles, read_article
    from publisher.errors import ContentError

    wanted = {a for i in issues for a in i.article_ids}
    found: dict[str, Article] = {}
    root = config.path("content")
    for article_id in wanted:
        stem = _source_stem(article_id)
        for suffix in sorted(ARTICLE_SUFFIXES) if stem else ():
            try:
                article = read_article((root / f"{stem}{suffix}").read_bytes(), f"{stem}{suffix}", config)
            except (OSError, ContentError):
                continue
            if article.id == article_id:
                found[article_id] = article
                break
    if wanted - found.keys():
        found.update({a.id: a for a in load_articles(config).articles if a.id in wanted})
        return found, False
    return found, True


def _cache_key(config: Config, issues: list[Issue]) -> str | None:
    """Everything the archive is made from; None when an article's file cannot be named."""
    import hashlib
    import os

    from publisher.content import ARTICLE_SUFFIXES
    from publisher.site.cache import environment_key, fingerprint

    root = os.path.join(config.path("content"), "")
    sources = []
    for article_id in sorted({a for i in issues for a in i.article_ids}):
        stem = _source_stem(article_id)
        if stem is None:
            return None
        for suffix in sorted(ARTICLE_SUFFIXES):
            try:
                st = os.stat(root + stem + suffix)
            except OSError:
                continue
            sources.append((stem + suffix, st.st_size, st.st_mtime_ns))
    stored = tuple((i.id, i.number, i.subject, i.created, i.sent, i.article_ids, i.categories,
                    hashlib.blake2b(i.html.encode(), digest_size=16).hexdigest()) for i in issues)
    return fingerprint(environment_key(config), (stored, tuple(sources)))


def _load(path):
    import pickle

    try:
        with open(path, "rb") as f:
            value = pickle.load(f)
        return value if isinstance(value, tuple) and len(value) == 2 else None
    except Exception:  # a missing, stale or corrupt cache only costs a render
        return None


def _save(path, value) -> None:
    import os
    import pickle
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".archive-")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # atomic: a reader sees the old cache or the new one
    except OSError:
        pass  # no cache, only slower


def _sqlite_file_exists(url: str) -> bool:
    from pathlib import Path

    path = url.split(":///", 1)[-1].split("?", 1)[0]
    return bool(path) and path != ":memory:" and Path(path).is_file()


def issue_history(config):
    """(last stored issue, ids it and earlier ones carried); (None, empty) without a database:
    a preview or a doctor's check never creates one."""
    from publisher.store import open_store
    from publisher.store.engine import database_url

    url = database_url(config)
    if url.startswith("sqlite") and not _sqlite_file_exists(url):
        return None, frozenset()
    store = open_store(config)
    try:
        return store.last_issue(), store.sent_article_ids()
    finally:
        store.close()
