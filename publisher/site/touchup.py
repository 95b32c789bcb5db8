"""A touch-up: the rebuild after an author changed only what some articles say.

A newsroom's most common rebuild is a corrected sentence or title. Whether an article's edit
can move anything (its paths, its place in a list, which lists and feeds it is in) is its
*shape* (cache.shape_of). When every changed source kept its shape, the site's plan is the
last build's, so a touch-up plans only the streams that show those articles, with source
paths standing in for articles (planning only slices them), and renders the outputs that show
a changed article, unpickling only the articles those outputs show. At 100,000 articles that
is a few dozen outputs and a few hundred articles, not 145,000 outputs and every article.

Articles added or removed are taken in too (additions.py, removals.py): each goes into, or
leaves, the lists it is in, and the pages and feed documents from the front of each list down
to its place are rendered again.

What it needs from the last full build is in a third file (`build-plan.pickle`, tied to the
state's generation like the outputs file): the streams, the records' places in the articles
file, and the few facts that plan_site worked out from all articles (the categories, the
feed links, the redirects, the sources dedupe_paths renamed). A touch-up that adds or
removes articles writes it again. Anything else (a new shape, a file renamed, a scheduled
article coming due, a different environment) is a full build's work: `touch_up` answers
None and build() goes on as before.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import pickle
import stat
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from publisher.config import Config
from publisher.content import Walk, is_article
from publisher.models import Article
from publisher.site import cache as caching
from publisher.site.cache import BuildState, RecordsWriter, record_shape
from publisher.site.workers import RenderJobs, job_fingerprint, job_path, read_sources

MOST = 50  # changed or added sources a touch-up takes on; more is a full build's work
MOST_OUTPUTS = 300  # outputs it renders (an article added far back shifts many pages)
Place = tuple[int, int]  # (start, length) of a record in the articles file


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
    linking: bool = False  # some article links to others with {filename}
    built: int = 0  # articles that got a page

    def number(self, rel: str) -> int | None:
        i = bisect_left(self.rels, rel)
        return i if i < len(self.rels) and self.rels[i] == rel else None

    def insert(self, rel: str, length: int) -> None:
        """Make room for a new source, in order: the numbers after it move up by one."""
        k = bisect_left(self.rels, rel)
        self.rels.insert(k, rel)
        self.starts.insert(k, -1)  # known once its record is written
        self.lengths.insert(k, length)
        for s in self.streams:
            s.articles = array("i", [n + (n >= k) for n in s.articles])

    def remove(self, rel: str) -> None:
        """Forget a source (no stream holds it any more): the numbers after it move down."""
        k = self.number(rel)
        del self.rels[k], self.starts[k], self.lengths[k]
        for s in self.streams:
            s.articles = array("i", [n - (n > k) for n in s.articles])
        self.redirects.pop(rel, None)

    def add_stream(self, stream, rank) -> None:
        """A new stream (a new tag's), where `rank` orders it among the others."""
        mine = rank(stream)
        at = next((i for i, s in enumerate(self.streams) if rank(s) > mine), len(self.streams))
        self.streams.insert(at, stream)


def site_plan(generation: str, walk: Walk, places: dict[str, Place], streams,
              categories: list, page_key: str, redirects: dict[str, tuple[str, ...]],
              renamed: frozenset[str], linking: bool, built: int) -> SitePlan:
    """The SitePlan of a full build: its walk, its records' places, its streams."""
    rels = sorted(places)
    number = {rel: i for i, rel in enumerate(rels)}
    return SitePlan(
        generation=generation,
        folders={prefix: (tuple(names), flat.tobytes()) for prefix, names, flat in walk.folders},
        rels=rels, starts=array("q", [places[r][0] for r in rels]),
        lengths=array("q", [places[r][1] for r in rels]),
        streams=[replace(s, articles=array("i", [number[a.source] for a in s.articles]))
                 for s in streams.streams],
        site_feeds=streams.site_feeds, category_feeds=streams.category_feeds,
        categories=categories, page_key=page_key, redirects=redirects, renamed=renamed,
        linking=linking, built=built)


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


Changes = tuple[list[tuple[str, tuple[int, int]]], list[tuple[str, tuple[int, int]]], list[str],
                dict[str, tuple[tuple[str, ...], bytes]]]


def changed_sources(walk: Walk, plan: SitePlan, state: BuildState) -> Changes | None:
    """(changed, added, removed, folders): the articles whose file changed since the build
    that wrote `plan` (and since a touch-up took them in), the articles added, with their
    stat, the articles removed, and the plan's folders as they become; None if anything else
    changed: an asset, a folder, a file turned into a link, files both added and removed."""
    if len(walk.folders) != len(plan.folders) or walk.targets:
        return None
    changed, added, removed, seen, folders = [], [], [], set(), {}
    for prefix, names, flat in walk.folders:
        old = plan.folders.get(prefix)
        if old is None:
            return None
        now, then, aligned = flat.tobytes(), old[1], old[0]
        if now == then and tuple(names) == aligned:
            continue
        if tuple(names) != aligned:
            found = _names_changed(prefix, names, flat, old, added, removed)
            if found is None or (added and removed):
                return None  # (a file renamed: a full build's)
            now, then, aligned, folders[prefix] = found
        before = array("q")
        before.frombytes(then)
        for entry in _differing(now, then):
            mode, size, mtime = array("q", now[24 * entry : 24 * entry + 24])
            if stat.S_ISDIR(mode) and mode == before[3 * entry]:
                continue  # a folder whose entries changed: it is compared on its own
            rel = prefix + aligned[entry]
            if mode != before[3 * entry] or plan.number(rel) is None:
                return None  # not a file as it was, or not an article (an asset)
            seen.add(rel)
            touched = state.moved_records.get(rel)
            if touched is None or touched[0] != (size, mtime):
                changed.append((rel, (size, mtime)))
        if len(changed) + len(added) + len(removed) > MOST:
            return None
    if any(plan.number(rel) is None for rel in removed):
        return None  # an asset removed
    current = {prefix: (names, flat) for prefix, names, flat in walk.folders}
    for rel in state.moved_records.keys() - seen - set(removed):  # touched up, then restored
        folder, _, name = rel.rpartition("/")
        names, flat = current[folder and folder + "/"]
        j = 3 * names.index(name)
        changed.append((rel, (flat[j + 1], flat[j + 2])))
    return changed, added, removed, folders


def _names_changed(prefix: str, names: list[str], flat: array,
                   old: tuple[tuple[str, ...], bytes], added: list, removed: list):
    """A folder that gained files or lost some: (its numbers and the plan's, for the names
    both have, those names, the plan's folder as it becomes), the new files put in `added`
    (None if one is not an article) and the gone ones in `removed`; None if the names both
    have are listed in another order (a full build compares them name by name)."""
    here, there = set(names), set(old[0])
    new = [i for i, name in enumerate(names) if name not in there]
    gone = [i for i, name in enumerate(old[0]) if name not in here]
    skip_new, skip_gone = set(new), set(gone)
    both = [n for i, n in enumerate(names) if i not in skip_new]
    if both != [n for i, n in enumerate(old[0]) if i not in skip_gone]:
        return None
    data = flat.tobytes()
    now = b"".join(data[24 * i : 24 * i + 24] for i in range(len(names)) if i not in skip_new)
    then = b"".join(old[1][24 * i : 24 * i + 24] for i in range(len(old[0]))
                    if i not in skip_gone)
    grown = bytearray(then)  # the plan's numbers for the names both have, and the new ones'
    for i in new:
        mode, size, mtime = flat[3 * i : 3 * i + 3]
        if not (stat.S_ISREG(mode) and is_article(prefix, names[i])):
            return None  # an asset, a folder, a link: a full build's
        added.append((prefix + names[i], (size, mtime)))
        grown[24 * i : 24 * i] = data[24 * i : 24 * i + 24]
    removed += [prefix + old[0][i] for i in gone]
    return now, then, both, (tuple(names), bytes(grown))


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
    """Rebuild what shows the changed sources, if none changed shape, and take in the added
    or removed ones (additions.py, removals.py): (outputs rendered, files written), the state
    saved; None if this is a full build's work (nothing done)."""
    plan = load_plan(cache_file, state)
    found = plan and changed_sources(walk, plan, state)
    if not found or not (found[0] or found[1] or found[2]):
        return None
    changed, added, removed, folders = found
    if state.appended + len(changed) + len(added) > len(plan.rels) // 2:
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

    def article_at(i: int) -> Article:
        return caching.load_result(record(i))

    root = config.path("content")
    edited: dict[str, Article] = {}
    new: dict[str, Article] = {}
    blobs: dict[str, tuple[tuple[int, int], bytes]] = {}
    reads = [(rel, os.path.join(root, rel), st) for rel, st in changed + added]
    for (rel, st), blob in zip(changed + added, read_sources(config, reads, 1)):
        shape = record_shape(blob)
        i = plan.number(rel)
        if not shape or (i is not None and (rel in plan.renamed or record_shape(record(i))
                                            != shape)):
            return None  # (a source that cannot be read has no shape)
        (new if i is None else edited)[rel] = caching.load_result(blob)
        blobs[rel] = (st, blob)
    change = None  # what the added or removed articles change (never both)
    if new:
        from publisher.site.additions import grow

        change = grow(plan, new, {rel: len(blobs[rel][1]) for rel in new}, config, now,
                      state.next_publication, article_at)
    elif removed:
        from publisher.site.removals import shrink

        change = shrink(plan, removed, config, now, state.next_publication, article_at)
    if (new or removed) and change is None:
        return None
    fresh = {plan.number(rel): a for rel, a in edited.items()}
    jobs = _jobs(plan, fresh, change, config, now)
    if len(jobs) > MOST_OUTPUTS:
        return None
    lookup: dict[int, Article] = dict(fresh)
    lookup.update((plan.number(a.source), a) for a in new.values())
    for i in {i for j in jobs for i in getattr(j, "articles", ())} - lookup.keys():
        lookup[i] = article_at(i)
    jobs = [replace(j, articles=tuple(lookup[i] for i in j.articles))
            if getattr(j, "articles", ()) else j for j in jobs]
    prints = [job_fingerprint(j, state.key, plan.page_key) for j in jobs]
    if change and change.listed:
        from publisher.site import additions, removals

        files = (removals.sitemap(change, jobs, out, state.counts[0], config) if removed
                 else additions.sitemap(change, plan, jobs, out, state.counts[0], config))
        if files is None:
            return None
        for path, made in files.items():
            jobs.append((path, made))
            prints.append(caching.fingerprint(
                state.key, (path, hashlib.blake2b(made).hexdigest())))
    return _write(jobs, prints, plan, state, change, blobs, config, cache_file, walk, folders,
                  out, removed)


def _jobs(plan: SitePlan, fresh: dict[int, Article], change, config: Config,
          now: datetime) -> list:
    """The outputs that show the edited articles, or that the added or removed ones change
    (`change`: additions.Growth or removals.Shrinkage); listing
    pages and feed documents hold source numbers, not articles, as yet."""
    from publisher.site.plan import article_pages, stream_jobs

    jobs: list = []
    for stream in plan.streams:
        positions = {stream.articles.index(i) for i in fresh if i in stream.articles}
        if change:
            positions |= change.positions.get(id(stream), set())
        if positions:
            pages, feeds = stream_jobs(stream, config, positions)
            jobs += pages + feeds
    for a in fresh.values():
        if a.is_published(now):
            jobs += article_pages(a, plan.site_feeds, plan.category_feeds,
                                  plan.redirects.get(a.source, ()))
    return jobs + (change.pages if change else [])


def _write(jobs: list, prints: list[str], plan: SitePlan, state: BuildState, change,
           blobs: dict, config: Config, cache_file: Path, walk: Walk, folders: dict,
           out: str, removed: list[str]) -> tuple[int, int]:
    """Render and write the outputs, then the records, the plan and the state (in that
    order: a build stopped on the way finds the plan or state of before, and does it again
    or a full build)."""
    from publisher.site.workers import render_here

    render = RenderJobs(jobs=jobs, prints=prints, config=config, categories=plan.categories,
                        out=out, key=state.key, page_key=plan.page_key)
    new_files = sum(not os.path.exists(os.path.join(out, job_path(j))) for j in jobs)
    written = 0
    for result in render_here(render, list(range(len(jobs)))):
        for path, fp, wrote, size, mtime in result:
            written += wrote
            state.patch[path] = (fp, size, mtime)
    records = RecordsWriter(cache_file.with_name("articles.pickle"), append=True)
    try:
        for rel, (st, blob) in blobs.items():
            start, i = records.add(blob), plan.number(rel)
            if plan.starts[i] < 0:  # an added source: its place is the plan's
                plan.starts[i] = start
            else:
                state.moved_records[rel] = (st, start, len(blob))
            state.appended += 1
    finally:
        records.commit()
    if change:
        new_files -= change.finish(config, out, state)
        pages, feeds = change.counts(config)
        articles, drafts, feed_count, page_count = state.counts
        state.counts = (articles + change.articles, drafts + change.drafts,
                        feed_count + feeds, page_count + pages)
        state.next_publication = change.next_publication
        for rel in removed:
            state.moved_records.pop(rel, None)
        plan.folders.update(folders)
        save_plan(cache_file, plan)
    state.total += new_files
    state.signature = walk.signature
    state.sentinels.update(caching.sentinels_of(state.patch))
    for path in [p for p, rec in state.patch.items() if rec is None]:
        state.sentinels.pop(path, None)
    caching.save_small_state(cache_file, state)
    return len(jobs), written
