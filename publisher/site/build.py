"""The build: read content, plan the site, render and write only what changed, report.

A cache under `paths.var` remembers each source file's stat and its Article, and each output's
fingerprint (a hash of everything that went into it). A rebuild re-reads only changed sources
and re-renders only outputs whose fingerprint moved; a file whose bytes did not change is not
rewritten, so its mtime (Last-Modified) and ETag stay put for feed readers.

This module is the flow and its decisions (what to read, what to render, how many workers);
the forked workers are in workers.py, the writing of files in writer.py.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from publisher.config import Config
from publisher.content import EXTRA, Loaded, Walk, walk_folder
from publisher.errors import ContentError
from publisher.site import cache as caching
from publisher.site.cache import (
    BuildState,
    Records,
    RecordsWriter,
    environment_key,
    fingerprint,
    intact,
    load_outputs,
    load_records,
    load_result,
    load_state,
    looks_intact,
    read_record,
    save_state,
)
from publisher.site.theme import theme_files
from publisher.site.touchup import save_plan, site_plan
from publisher.site.workers import (
    JobFile,
    RenderJobs,
    Thickener,
    by_position,
    job_fingerprint,
    job_path,
    read_sources,
    render_here,
    render_in_workers,
)
from publisher.site.writer import remove

# The planner and the renderers (Jinja2, feedgen) are imported where they are used: a rebuild
# that finds nothing changed never needs them, and they cost a tenth of a second.

PARALLEL_THRESHOLD = 400  # below this many jobs a process pool costs more than it saves
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class BuildReport:
    articles: int = 0
    drafts_or_scheduled: int = 0
    feeds: int = 0
    pages: int = 0
    written: int = 0
    removed: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    next_publication: datetime | None = None
    up_to_date: bool = False
    touched_up: bool = False  # only what some articles say changed: see touchup.py


def _static_files(config: Config, assets: list[tuple[str, os.stat_result]]) -> dict[str, Path]:
    """Files copied as they are: content assets, the theme's static folder, the feeds' XSL."""
    root = config.path("content")
    files = {rel.removeprefix(EXTRA): root / rel for rel, _ in assets}  # extra/: to the root
    theme = theme_files(config.path("templates"))
    for rel, p in theme.items():
        if rel.startswith("static/"):
            files[rel] = p
    if config.feeds.stylesheet and "feed.xsl" in theme:
        files["feeds/feed.xsl"] = theme["feed.xsl"]
    return files


def _workers_for(jobs: list, workers: int) -> int:
    """The processes to spread `jobs` over: one (this one) for fewer than PARALLEL_THRESHOLD."""
    return workers if len(jobs) >= PARALLEL_THRESHOLD else 1


def _as_before(report: BuildReport, cache: BuildState, started: float) -> BuildReport:
    """The report of a build that planned nothing anew: the last full build's figures."""
    report.articles, report.drafts_or_scheduled, report.feeds, report.pages = cache.counts
    report.warnings += cache.warnings
    report.next_publication = cache.next_publication
    report.seconds = time.perf_counter() - started
    return report


