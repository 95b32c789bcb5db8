"""Articles added since the last full build, taken in by a touch-up (see touchup.py).

A newsroom's other common rebuild is one new article. Put where it belongs in each list it
joins (the site's, its categories', its tags' and authors', the podcast's), it changes the
pages and feed documents from the front of each list down to its place, the newest archive
page when a list grows by a page, its own page, the sitemap and the remembered URLs; nothing
else. An addition that could change more is a full build's work, and `grow` says None:

- a new category (every page's masthead lists them), a static page, aliases, `{filename}`
  links (from or, when the plan has any, to it);
- a path that another article has or had (the full build's dedupe_paths and redirects);
- an id that the remembered URLs place elsewhere (it would get redirect pages).

A draft, or an article dated later, is only recorded: it changes no output, only when the
site must next be built.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from publisher.config import Config
from publisher.content.collate import sort_key
from publisher.models import Article
from publisher.site.feeds import archive_count
from publisher.site.pages import authors_of
from publisher.site.plan import (
    Stream,
    article_pages,
    listing_count,
    page_path,
    shown_on,
    stream_counts,
    term_stream,
)
from publisher.site.sitemap import (
    article_line,
    front_lines,
    load_memory,
    save_memory,
    sitemap_files,
    sitemap_lines,
)

RANK = {"index.html": 0, "category.html": 1, "tag.html": 2, "author.html": 3}  # plan_streams'


@dataclass
class Growth:
    """What the added articles change: the streams they joined, each with its size before
    (0: a stream they made), the positions in it to plan again, their own pages, and what
    the build's report and state count."""

    joined: dict[int, tuple[Stream, int]] = field(default_factory=dict)  # id(stream) -> ...
    positions: dict[int, set[int]] = field(default_factory=dict)  # id(stream) -> positions
    pages: list = field(default_factory=list)  # their own pages
    listed: list[tuple[int, Article]] = field(default_factory=list)  # (place in the site's list)
    articles: int = 0  # listed articles added
    drafts: int = 0  # drafts and articles dated later
    next_publication: datetime | None = None
    memory: dict[str, dict] | None = None  # the remembered URLs, when they gained some

    def finish(self, config: Config, out: str, state) -> int:
        """The remembered URLs gain the added articles'; no output goes."""
        if self.memory is not None:
            save_memory(_memory_file(config), self.memory)
        return 0

    def counts(self, config: Config) -> tuple[int, int]:
        """(pages, feed documents) added."""
        pages = len(self.pages)
        feeds = 0
        for stream, before in self.joined.values():
            now = stream_counts(stream, len(stream.articles), config)
            then = stream_counts(stream, before, config) if before else (0, 0)
            pages, feeds = pages + now[0] - then[0], feeds + now[1] - then[1]
        return pages, feeds


def grow(plan, added: dict[str, Article], lengths: dict[str, int], config: Config,
         now: datetime, next_publication: datetime | None,
         article_at: Callable[[int], Article]) -> Growth | None:
    """Put the `added` articles (by source) into `plan` (a touchup.SitePlan: their numbers,
    the streams they join, new tag and author streams); None if that is a full build's work
    (see the module's docstring), and `plan` is then to be dropped. `article_at(number)`
    unpickles an article of the plan (a stream is bisected by date: 17 of them at 100,000)."""
    growth = Growth(next_publication=next_publication)
    live = [a for a in added.values() if a.is_published(now)]
    if any(a.kind != "article" or a.aliases or a.links for a in added.values()):
        return None
    if live and (plan.linking or not _room_for(live, plan, config)):
        return None
    if live:
        growth.memory = load_memory(_memory_file(config))
        if not _remembered(live, growth.memory, plan):
            return None
    for a in added.values():
        if not a.is_published(now):
            growth.drafts += 1
            if not a.draft and a.date > now:
                growth.next_publication = min(filter(None, (growth.next_publication, a.date)))
    for rel in sorted(added):
        plan.insert(rel, lengths[rel])
    numbers = {plan.number(a.source): a for a in live}

    def at(i: int) -> Article:
        return numbers.get(i) or article_at(i)

    plan.built += len(numbers)
    for n, a in sorted(numbers.items()):
        growth.pages += article_pages(a, plan.site_feeds, plan.category_feeds)
        if not a.listed:
            continue  # hidden: its own page only
        growth.articles += 1
        try:
            joins = _streams_of(a, plan, config)
        except FullBuild:
            return None
        for stream in joins:
            growth.joined.setdefault(id(stream), (stream, len(stream.articles)))
            _insert(stream.articles, n, (a.date, a.source), at)
    for key, (stream, before) in growth.joined.items():
        mine = [stream.articles.index(n) for n in numbers if n in stream.articles]
        growth.positions[key] = _to_plan_again(stream, before, max(mine), config)
        if stream.template == "index.html":
            growth.listed = [(stream.articles.index(n), numbers[n]) for n in numbers
                             if numbers[n].listed]
    return growth


