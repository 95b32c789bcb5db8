"""Articles removed since the last full build, taken out by a touch-up (see touchup.py).

Unpublishing is the mirror of adding (additions.py). The article leaves each list it was in:
the pages and feed documents from the front of each list down to where it was are rendered
again; when a list shrinks by an archive page (or an RFC 5005 feed archive), that one goes
and the one before it loses its "older" link. Its own page goes, and a tag's
or author's list it leaves empty goes whole, feeds and sitemap row too. The remembered URLs
keep it, as a full build does. Still a full build's work, `shrink` says None:

- a category left empty (every page's masthead lists them), the site's list left empty;
- a static page; a source that could not be read (its warning goes); an article with
  aliases or old addresses (the `_redirects` file lists them);
- `{filename}` links anywhere in the plan; articles dedupe_paths renamed (one may get its
  path back);
- the next scheduled article (when the site must next be built would have to be found again).
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from publisher.config import Config
from publisher.models import Article
from publisher.site.feeds import SUFFIX, archive_count
from publisher.site.plan import (
    Stream,
    listing_count,
    page_path,
    shown_on,
    stream_counts,
    stream_jobs,
)
from publisher.site.sitemap import front_lines, sitemap_files, sitemap_lines
from publisher.site.writer import remove


@dataclass
class Shrinkage:
    """What the removed articles change: the streams they left, each with its size before,
    the positions in it to plan again, the outputs that go, and what the build's report and
    state count (negative)."""

    left: dict[int, tuple[Stream, int, int]] = field(default_factory=dict)  # id -> (s, size, row)
    positions: dict[int, set[int]] = field(default_factory=dict)
    gone: list[str] = field(default_factory=list)  # outputs to delete
    emptied: list[tuple[Stream, int]] = field(default_factory=list)  # (stream, its row or -1)
    listed: list[int] = field(default_factory=list)  # their places in the site's list, before
    pages: list = field(default_factory=list)  # (none: a touch-up's jobs, as additions')
    articles: int = 0
    drafts: int = 0
    own_pages: int = 0  # their own pages and redirect pages
    next_publication: datetime | None = None

    def finish(self, config: Config, out: str, state) -> int:
        """Delete the outputs that go, and mark them gone in the state's patch: how many."""
        found = 0
        for path in dict.fromkeys(self.gone):
            found += os.path.exists(os.path.join(out, path))
            remove(Path(out), path)
            state.patch[path] = None  # (load_outputs drops it)
        return found

    def counts(self, config: Config) -> tuple[int, int]:
        """(pages, feed documents) added: negative."""
        pages, feeds = -self.own_pages, 0
        emptied = {id(s) for s, _ in self.emptied}
        for stream, before, _ in self.left.values():
            now = (0, 0) if id(stream) in emptied else stream_counts(
                stream, len(stream.articles), config)
            then = stream_counts(stream, before, config)
            pages, feeds = pages + now[0] - then[0], feeds + now[1] - then[1]
        return pages, feeds


def shrink(plan, removed: list[str], config: Config, now: datetime,
           next_publication: datetime | None,
           article_at: Callable[[int], object]) -> Shrinkage | None:
    """Take the `removed` sources out of `plan` (a touchup.SitePlan); None if that is a full
    build's work (see the module's docstring), and `plan` is then to be dropped."""
    change = Shrinkage(next_publication=next_publication)
    if plan.linking or plan.renamed:
        return None
    numbers = {plan.number(rel) for rel in removed}
    gone_articles: list[Article] = []
    for i in numbers:
        a = article_at(i)
        if not isinstance(a, Article) or a.kind != "article":
            return None
        if not a.is_published(now):
            if not a.draft and a.date > now and a.date == next_publication:
                return None
            change.drafts -= 1
            continue
        if a.source in plan.redirects:
            return None  # its redirects leave `_redirects`, which a full build writes
        change.gone.append(a.path)
        change.own_pages += 1
        gone_articles.append(a)
        change.articles -= a.listed
    row = 0
    for stream in plan.streams:
        mine = sorted(stream.articles.index(i) for i in numbers if i in stream.articles)
        if mine:
            if not _leave(stream, mine, row if stream.base is not None else -1, change, config):
                return None
        row += stream.base is not None
    emptied = {id(s) for s, _ in change.emptied}
    plan.streams = [s for s in plan.streams if id(s) not in emptied]
    for rel in sorted(removed, reverse=True):
        plan.remove(rel)
    plan.built -= len(gone_articles)
    return change


def _leave(stream: Stream, mine: list[int], row: int, change: Shrinkage,
           config: Config) -> bool:
    """Take the articles at positions `mine` out of `stream`; False if a full build's."""
    before = len(stream.articles)
    if stream.template == "index.html":
        change.listed = mine
    if before == len(mine) and stream.base is not None:  # left empty: it goes whole
        if stream.template in ("index.html", "category.html"):
            return False
        pages, feeds = stream_jobs(stream, config)
        change.gone += [j.path for j in pages + feeds]
        change.emptied.append((stream, row))
        change.left[id(stream)] = (stream, before, row)
        stream.articles = array("i")
        return True
    kept = set(mine)
    stream.articles = array("i", [n for p, n in enumerate(stream.articles) if p not in kept])
    size, per, limit = len(stream.articles), config.pages.per_page, config.feeds.limit
    found = set(range(min(mine[-1] + 1, size))) or {0}  # (an empty podcast: its feed)
    archived, was = listing_count(size, per) - 1, listing_count(before, per) - 1
    if stream.base is not None and archived < was:  # archive pages go; the newest left changes
        change.gone += [page_path(stream.base, n) for n in range(archived + 1, was + 1)]
        found |= {shown_on(size, per, archived)} if archived > 0 else set()
    if stream.feed and stream.feed[4]:
        full, had = archive_count(size, limit, True), archive_count(before, limit, True)
        name, kinds = stream.feed[0], stream.feed[3]
        change.gone += [f"feeds/archive/{name}-{k}{SUFFIX[kind]}"
                        for kind in kinds for k in range(full + 1, had + 1)]
        found |= {shown_on(size, limit, full)} if 0 < full < had else set()
    change.positions[id(stream)] = found
    change.left[id(stream)] = (stream, before, row)
    return True


def sitemap(change: Shrinkage, jobs: list, out: str, published: int,
            config: Config) -> dict[str, bytes] | None:
    """The sitemap files without the removed listed articles (see additions.sitemap)."""
    found = sitemap_lines(out, published)
    if found is None:
        return None
    rows, lines = found
    fronts = front_lines(jobs, config)
    for stream, _, row in change.left.values():
        if row >= 0 and stream.articles:
            rows[row] = fronts[page_path(stream.base, 0)]
    for row in sorted((r for _, r in change.emptied if r >= 0), reverse=True):
        del rows[row]
    for position in sorted(change.listed, reverse=True):
        del lines[position]
    return sitemap_files(rows, lines, config)
