"""What the site is made of: every page and feed document to write, planned from the articles.

Pure: articles and config in, a list of outputs out. Rendering and writing happen in build.py.
"""

from __future__ import annotations

from dataclasses import replace

from publisher import i18n
from publisher.config import Config
from publisher.content.article import article_location, make_slug
from publisher.models import Article
from publisher.site.feeds import FeedDoc, plan_feeds
from publisher.site.pages import Page

FEED_TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml",
              "json": "application/feed+json"}


def dedupe_paths(articles: list[Article], config: Config) -> tuple[list[Article], list[str]]:
    """Two articles must not share a page: the later source gets '-2', '-3'... and a warning."""
    seen: dict[str, str] = {}
    result, warnings = [], []
    for a in sorted(articles, key=lambda a: (a.date, a.source)):
        if a.path in seen:
            n = 2
            while (where := article_location(config, a.date, f"{a.slug}-{n}", a.category))[1] in seen:
                n += 1
            warnings.append(f"{a.source}:1: slug '{a.slug}' is already used by "
                            f"{seen[a.path]}; this article is published as '{a.slug}-{n}'")
            a = replace(a, slug=f"{a.slug}-{n}", url=where[0], path=where[1])
        seen[a.path] = a.source
        result.append(a)
    return result, warnings


def categories_of(articles: list[Article], config: Config) -> list[tuple[str, str, str]]:
    """(name, slug, url) of every category in use, sorted by name."""
    names = sorted({c for a in articles for c in a.categories}, key=str.casefold)
    return [(n, make_slug(n), config.site.url + category_path(make_slug(n), config)) for n in names]


def category_path(slug: str, config: Config) -> str:
    return config.paths.category.format(slug=slug).lstrip("/")


def _page_path(base: str, number: int) -> str:
    base = base.strip("/")
    prefix = f"{base}/" if base else ""
    return f"{prefix}index.html" if number == 1 else f"{prefix}page/{number}/index.html"


def _listing(base: str, template: str, title: str, articles: list[Article], config: Config,
             feeds: tuple, category: tuple[str, str] | None = None) -> list[Page]:
    """A paginated list of articles: page 1 at `base`, then `base/page/N/` (Hugo's layout)."""
    per = config.pages.per_page
    count = max(1, -(-len(articles) // per))

    def url(n: int) -> str:
        return config.site.url + _page_path(base, n).removesuffix("index.html")

    return [
        Page(path=_page_path(base, n), template=template, title=title,
             articles=tuple(articles[(n - 1) * per : n * per]), category=category,
             number=n, pages=count, prev_url=url(n - 1) if n > 1 else None,
             next_url=url(n + 1) if n < count else None, feeds=feeds)
        for n in range(1, count + 1)
    ]


def plan_site(published: list[Article], config: Config) -> tuple[list[Page], list[FeedDoc]]:
    """Every page and feed of the site. `published` is newest first."""
    base = config.site.url
    site_feeds = tuple((f"{config.site.title} ({kind.upper()})", FEED_TYPES[kind],
                        f"{base}feeds/all{suffix}")
                       for kind, suffix in (("atom", ".atom.xml"), ("rss", ".rss.xml"),
                                            ("json", ".json")))
    pages = _listing("", "index.html", config.site.title, published, config, site_feeds)
    feeds = plan_feeds("all", config.site.title, base, published, config,
                       archives=config.feeds.archives)
    by_category: dict[str, list[Article]] = {}
    for a in published:
        for c in a.categories:
            by_category.setdefault(c, []).append(a)
    category_feeds: dict[str, tuple] = {}
    _ = i18n.gettext_for(config.site.lang)
    for name, slug, url in categories_of(published, config):
        stream = _("%(site)s: %(category)s") % {"site": config.site.title, "category": name}
        own = tuple((f"{stream} ({kind.upper()})", FEED_TYPES[kind],
                     f"{base}feeds/{slug}{suffix}")
                    for kind, suffix in (("atom", ".atom.xml"), ("rss", ".rss.xml"))
                    if config.feeds.categories)
        category_feeds[name] = own
        pages += _listing(category_path(slug, config), "category.html", name,
                          by_category[name], config, site_feeds + own, category=(name, slug))
        if config.feeds.categories:
            feeds += plan_feeds(slug, stream, url, by_category[name],
                                config, kinds=("atom", "rss"))
    for a in published:
        pages.append(Page(path=a.path, template="article.html", title=a.title, article=a,
                          category=(a.category, make_slug(a.category)),
                          feeds=site_feeds + category_feeds[a.category]))
    return pages, feeds