def _to_plan_again(stream: Stream, before: int, last: int, config: Config) -> set[int]:
    """The positions in `stream` (now with the added articles, the last of them at `last`)
    whose pages and feed documents change: every one down to `last`, and, when the stream
    grew by an archive page or feed archive, a position in the new one and in the one
    before it (its "newer" link)."""
    found = set(range(last + 1))
    size, per, limit = len(stream.articles), config.pages.per_page, config.feeds.limit
    if not before:
        return found
    archived = listing_count(size, per) - 1
    if listing_count(before, per) - 1 != archived:
        found |= {shown_on(size, per, n) for n in (archived, archived - 1) if n > 0}
    if stream.feed and stream.feed[4]:  # with RFC 5005 archives
        full = archive_count(size, limit, True)
        if archive_count(before, limit, True) != full:
            found |= {shown_on(size, limit, k) for k in (full, full - 1) if k > 0}
    return found


def _room_for(live: list[Article], plan, config: Config) -> bool:
    """Whether the added articles fit in the plan: known categories, paths nobody has."""
    known = {name for name, _, _ in plan.categories}
    taken = {p for olds in plan.redirects.values() for p in olds}
    paths = {a.path for a in live}
    return (len(paths) == len(live) and paths.isdisjoint(taken)
            and all(c in known for a in live for c in a.categories))


def _remembered(live: list[Article], memory: dict[str, dict], plan) -> bool:
    """Whether the remembered URLs (var/site-urls.json) agree: no other article has or had
    the added articles' paths, and none of their ids had another path. Then they are added
    to `memory`."""
    if len(memory) < plan.built:
        return False  # the file is not the full build's (deleted?): it cannot tell
    paths, ids = {a.path for a in live}, {a.id for a in live}
    for key, seen in memory.items():
        if key not in ids and (seen.get("path") in paths
                               or "old" in seen and paths.intersection(seen["old"])):
            return False
    for a in live:
        seen = memory.get(a.id)
        if seen and (seen.get("path") != a.path or seen.get("old")):
            return False
        memory[a.id] = {"path": a.path}
    return True


def _memory_file(config: Config) -> Path:
    return config.path("var") / "site-urls.json"


def _streams_of(a: Article, plan, config: Config) -> list[Stream]:
    """The streams a listed article joins, made for a tag or author new to the site."""
    index: dict[tuple[str, str], Stream] = {}
    for s in plan.streams:
        name = s.category[0] if s.category else s.term[1] if s.term else ""
        index[s.template, name] = s
    found = [index["index.html", ""]]
    found += [index["category.html", c] for c in dict.fromkeys(a.categories)]
    for kind, names in (("tag", a.tags), ("author", authors_of(a))):
        for name in dict.fromkeys(names):
            stream = index.get((f"{kind}.html", name))
            if stream is None:
                stream = term_stream(kind, name, array("i"), config, plan.site_feeds)
                if stream is None:
                    continue  # no slug, no page: as plan_streams
                if any(s.term and s.term[::2] == stream.term[::2] for s in plan.streams):
                    raise FullBuild  # two names, one slug: the full build's pages
                plan.add_stream(stream, _rank)
                index[stream.template, name] = stream
            found.append(stream)
    if config.feeds.podcast and a.enclosure:
        found += [s for s in plan.streams if s.base is None and s.feed and s.feed[0] == "podcast"]
    return found


class FullBuild(Exception):
    """An addition that only a full build can take in."""


def _rank(stream: Stream) -> tuple:
    """Where a stream goes in plan_streams' order: the site's, categories, tags, authors,
    the podcast; names in the language's order."""
    name = stream.category[0] if stream.category else stream.term[1] if stream.term else ""
    return RANK.get(stream.template, len(RANK)), sort_key(name)


def _insert(numbers: array, n: int, key: tuple, at: Callable[[int], Article]) -> None:
    """Put `n` in `numbers` (newest first, ties by source path) where `key` belongs."""
    lo, hi = 0, len(numbers)
    while lo < hi:
        mid = (lo + hi) // 2
        other = at(numbers[mid])
        if (other.date, other.source) > key:
            lo = mid + 1
        else:
            hi = mid
    numbers.insert(lo, n)


def sitemap(growth: Growth, plan, jobs: list, out: str, published: int,
            config: Config) -> dict[str, bytes] | None:
    """The sitemap files once the added listed articles are in (rewritten from the ones the
    last build wrote: the rows of the front pages they changed, their lines at their place);
    None if those files are not what the last build wrote."""
    found = sitemap_lines(out, published)
    if found is None:
        return None
    rows, lines = found
    fronts = front_lines(jobs, config)
    r = 0
    for stream in plan.streams:
        if stream.base is None:
            continue
        joined = growth.joined.get(id(stream))
        if joined:
            line = fronts[page_path(stream.base, 0)]
            if joined[1]:
                rows[r] = line
            else:
                rows.insert(r, line)
        r += 1
    for position, a in sorted(growth.listed, key=lambda pa: pa[0]):
        lines.insert(position, article_line(a))
    return sitemap_files(rows, lines, config)
