"""What the site is made of: every page and feed document to write, planned from the articles.

Pure: articles and config in, a list of outputs out. Rendering and writing happen in build.py.

Paths, beside paths.article: category, tag and author pages at paths.category, paths.tag and
paths.author (paginated as `page/N/`); their feeds at Pelican's paths: `feeds/{slug}.atom.xml`
(and .rss.xml, .json) for a category, `feeds/{slug}.tag.atom.xml` for a tag (the path
Pelican's docs give for TAG_FEED_ATOM, off by default there) and `feeds/{slug}.author.atom.xml`
for an author (Pelican's default, `feeds/{slug}.atom.xml`, collides with the categories').
A category named like one of the site's own feeds (SITE_FEEDS) has `.category` added.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from urllib.parse import quote

from publisher import i18n
from publisher.config import Config
from publisher.content.article import LINK_MARK, article_location, make_slug
from publisher.content.collate import collated
from publisher.models import Article, pack_html
from publisher.site.feeds import KINDS, FeedDoc, archive_count, plan_feeds
from publisher.site.pages import Page, authors_of, term_url

# The site's own feeds under feeds/: a category of one of these names ("Podcast") has its
# feeds at feeds/{slug}.category.atom.xml instead, rather than overwrite them.
SITE_FEEDS = frozenset({"all", "podcast", "newsletter"})
FEED_TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml",
              "json": "application/feed+json"}
SUFFIXES = (("atom", ".atom.xml"), ("rss", ".rss.xml"), ("json", ".json"))


def dedupe_paths(articles: list[Article], config: Config) -> tuple[list[Article], list[str]]:
    """Two articles must not share a page: the later source gets '-2', '-3'... and a warning."""
    seen: dict[str, str] = {}
    result, warnings = [], []
    for a in sorted(articles, key=lambda a: (a.date, a.source)):
        if a.path in seen:
            n = 2
            while (where := article_location(config, a.date, f"{a.slug}-{n}", a.category,
                                             a.kind))[1] in seen:
                n += 1
            warnings.append(f"{a.source}:1: slug '{a.slug}' is already used by "
                            f"{seen[a.path]}; this article is published as '{a.slug}-{n}'")
            a = replace(a, slug=f"{a.slug}-{n}", url=where[0], path=where[1])
        seen[a.path] = a.source
        result.append(a)
    return result, warnings


def resolve_links(articles: list[Article], config: Config) -> tuple[list[Article], list[str]]:
    """Pelican's `{filename}` links, now that every article's URL is known. Only the articles
    that have such links are touched; their digest takes in the URLs they point at, so that
    their page is rendered again when a target moves."""
    if not any(a.links for a in articles):
        return articles, []
    urls = {a.source: a.url for a in articles}
    warnings, result = [], []
    for a in articles:
        if a.links:
            html = a.html
            for rel in a.links:
                target = urls.get(rel)
                if target is None:
                    warnings.append(f"{a.source}:1: {{filename}} link to {rel}, which is not a "
                                    "published article")
                    target = config.site.url
                html = html.replace(f"{config.site.url}{LINK_MARK}{quote(rel)}", target)
            digest = hashlib.blake2b(f"{a.digest}{[urls.get(r) for r in a.links]}".encode(),
                                     digest_size=16).hexdigest()
            a = replace(a, body=pack_html(html), digest=digest)
        result.append(a)
    return result, warnings


def categories_of(articles: list[Article], config: Config) -> list[tuple[str, str, str]]:
    """(name, slug, url) of every category in use, in the language's order."""
    names = collated({c for a in articles for c in a.categories})
    return [(n, make_slug(n), config.site.url + category_path(make_slug(n), config)) for n in names]


def category_path(slug: str, config: Config) -> str:
    return config.paths.category.format(slug=slug).lstrip("/")


def page_path(base: str, number: int) -> str:
    """Where a listing's page goes: the front page (number 0) at `base`, archive page N at
    `base/page/N/` (Hugo's layout), or `baseN.html` for a listing at `base.html` (Pelican's)."""
    if base.endswith(".html"):
        return base if number == 0 else f"{base.removesuffix('.html')}{number}.html"
    base = base.strip("/")
    prefix = f"{base}/" if base else ""
    return f"{prefix}index.html" if number == 0 else f"{prefix}page/{number}/index.html"


