"""The build: read content, plan the site, render and write only what changed, report.

A cache under `paths.var` remembers each source file's stat and its Article, and each output's
fingerprint (a hash of everything that went into it). A rebuild re-reads only changed sources
and re-renders only outputs whose fingerprint moved; a file whose bytes did not change is not
rewritten, so its mtime (Last-Modified) and ETag stay put for feed readers.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from publisher.config import Config
from publisher.content import Loaded, read_article, scan
from publisher.errors import ContentError
from publisher.site.theme import theme_files
from publisher.site.cache import (
    BuildState,
    environment_key,
    fingerprint,
    intact,
    load_records,
    load_state,
    outputs_intact,
    pack_record,
    read_record,
    Records,
    RecordsWriter,
    save_state,
)

if TYPE_CHECKING:
    from publisher.site.feeds import FeedDoc
    from publisher.site.pages import Page

# The renderers (Jinja2, feedgen) and the process pools are imported where they are used:
# a rebuild that finds nothing changed never needs them, and they cost a tenth of a second.

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


def _static_files(config: Config, assets: list[tuple[str, os.stat_result]]) -> dict[str, Path]:
    """Files copied as they are: content assets, the theme's static folder, the feeds' XSL."""
    root = config.path("content")
    files = {rel: root / rel for rel, _ in assets}
    theme = theme_files(config.path("templates"))
    for rel, p in theme.items():
        if rel.startswith("static/"):
            files[rel] = p
    if config.feeds.stylesheet and "feed.xsl" in theme:
        files["feeds/feed.xsl"] = theme["feed.xsl"]
    return files


# Jobs are module globals so that forked workers inherit them instead of unpickling them.
_JOBS: list = []
_PRINTS: list = []  # the fingerprint of each job, or "" when a worker is to work it out
_CONFIG: Config | None = None
_CATEGORIES: list = []
_OUT: Path | None = None
_KEY = ""
_PAGE_KEY = ""  # _KEY and the site's categories, which every page shows in its masthead


def _read_job(item: tuple[str, str, tuple[int, int]]) -> bytes:
    """Read one source; the record comes back pickled, ready for the cache file as it is
    (the parent unpickles it once, and never pickles it again)."""
    rel, full, stat = item
    try:
        with open(full, "rb") as f:
            result = read_article(f.read(), rel, _CONFIG)
    except ContentError as exc:
        result = exc
    except OSError as exc:
        result = ContentError(rel, 1, f"cannot read: {exc.strerror}")
    return pack_record(rel, stat, result)


def _job_path(job) -> str:
    return job[0] if isinstance(job, tuple) else job.path


def _render_job(index: int) -> tuple[int, str, bool, int, int]:
    """Render and write one output: (index, fingerprint, written, size, mtime_ns). The
    fingerprints of outputs the last build did not write are worked out here, in the
    workers, rather than by the parent before it forks them."""
    from publisher.site.feeds import FeedDoc, render_feed
    from publisher.site.pages import Page, render_page

    job = _JOBS[index]
    fp = _PRINTS[index] or _fingerprint_of(job)
    if isinstance(job, Page):
        data = render_page(job, _CONFIG, _CATEGORIES, _KEY)
    elif isinstance(job, FeedDoc):
        data = render_feed(job, _CONFIG)
    elif isinstance(job[1], bytes):  # (path, bytes) rendered elsewhere
        data = job[1]
    else:  # (path, source file to copy)
        data = Path(job[1]).read_bytes()
    return (index, fp, *write_if_changed(os.path.join(_OUT, _job_path(job)), data))


def _fingerprint_of(job: Page | FeedDoc) -> str:
    from publisher.site.pages import Page

    return fingerprint(_PAGE_KEY if isinstance(job, Page) else _KEY, job.fingerprint_parts())


def _render_many(indexes: list[int]) -> list[tuple[int, str, bool, int, int]]:
    return [_render_job(i) for i in indexes]


def _by_position(todo: list[int], jobs: list, published: list) -> list[int]:
    """Jobs in the order of the newest article they show: split into contiguous ranges, each
    worker then touches about its own share of the articles (and copies only those pages of
    the parent's memory) instead of all of them."""
    rank = {id(a): i for i, a in enumerate(published)}

    def position(i: int) -> int:
        job = jobs[i]
        shown = getattr(job, "article", None) or next(iter(getattr(job, "articles", ())), None)
        return rank.get(id(shown), 0)

    return sorted(todo, key=position)


def _render_in_workers(order: list[int], workers: int, chunk: int = 200):
    """Render `order` in `workers` processes, each taking one contiguous range and reporting
    every `chunk` jobs (for the progress bar); yields lists of results. This process renders
    the first range itself and forks one child for each other: a child copies the pages of
    the parent's memory it touches, and one child fewer kept the peak 10% lower."""
    if workers <= 1 or len(order) < PARALLEL_THRESHOLD:
        for start in range(0, len(order), chunk):
            yield _render_many(order[start : start + chunk])
        return
    from multiprocessing import get_context

    ctx = get_context("fork")
    results = ctx.SimpleQueue()
    size = -(-len(order) // workers)
    procs = [ctx.Process(target=_render_range, args=(order[w * size : (w + 1) * size], chunk, results))
             for w in range(1, workers)]
    for proc in procs:
        proc.start()
    running = len(procs)

    def from_children(block: bool):
        nonlocal running
        while running and (block or not results.empty()):
            kind, payload = results.get()
            if kind == "done":
                running -= 1
            elif kind == "error":
                raise payload
            else:
                yield payload

    try:
        own = order[:size]
        for start in range(0, len(own), chunk):
            yield _render_many(own[start : start + chunk])
            yield from from_children(block=False)
        yield from from_children(block=True)
    finally:
        for proc in procs:
            if proc.is_alive() and running:
                proc.terminate()
            proc.join()


def _render_range(indexes: list[int], chunk: int, results) -> None:
    try:
        for start in range(0, len(indexes), chunk):
            results.put(("ok", _render_many(indexes[start : start + chunk])))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
        results.put(("error", exc))
    results.put(("done", None))


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def write_if_changed(target: str | Path, data: bytes) -> tuple[bool, int, int]:
    """Write atomically unless the file already holds these bytes: (written, size, mtime_ns).

    A new file is created in one open() (with its folder when that is missing too): a clean
    build writes 13,000 files, and a stat() plus pathlib before each was a tenth of its time."""
    target = os.fspath(target)
    try:
        fd = _create(target)
    except FileExistsError:
        return _rewrite(target, data)
    try:  # a new file: nobody can be reading a half of it yet
        _write_all(fd, data)
        st = os.fstat(fd)
    finally:
        os.close(fd)
    return True, st.st_size, st.st_mtime_ns


def _create(target: str) -> int:
    try:
        return os.open(target, _NEW_FILE, 0o666)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        return os.open(target, _NEW_FILE, 0o666)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _rewrite(target: str, data: bytes) -> tuple[bool, int, int]:
    st = os.stat(target)
    if st.st_size == len(data):
        with open(target, "rb") as f:
            if f.read() == data:
                return False, st.st_size, st.st_mtime_ns
    folder, name = os.path.split(target)
    tmp = os.path.join(folder, f".{name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, target)  # atomic: the web server never serves a half-written page
    st = os.stat(target)
    return True, st.st_size, st.st_mtime_ns


def _map(fn, items: list, workers: int) -> Iterator:
    """map() over forked workers, which inherit the module globals set before the fork.
    Lazy: each result is used and dropped as it comes, never all of them held at once."""
    if workers <= 1 or len(items) < PARALLEL_THRESHOLD:
        yield from map(fn, items)
        return
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        yield from pool.map(fn, items, chunksize=max(1, len(items) // (workers * 32)))


def build(config: Config, now: datetime, *, progress: Progress | None = None,
          use_cache: bool | None = None, extra_outputs: dict[str, bytes] | None = None) -> BuildReport:
    """Build the site as of `now`: articles dated later, and drafts, are left out."""
    global _CONFIG, _CATEGORIES, _OUT, _KEY, _PAGE_KEY
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
    files, assets = scan(root) if root.is_dir() else ([], [])
    if not root.is_dir():
        report.warnings.append(f"{root}: content folder not found; building an empty site")
    stats = {rel: (st.st_size, st.st_mtime_ns) for rel, st in files}
    asset_stats = tuple((rel, st.st_size, st.st_mtime_ns) for rel, st in assets)

    # Fast path: nothing changed and no scheduled article came due.
    extras = fingerprint(extras, asset_stats)
    if (cache.key == key and cache.extras == extras and cache.stats == stats
            and (cache.next_publication is None or now < cache.next_publication)
            and outputs_intact(out, cache.outputs)):
        report.articles, report.drafts_or_scheduled, report.feeds, report.pages = cache.counts
        report.warnings += cache.warnings
        report.next_publication = cache.next_publication
        report.up_to_date = True
        report.seconds = time.perf_counter() - started
        return report

    from publisher.site.feeds import forget_entries
    from publisher.site.pages import forget_partials
    from publisher.site.plan import categories_of, dedupe_paths, plan_site

    _CONFIG, _OUT, _KEY = config, out, key
    forget_partials()
    forget_entries()
    loaded = Loaded()
    to_read = []
    sources: dict[str, tuple[tuple[int, int], object]] = {}
    old = load_records(articles_file) if use_cache and cache.key == key else Records()
    known = old.found
    kept: list = []
    for rel, stat in stats.items():
        record = known.pop(rel, None)
        if record and record[0] == stat:
            sources[rel] = (stat, pickle.loads(record[1]))
            kept.append(record[2])
        else:
            to_read.append((rel, os.path.join(root, rel), stat))
    stale = bool(known)  # records of sources that are gone
    # Append the new records to the old file while it stays mostly live; else write anew.
    append = bool(kept) and not stale and old.total + len(to_read) <= 1.5 * len(stats)
    records = RecordsWriter(articles_file, append=append) if use_cache else None
    if records and not append:
        for record in kept:
            records.add(record)
    del known, kept, old
    if to_read:  # import the readers here, once, so forked workers inherit them
        from publisher.content import readers
        from publisher.content.article import assemble  # noqa: F401

        readers()
    if progress:
        progress("read", 0, len(to_read))
    try:
        for blob in _map(_read_job, to_read, workers):
            rel, stat, payload = read_record(blob)
            sources[rel] = (stat, pickle.loads(payload))
            if records:
                records.add(blob)
    except BaseException:
        if records:
            records.discard()
        raise
    if records:  # each record stands on its own (checked by its stat): safe to keep now
        records.commit() if to_read or stale else records.discard()
    if progress:
        progress("read", len(to_read), len(to_read))
    for rel in sorted(sources):
        result = sources[rel][1]
        (loaded.problems if isinstance(result, ContentError) else loaded.articles).append(result)
    report.warnings += [str(p) for p in loaded.problems]

    published = loaded.published(now)
    published, dup_warnings = dedupe_paths(published, config)
    published.sort(key=lambda a: (a.date, a.source), reverse=True)
    report.warnings += dup_warnings
    report.articles = len(published)
    report.drafts_or_scheduled = len(loaded.articles) - len(published)
    report.next_publication = loaded.next_publication(now)
    pages, feeds = plan_site(published, config)
    _CATEGORIES = categories_of(published, config)
    report.pages, report.feeds = len(pages), len(feeds)

    jobs: list = [*pages, *feeds]
    _PAGE_KEY = fingerprint(key, tuple(_CATEGORIES))
    prints = [_fingerprint_of(j) if j.path in cache.outputs else ""
              for j in jobs]
    for path, src in _static_files(config, assets).items():
        jobs.append((path, str(src)))
        prints.append(fingerprint(key, (path, src.stat().st_mtime_ns, src.stat().st_size)))
    for path, data in (extra_outputs or {}).items():
        jobs.append((path, data))
        prints.append(fingerprint(key, (path, hashlib.blake2b(data).hexdigest())))
    outputs: dict[str, tuple[str, int, int]] = {}
    todo = []
    for i, (job, fp) in enumerate(zip(jobs, prints)):
        path = _job_path(job)
        old = cache.outputs.get(path)
        if old and fp and old[0] == fp and intact(os.path.join(out, path), old):
            outputs[path] = old
        else:
            todo.append(i)
    _JOBS[:], _PRINTS[:] = jobs, prints
    # Freeze what exists now (the articles, the plan): forked workers then share those pages
    # instead of copying them when the collector walks them, and no collection rescans them.
    gc.freeze()
    if progress:
        progress("write", 0, len(todo))
    done = 0
    order = _by_position(todo, jobs, published)
    for result in _render_in_workers(order, workers):
        for index, fp, written, size, mtime in result:
            report.written += written
            outputs[_job_path(jobs[index])] = (fp, size, mtime)
        done += len(result)
        if progress:
            progress("write", done, len(todo))
    _JOBS.clear()
    _PRINTS.clear()
    gc.unfreeze()

    removed = [p for p in cache.outputs if p not in outputs]
    for path in removed:
        _remove(out, path)
    report.removed = len(removed)
    report.seconds = time.perf_counter() - started
    if use_cache:
        save_state(cache_file, BuildState(
            key=key, extras=extras, stats=stats, outputs=outputs,
            next_publication=report.next_publication, warnings=report.warnings,
            counts=(report.articles, report.drafts_or_scheduled, report.feeds, report.pages)))
    return report


def _remove(out: Path, path: str) -> None:
    """Delete a stale output and the folders it leaves empty."""
    target = out / path
    target.unlink(missing_ok=True)
    parent = target.parent
    while parent != out and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent


def clean(config: Config) -> None:
    """Forget the cache and remove the output folder: the next build starts from nothing."""
    shutil.rmtree(config.path("output"), ignore_errors=True)
    shutil.rmtree(config.path("var") / "cache", ignore_errors=True)
