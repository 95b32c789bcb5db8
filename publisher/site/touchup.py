"""A touch-up: the rebuild after an author changed only what some articles say.

A newsroom's most common rebuild is a corrected sentence or title. Whether an article's edit
can move anything (its paths, its place in a list, which lists and feeds it is in) is its
*shape* (cache.shape_of). When every changed source kept its shape, the site's plan is the
last build's, so a touch-up plans only the streams that show those articles, with source
paths standing in for articles (planning only slices them), and renders the outputs that show
a changed article, unpickling only the articles those outputs show. At 100,000 articles that
is a few dozen outputs and a few hundred articles, not 145,000 outputs and every article.

What it needs from the last full build is in a third file (`build-plan.pickle`, tied to the
state's generation like the outputs file): the streams, the records' places in the articles
file, and the few facts that plan_site worked out from all articles (the categories, the
feed links, the redirects, the sources dedupe_paths renamed). Anything else (a source added
or removed, a new shape, a scheduled article coming due, a different environment) is a full
build's work: `touch_up` answers None and build() goes on as before.
"""

from __future__ import annotations

import mmap
import os
import pickle
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from publisher.config import Config
from publisher.models import Article
from publisher.site import cache as caching
from publisher.site.cache import BuildState, RecordsWriter, pack_record, record_shape
from publisher.site.workers import RenderJobs, job_fingerprint, job_path

MOST = 50  # changed sources a touch-up takes on; more is a full build's work
Place = tuple[tuple[int, int], int, int]  # (stat, start, length) of a record in the file


@dataclass
class SitePlan:
    """What a touch-up reuses of the last full build (see the module's docstring)."""

    generation: str = ""
    records: dict[str, Place] = field(default_factory=dict)  # every source's record
    streams: list = field(default_factory=list)  # plan.Stream, with source paths
    site_feeds: tuple = ()
    category_feeds: dict[str, tuple] = field(default_factory=dict)
    categories: list = field(default_factory=list)  # every page's masthead
    page_key: str = ""
    redirects: dict[str, tuple[str, ...]] = field(default_factory=dict)
    renamed: frozenset[str] = frozenset()  # given a '-2' path by dedupe_paths


def plan_file(cache_file: Path) -> Path:
    return cache_file.with_name(cache_file.stem + "-plan.pickle")


def save_plan(cache_file: Path, plan: SitePlan) -> None:
    tmp = plan_file(cache_file).with_suffix(".tmp")
    with tmp.open("wb") as f:
        pickle.dump(plan, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, plan_file(cache_file))


def load_plan(cache_file: Path, state: BuildState) -> SitePlan | None:
    try:
        with plan_file(cache_file).open("rb") as f:
            plan = pickle.load(f)
    except Exception:  # noqa: BLE001 - no plan only costs a full build
        return None
    if not isinstance(plan, SitePlan) or plan.generation != state.generation:
        return None
    plan.records.update(state.moved_records)
    return plan


def touch_up(config: Config, now: datetime, state: BuildState, cache_file: Path,
             files: list[tuple[str, tuple[int, int]]], signature: str, out: str,
             workers: int) -> tuple[int, int] | None:
    """Rebuild what shows the changed sources, if none changed shape: (outputs rendered,
    files written), the state saved; None if this is a full build's work (nothing done)."""
    plan = load_plan(cache_file, state)
    if plan is None or len(files) != len(plan.records):
        return None
    changed = []
    for rel, stat in files:
        place = plan.records.get(rel)
        if place is None:  # a source added (and, as many are, another removed)
            return None
        if place[0] != stat:
            changed.append(rel)
            if len(changed) > MOST:
                return None
    if not changed or state.appended + len(changed) > len(plan.records) // 2:
        return None  # (the articles file mostly superseded records: a full build compacts it)
    articles_file = cache_file.with_name("articles.pickle")
    try:
        with articles_file.open("rb") as f:
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    root = config.path("content")
    fresh: dict[str, Article] = {}
    blobs: dict[str, bytes] = {}
    stats = dict(files)
    for rel in changed:
        _, start, length = plan.records[rel]
        old_shape = record_shape(data[start : start + length])
        article = _read(config, root, rel, stats[rel])
        if article is None or not old_shape or rel in plan.renamed:
            return None
        blob = pack_record(rel, stats[rel], article)
        if record_shape(blob) != old_shape:
            return None
        fresh[rel], blobs[rel] = article, blob

    from publisher.site.plan import article_pages, stream_jobs

    jobs: list = []
    for stream in plan.streams:
        if not any(rel in fresh for rel in stream.articles):
            continue
        pages, feeds = stream_jobs(stream, config)
        jobs += [j for j in (*pages, *feeds) if any(rel in fresh for rel in j.articles)]
    for rel, a in fresh.items():
        if a.is_published(now):
            jobs += article_pages(a, _streams(plan), plan.redirects.get(rel, ()))
    shown = {rel for j in jobs for rel in getattr(j, "articles", ())} - set(fresh)
    lookup = dict(fresh)
    for rel in shown:
        _, start, length = plan.records[rel]
        lookup[rel] = pickle.loads(caching.read_record(data[start : start + length])[2])
    jobs = [replace(j, articles=tuple(lookup[r] for r in j.articles))
            if getattr(j, "articles", ()) else j for j in jobs]

    key = state.key
    prints = [job_fingerprint(j, key, plan.page_key) for j in jobs]
    render = RenderJobs(jobs=jobs, prints=prints, config=config, categories=plan.categories,
                        out=out, key=key, page_key=plan.page_key)
    from publisher.site.workers import render_in_workers

    written = 0
    for result in render_in_workers(render, list(range(len(jobs))), 1):
        for index, fp, wrote, size, mtime in result:
            written += wrote
            state.patch[job_path(jobs[index])] = (fp, size, mtime)
    records = RecordsWriter(articles_file, append=True)
    try:
        for rel, blob in blobs.items():
            state.moved_records[rel] = (stats[rel], records.add(blob), len(blob))
            state.appended += 1
    finally:
        records.commit()
    state.signature = signature
    state.sentinels.update(caching.sentinels_of(state.patch))
    caching.save_small_state(cache_file, state)
    return len(jobs), written


def _streams(plan: SitePlan):
    from publisher.site.plan import Streams

    return Streams([], plan.site_feeds, plan.category_feeds)


def _read(config: Config, root: Path, rel: str, stat: tuple[int, int]) -> Article | None:
    from publisher.content import read_article
    from publisher.errors import ContentError

    try:
        with open(os.path.join(root, rel), "rb") as f:
            result = read_article(f.read(), rel, config)
    except (OSError, ContentError):
        return None
    return result if isinstance(result, Article) else None
