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
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from publisher.config import Config
from publisher.content import Walk
from publisher.models import Article
from publisher.site import cache as caching
from publisher.site.cache import BuildState, RecordsWriter, record_shape
from publisher.site.workers import RenderJobs, job_fingerprint, job_path, read_sources

MOST = 50  # changed sources a touch-up takes on; more is a full build's work
Place = tuple[tuple[int, int], int, int]  # (stat, start, length) of a record in the file


@dataclass
class SitePlan:
    """What a touch-up reuses of the last full build (see the module's docstring). Sources
    are numbers (their place in `rels`) and records' places are arrays: at 100,000 articles
    the file loads in a few hundredths of a second."""

    generation: str = ""
    folders: dict[str, tuple[tuple[str, ...], bytes]] = field(default_factory=dict)  # the walk
    rels: list[str] = field(default_factory=list)  # every source read, sorted
    starts: array = field(default_factory=lambda: array("q"))  # where its record starts
    lengths: array = field(default_factory=lambda: array("q"))
    streams: list = field(default_factory=list)  # plan.Stream, articles as array("i") of numbers
    site_feeds: tuple = ()
    category_feeds: dict[str, tuple] = field(default_factory=dict)
    categories: list = field(default_factory=list)  # every page's masthead
    page_key: str = ""
    redirects: dict[str, tuple[str, ...]] = field(default_factory=dict)
    renamed: frozenset[str] = frozenset()  # given a '-2' path by dedupe_paths

    def number(self, rel: str) -> int | None:
        i = bisect_left(self.rels, rel)
        return i if i < len(self.rels) and self.rels[i] == rel else None


def site_plan(generation: str, walk: Walk, places: dict[str, Place], streams,
              categories: list, page_key: str, redirects: dict[str, tuple[str, ...]],
              renamed: frozenset[str]) -> SitePlan:
    """The SitePlan of a full build: its walk, its records' places, its streams."""
    rels = sorted(places)
    number = {rel: i for i, rel in enumerate(rels)}
    return SitePlan(
        generation=generation,
        folders={prefix: (tuple(names), flat.tobytes()) for prefix, names, flat in walk.folders},
        rels=rels, starts=array("q", [places[r][1] for r in rels]),
        lengths=array("q", [places[r][2] for r in rels]),
        streams=[replace(s, articles=array("i", [number[a.source] for a in s.articles]))
                 for s in streams.streams],
        site_feeds=streams.site_feeds, category_feeds=streams.category_feeds,
        categories=categories, page_key=page_key, redirects=redirects, renamed=renamed)


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
    return plan


def changed_sources(walk: Walk, plan: SitePlan, state: BuildState,
                    ) -> list[tuple[str, tuple[int, int]]] | None:
    """The articles whose file changed since the build that wrote `plan` (and since a
    touch-up took them in), with their stat; None if anything else changed: a file added,
    removed or turned into a link, an asset, a folder."""
    if len(walk.folders) != len(plan.folders) or walk.targets:
        return None
    changed, seen = [], set()
    for prefix, names, flat in walk.folders:
        old = plan.folders.get(prefix)
        if old is None or len(old[0]) != len(names):
            return None
        data = flat.tobytes()
        if data == old[1] and tuple(names) == old[0]:
            continue
        if tuple(names) != old[0]:
            return None
        before = array("q")
        before.frombytes(old[1])
        for entry in _differing(data, old[1]):
            mode, size, mtime = flat[3 * entry : 3 * entry + 3]
            rel = prefix + names[entry]
            if mode != before[3 * entry] or plan.number(rel) is None:
                return None  # not a file as it was, or not an article (an asset)
            seen.add(rel)
            touched = state.moved_records.get(rel)
            if touched is None or touched[0] != (size, mtime):
                changed.append((rel, (size, mtime)))
                if len(changed) > MOST:
                    return None
    folders = {prefix: (names, flat) for prefix, names, flat in walk.folders}
    for rel in state.moved_records.keys() - seen:  # touched up, then back as it was
        folder, _, name = rel.rpartition("/")
        names, flat = folders[folder and folder + "/"]
        j = 3 * names.index(name)
        changed.append((rel, (flat[j + 1], flat[j + 2])))
    return changed