def build(config: Config, now: datetime, *, progress: Progress | None = None,
          use_cache: bool | None = None, extra_outputs: dict[str, bytes] | None = None) -> BuildReport:
    """Build the site as of `now`: articles dated later, and drafts, are left out."""
    started = time.perf_counter()
    report = BuildReport()
    out = config.path("output")
    cache_file = config.path("var") / "cache" / "build.pickle"
    use_cache = config.build.cache if use_cache is None else use_cache
    workers = config.build.workers or os.cpu_count() or 1
    key = environment_key(config)
    # Pages rendered elsewhere (the newsletter archive) only matter to the fast path.
    extras = fingerprint(key, tuple(sorted((p, hashlib.blake2b(d).hexdigest())
                                            for p, d in (extra_outputs or {}).items())))
    cache = load_state(cache_file) if use_cache else BuildState()
    articles_file = cache_file.with_name("articles.pickle")
    root = config.path("content")
    walk = walk_folder(root) if root.is_dir() else Walk([], {}, "")
    sources_signature = walk.signature  # the assets' names and stats too
    if not root.is_dir():
        report.warnings.append(f"{root}: content folder not found; building an empty site")

    # Fast paths: nothing changed, or only what some articles say (a touch-up), and no
    # scheduled article came due.
    same = (use_cache and cache.key == key and cache.extras == extras
            and (cache.next_publication is None or now < cache.next_publication))
    # A small site's every output is looked at before anything is trusted: load them.
    if same and caching.checks_every_output(cache) and not cache.outputs:
        cache.outputs = load_outputs(cache_file, cache)
    if same and cache.signature == sources_signature and looks_intact(out, cache):
        report.up_to_date = True
        return _as_before(report, cache, started)
    if same and looks_intact(out, cache):
        from publisher.site.touchup import touch_up

        touched = touch_up(config, now, cache, cache_file, walk, os.fspath(out))
        if touched is not None:
            report.written, report.touched_up = touched[1], True
            return _as_before(report, cache, started)

    from publisher.site.feeds import forget_entries
    from publisher.site.pages import forget_partials
    from publisher.site.plan import (
        categories_of,
        dedupe_paths,
        plan_site,
        redirects_of,
        resolve_links,
    )
    from publisher.site.sitemap import (
        load_memory,
        moved_paths,
        redirects_file,
        robots_txt,
        save_memory,
        sitemap_xml,
    )

    forget_partials()
    forget_entries()
    if use_cache and not cache.outputs:
        cache.outputs = load_outputs(cache_file, cache)
    files, assets = walk.files()
    stats = dict(files)
    loaded = Loaded()
    to_read = []
    sources: dict[str, tuple[tuple[int, int], object]] = {}
    old = load_records(articles_file) if use_cache and cache.key == key else Records()
    known = old.found
    kept: list = []
    places: dict[str, tuple] = {}  # each source's record in the file: workers, touch-ups
    for rel, stat in stats.items():
        record = known.pop(rel, None)
        if record and record[0] == stat:
            sources[rel] = (stat, pickle.loads(record[1]))
            kept.append((rel, record[2], record[3]))
        else:
            to_read.append((rel, os.path.join(root, rel), stat))
    stale = bool(known)  # records of sources that are gone
    # Append the new records to the old file while it stays mostly live; else write anew.
    append = bool(kept) and not stale and old.total + len(to_read) <= 1.5 * len(stats)
    records = RecordsWriter(articles_file, append=append) if use_cache else None
    for rel, record, start in kept:
        start = records.add(record) if records and not append else start
        places[rel] = (start, len(record))
    del known, kept, old
    if to_read:  # import the readers here, once, so forked workers inherit them
        from publisher.content import readers
        from publisher.content.article import assemble  # noqa: F401

        readers()
    if progress:
        progress("read", 0, len(to_read))
    try:
        for blob in read_sources(config, to_read, _workers_for(to_read, workers)):
            if records:  # held thin: the render workers read bodies back (cache.pack_record)
                rel, stat, payload, _ = read_record(blob)
                result = pickle.loads(payload)
                rel = getattr(result, "source", rel)  # one string for both
                sources[rel] = (stat, result)
                places[rel] = (records.add(blob), len(blob))
            else:
                rel, stat, _, _ = read_record(blob)
                sources[rel] = (stat, load_result(blob))
    except BaseException:
        if records:
            records.discard()
        raise
    if records:  # each record stands on its own (checked by its stat): safe to keep now
        records.commit() if to_read or stale or not append else records.discard()
    if progress:
        progress("read", len(to_read), len(to_read))
    for rel in sorted(sources):
        result = sources[rel][1]
        (loaded.problems if isinstance(result, ContentError) else loaded.articles).append(result)
    report.warnings += [str(p) for p in loaded.problems]
    del sources, stats, files, to_read  # what the forked render workers need not inherit

    raw_paths = {a.source: a.path for a in loaded.articles}
    built, dup_warnings = dedupe_paths(loaded.built(now), config)
    renamed = frozenset(a.source for a in built if a.path != raw_paths[a.source])
    del raw_paths
    built, link_warnings = resolve_links(built, config)
    built.sort(key=lambda a: (a.date, a.source), reverse=True)
    published = [a for a in built if a.listed]
    unlisted = [a for a in built if not a.listed]
    report.warnings += dup_warnings + link_warnings
    report.articles = len(published)
    report.drafts_or_scheduled = len(loaded.articles) - len(built)
    report.next_publication = loaded.next_publication(now)
    del loaded
    memory_file = config.path("var") / "site-urls.json"
    remembered = load_memory(memory_file)
    memory, moved, new_memory = moved_paths(remembered, built)  # written only when changed
    del remembered
    pages, feeds, streams, redirected = plan_site(published, config, unlisted, moved)
    categories = categories_of(published, config)
    report.pages, report.feeds = len(pages), len(feeds)
    static = _static_files(config, assets)
    made = sitemap_xml(published, pages, config)
    if redirects := redirects_of(pages):
        made["_redirects"] = redirects_file(redirects)
    if "robots.txt" not in static:  # the user's own wins
        made["robots.txt"] = robots_txt(config)

    jobs: list = [*pages, *feeds]
    page_key = fingerprint(key, tuple(categories))  # every page shows them in its masthead
    prints = [job_fingerprint(j, key, page_key) if j.path in cache.outputs else ""
              for j in jobs]
    for path, src in static.items():
        jobs.append((path, str(src)))
        prints.append(fingerprint(key, (path, src.stat().st_mtime_ns, src.stat().st_size)))
    for path, data in [*made.items(), *(extra_outputs or {}).items()]:
        jobs.append((path, data))
        prints.append(fingerprint(key, (path, hashlib.blake2b(data).hexdigest())))
    outputs: dict[str, tuple[str, int, int]] = {}
    todo = []
    # A large site trusts its output folder for what did not change (see cache.py).
    every = len(jobs) <= caching.VERIFY_EVERY_OUTPUT
    for i, (job, fp) in enumerate(zip(jobs, prints)):
        path = job_path(job)
        old = cache.outputs.get(path)
        if old and fp and old[0] == fp and (
                not (every or caching.is_sentinel(path)) or intact(os.path.join(out, path), old)):
            outputs[path] = old
        else:
            todo.append(i)
    # What the forked render workers inherit (nothing of it is pickled, but the jobs).
    render_jobs = RenderJobs(jobs=jobs, prints=prints, config=config, categories=categories,
                             out=os.fspath(out), key=key, page_key=page_key,
                             fresh=not os.path.isdir(out) or not os.listdir(out),
                             thick=Thickener(articles_file, places) if records else None)
    order = by_position(todo, jobs, published)
    forked = _workers_for(order, workers) > 1
    if forked:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        render_jobs = replace(render_jobs, file=JobFile(cache_file.parent, render_jobs, order,
                                                        200, places, renamed))
    # Freeze what exists now (the articles, the plan): the collector never walks them again,
    # neither here nor in the forked workers, where it would copy the pages that hold them.
    gc.freeze()
    if progress:
        progress("write", 0, len(todo))
    done = 0
    try:
        rendering = (render_in_workers(render_jobs, workers) if forked
                     else render_here(render_jobs, order))
        for result in rendering:
            for path, fp, written, size, mtime in result:
                report.written += written
                outputs[path] = (fp, size, mtime)
            done += len(result)
            if progress:
                progress("write", done, len(todo))
    finally:
        gc.unfreeze()
        if render_jobs.thick:
            render_jobs.thick.close()
        if render_jobs.file:
            render_jobs.file.close()

    removed = [p for p in cache.outputs if p not in outputs]
    for path in removed:
        remove(out, path)
    report.removed = len(removed)
    if new_memory:
        save_memory(memory_file, memory)
    report.seconds = time.perf_counter() - started
    if use_cache:
        state = BuildState(
            key=key, extras=extras, signature=sources_signature, outputs=outputs,
            next_publication=report.next_publication, warnings=report.warnings,
            counts=(report.articles, report.drafts_or_scheduled, report.feeds, report.pages))
        save_state(cache_file, state)
        save_plan(cache_file, site_plan(state.generation, walk, places, streams, categories,
                                        page_key, redirected, renamed,
                                        linking=any(a.links for a in built), built=len(built)))
    return report


def clean(config: Config) -> None:
    """Forget the cache and remove the output folder: the next build starts from nothing."""
    shutil.rmtree(config.path("output"), ignore_errors=True)
    shutil.rmtree(config.path("var") / "cache", ignore_errors=True)