def _listing(base: str, template: str, title: str, articles: list[Article], config: Config,
             feeds: tuple, category: tuple[str, str] | None = None,
             term: tuple[str, str, str] | None = None,
             positions: Collection[int] | None = None) -> list[Page]:
    """A list of articles (newest first) as a front page and numbered archive pages; with
    `positions`, only the pages showing the articles at those places in the list.

    Archive pages are numbered from the oldest and hold exactly `per_page` articles each, as
    the feeds' RFC 5005 archives do: a new article changes the front page only, never the
    archive pages (every `per_page` new articles one more is made, and the one before it
    gets its "newer" link). The front page shows the rest: `per_page` to twice that, less one.
    Archive pages say their own number only, never the count, which would change them all."""
    per = config.pages.per_page
    archived = listing_count(len(articles), per) - 1
    front = len(articles) - archived * per

    def url(n: int) -> str:
        return config.site.url + page_path(base, n).removesuffix("index.html")

    def page(n: int, shown: list[Article], newer: str | None, older: str | None, count: int) -> Page:
        return Page(path=page_path(base, n), template=template, title=title,
                    articles=tuple(shown), category=category, number=n, pages=count,
                    prev_url=newer, next_url=older, feeds=feeds, term=term)

    numbers = range(archived, -1, -1) if positions is None else sorted(
        {0 if p < front else -(-(len(articles) - p) // per) for p in positions}, reverse=True)
    pages = [page(0, articles[:front], None, url(archived) if archived else None, archived + 1)
             ] if positions is None or 0 in numbers else []
    for n in numbers:  # newest first, as the site lists them
        if not n:
            continue
        end = len(articles) - (n - 1) * per
        pages.append(page(n, articles[end - per : end], url(n + 1) if n < archived else url(0),
                          url(n - 1) if n > 1 else None, 0))
    return pages


def listing_count(articles: int, per_page: int) -> int:
    """The pages of a listing of `articles`: its front page and its full archive pages."""
    return max(0, articles // per_page - 1) + 1


def shown_on(size: int, per: int, number: int) -> int:
    """A place (newest first) in a list of `size` shown by archive page `number` (n >= 1) of
    its listing, with `per` to a page, or by feed archive `number`, with `per` to one: both
    are numbered from the oldest. What touch-ups pass to plan one such page."""
    return size - (number - 1) * per - 1


def _feed_links(title: str, stream: str, config: Config, kinds=("atom", "rss", "json")) -> tuple:
    return tuple((f"{title} ({kind.upper()})", FEED_TYPES[kind],
                  f"{config.site.url}feeds/{stream}{suffix}")
                 for kind, suffix in SUFFIXES if kind in kinds)


def _group(articles: list[Article], names) -> dict[str, list[Article]]:
    found: dict[str, list[Article]] = {}
    for a in articles:
        for n in dict.fromkeys(names(a)):
            found.setdefault(n, []).append(a)
    return found


@dataclass(slots=True)
class Stream:
    """One list of articles, newest first, and what is made of it: listing pages (at `base`;
    None: none, as for the podcast) and the feed documents of `feed`. Planning a stream
    only slices `articles`, so a touch-up (see touchup.py) plans one with source paths."""

    articles: Sequence
    base: str | None = None
    template: str = ""
    title: str = ""
    feeds: tuple = ()  # the listing pages' autodiscovery links
    category: tuple[str, str] | None = None
    term: tuple[str, str, str] | None = None
    feed: tuple | None = None  # plan_feeds's (stream, title, url, kinds, archives, podcast)


def stream_jobs(stream: Stream, config: Config, positions: Collection[int] | None = None,
                ) -> tuple[list[Page], list[FeedDoc]]:
    """The listing pages and feed documents of one stream; with `positions`, only those that
    show the articles at those places in the stream."""
    pages = [] if stream.base is None else _listing(
        stream.base, stream.template, stream.title, stream.articles, config, stream.feeds,
        category=stream.category, term=stream.term, positions=positions)
    feeds = []
    if stream.feed:
        name, title, url, kinds, archives, podcast = stream.feed
        feeds = plan_feeds(name, title, url, stream.articles, config, kinds=kinds,
                           archives=archives, podcast=podcast, positions=positions)
    return pages, feeds


def stream_counts(stream: Stream, size: int, config: Config) -> tuple[int, int]:
    """(listing pages, feed documents) that stream_jobs plans for `stream` at `size` articles,
    counted without planning them (what a touch-up that adds articles reports)."""
    pages = 0 if stream.base is None else listing_count(size, config.pages.per_page)
    if not stream.feed:
        return pages, 0
    kinds, archives = stream.feed[3], stream.feed[4]
    return pages, len(kinds) * (1 + archive_count(size, config.feeds.limit, archives))


@dataclass(slots=True)
class Streams:
    """Every stream of the site, and the feed links that article pages show."""

    streams: list[Stream]
    site_feeds: tuple
    category_feeds: dict[str, tuple]


def plan_streams(published: list[Article], config: Config) -> Streams:
    """The site's streams: everything, each category, tag and author, and the podcast."""
    base, site = config.site.url, config.site
    site_feeds = _feed_links(site.title, "all", config)
    feed_kinds = KINDS
    streams = [Stream(published, "", "index.html", site.title, site_feeds,
                      feed=("all", site.title, base, feed_kinds, config.feeds.archives, False))]
    by_category = _group(published, lambda a: a.categories)
    category_feeds: dict[str, tuple] = {}
    _ = i18n.gettext_for(config.site.lang)
    for name, slug, url in categories_of(published, config):
        title = _("%(site)s: %(category)s") % {"site": site.title, "category": name}
        feed = f"{slug}.category" if slug in SITE_FEEDS else slug
        own = _feed_links(title, feed, config) if config.feeds.categories else ()
        category_feeds[name] = own
        streams.append(Stream(
            by_category[name], category_path(slug, config), "category.html", name,
            site_feeds + own, category=(name, slug),
            feed=(feed, title, url, feed_kinds, False, False) if config.feeds.categories
            else None))
    for kind, names in TERMS:
        grouped = _group(published, names)
        for name in collated(grouped):
            if stream := term_stream(kind, name, grouped[name], config, site_feeds):
                streams.append(stream)
    if config.feeds.podcast:
        episodes = [a for a in published if a.enclosure]
        streams.append(Stream(episodes, feed=(
            "podcast", config.feeds.podcast.title or site.title, base, ("rss",), False, True)))
    return Streams(streams, site_feeds, category_feeds)


TERMS = (("tag", lambda a: a.tags), ("author", authors_of))  # what tag and author pages list


def term_stream(kind: str, name: str, articles: Sequence, config: Config,
                site_feeds: tuple) -> Stream | None:
    """The stream of one tag or author ("tag" or "author" `kind`); None for a name that
    makes no slug (no page can be made for it)."""
    slug, url = make_slug(name), term_url(kind, name, config)
    if not slug:
        return None
    site = config.site
    title = i18n.gettext_for(site.lang)("%(site)s: %(category)s") % {"site": site.title,
                                                                     "category": name}
    own = _feed_links(title, f"{slug}.{kind}", config) if config.feeds.tags else ()
    pattern = config.paths.tag if kind == "tag" else config.paths.author
    return Stream(articles, pattern.format(slug=slug).lstrip("/"), f"{kind}.html", name,
                  site_feeds + own, term=(kind, name, slug),
                  feed=(f"{slug}.{kind}", title, url, KINDS, False, False)
                  if config.feeds.tags else None)


def article_pages(a: Article, site_feeds: tuple, category_feeds: dict[str, tuple],
                  redirects: Sequence[str] = ()) -> list[Page]:
    """An article's (or static page's) own page, and a redirect page at each of `redirects`;
    the page links to the site's feeds and its category's (Streams' fields)."""
    template = "page.html" if a.kind == "page" else "article.html"
    category, feeds = _page_parts(a.category, site_feeds, category_feeds.get(a.category, ()))
    own = Page(path=a.path, template=template, title=a.title, article=a, category=category,
               feeds=feeds)
    return [own, *(Page(path=old, template="redirect.html", title=a.title, article=a)
                   for old in redirects)]


@lru_cache(maxsize=256)
def _page_parts(category: str, site_feeds: tuple, own: tuple) -> tuple[tuple, tuple]:
    """An article page's (category, slug) and feed links: one pair of tuples for all the
    pages of a category, not one for each of 100,000 pages."""
    return (category, make_slug(category)), site_feeds + own


def plan_site(published: list[Article], config: Config, unlisted: list[Article] = (),
              moved: dict[str, tuple[str, ...]] | None = None,
              ) -> tuple[list[Page], list[FeedDoc], Streams, dict[str, tuple[str, ...]]]:
    """Every page and feed of the site. `published` (newest first) is what lists and feeds
    show; `unlisted` (hidden articles, static pages) only get their own page; `moved` gives
    the old output paths of an article id, which get a redirect page as its aliases do.
    Also the streams, and the redirect paths of each source: what a touch-up needs."""
    streams = plan_streams(published, config)
    pages: list[Page] = []
    feeds: list[FeedDoc] = []
    for stream in streams.streams:
        listing, docs = stream_jobs(stream, config)
        pages += listing
        feeds += docs
    taken = ({p.path for p in pages} | {a.path for a in published} | {a.path for a in unlisted}
             | {"404.html"})
    redirects: dict[str, tuple[str, ...]] = {}
    for a in [*published, *unlisted]:
        olds = []
        for old in dict.fromkeys((*a.aliases, *(moved or {}).get(a.id, ()))):
            if old not in taken:
                taken.add(old)
                olds.append(old)
        if olds:
            redirects[a.source] = tuple(olds)
        pages += article_pages(a, streams.site_feeds, streams.category_feeds, olds)
    pages.append(Page(path="404.html", template="404.html", title="404",
                      feeds=streams.site_feeds))
    return pages, feeds, streams, redirects


def redirects_of(pages: list[Page]) -> list[tuple[str, str]]:
    """(old URL path, new URL) of every redirect page: `_redirects` for the server."""
    found = []
    for p in pages:
        if p.template == "redirect.html" and p.article:
            old = "/" + (p.path.removesuffix("index.html") if p.path.endswith("/index.html")
                         or p.path == "index.html" else p.path)
            found.append((posixpath.normpath(old) + ("/" if old.endswith("/") else ""),
                          p.article.url))
    return found