def _differing(now: bytes, then: bytes, block: int = 24 * 64) -> list[int]:
    """The entries (24 bytes of numbers each) that differ, found block by block in C."""
    found = []
    for start in range(0, len(now), block):
        if now[start : start + block] != then[start : start + block]:
            found += [e for e in range(start // 24, min(start + block, len(now)) // 24)
                      if now[24 * e : 24 * e + 24] != then[24 * e : 24 * e + 24]]
    return found


def touch_up(config: Config, now: datetime, state: BuildState, cache_file: Path, walk: Walk,
             out: str) -> tuple[int, int] | None:
    """Rebuild what shows the changed sources, if none changed shape: (outputs rendered,
    files written), the state saved; None if this is a full build's work (nothing done)."""
    plan = load_plan(cache_file, state)
    if plan is None:
        return None
    changed = changed_sources(walk, plan, state)
    if not changed or state.appended + len(changed) > len(plan.rels) // 2:
        return None  # (the articles file mostly superseded records: a full build compacts it)
    articles_file = cache_file.with_name("articles.pickle")
    try:
        with articles_file.open("rb") as f:
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None

    def record(i: int) -> memoryview:
        moved = state.moved_records.get(plan.rels[i])
        start, length = moved[1:] if moved else (plan.starts[i], plan.lengths[i])
        return memoryview(data)[start : start + length]

    root = config.path("content")
    fresh: dict[int, Article] = {}
    blobs: dict[str, tuple[tuple[int, int], bytes]] = {}
    reads = [(rel, os.path.join(root, rel), stat) for rel, stat in changed]
    for (rel, stat), blob in zip(changed, read_sources(config, reads, 1)):
        i = plan.number(rel)
        old_shape = record_shape(record(i))
        if not old_shape or rel in plan.renamed or record_shape(blob) != old_shape:
            return None  # (a source that cannot be read has no shape)
        fresh[i], blobs[rel] = pickle.loads(caching.read_record(blob)[2]), (stat, blob)

    from publisher.site.plan import Streams, article_pages, stream_jobs

    jobs: list = []
    for stream in plan.streams:
        positions = [stream.articles.index(i) for i in fresh if i in stream.articles]
        if positions:
            pages, feeds = stream_jobs(stream, config, positions)
            jobs += pages + feeds
    streams = Streams([], plan.site_feeds, plan.category_feeds)
    for a in fresh.values():
        if a.is_published(now):
            jobs += article_pages(a, streams, plan.redirects.get(a.source, ()))
    lookup: dict[int, Article] = dict(fresh)
    for i in {i for j in jobs for i in getattr(j, "articles", ())} - lookup.keys():
        lookup[i] = pickle.loads(caching.read_record(record(i))[2])
    jobs = [replace(j, articles=tuple(lookup[i] for i in j.articles))
            if getattr(j, "articles", ()) else j for j in jobs]

    prints = [job_fingerprint(j, state.key, plan.page_key) for j in jobs]
    render = RenderJobs(jobs=jobs, prints=prints, config=config, categories=plan.categories,
                        out=out, key=state.key, page_key=plan.page_key)
    from publisher.site.workers import render_in_workers

    written = 0
    for result in render_in_workers(render, list(range(len(jobs))), 1):
        for index, fp, wrote, size, mtime in result:
            written += wrote
            state.patch[job_path(jobs[index])] = (fp, size, mtime)
    records = RecordsWriter(articles_file, append=True)
    try:
        for rel, (stat, blob) in blobs.items():
            state.moved_records[rel] = (stat, records.add(blob), len(blob))
            state.appended += 1
    finally:
        records.commit()
    state.signature = walk.signature
    state.sentinels.update(caching.sentinels_of(state.patch))
    caching.save_small_state(cache_file, state)
    return len(jobs), written

