"""The build's forked workers: reading sources, and rendering and writing outputs.

Its own module because what crosses into a worker must be explicit. The render workers take
one RenderJobs, made by build(): forked children inherit it (a Process's args are not pickled
under fork), so the 13,000 jobs of a large site are never pickled. The read pool gets only the
Config, pickled with each chunk of sources (2 KB); each source's record comes back pickled,
ready for the cache file as it is. build() chooses how many processes: one means its own.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Union

from publisher.content import read_article
from publisher.errors import ContentError
from publisher.site.cache import load_result, pack_record, read_record, thicken
from publisher.site.writer import write_if_changed

if TYPE_CHECKING:
    from publisher.config import Config
    from publisher.models import Article
    from publisher.site.feeds import FeedDoc
    from publisher.site.pages import Page

# The renderers (Jinja2, feedgen) and the process pools are imported where they are used:
# a rebuild that finds nothing changed never needs them, and they cost a tenth of a second.

# A page, a feed, or (path, bytes rendered elsewhere), or (path, source file to copy).
Job = Union["Page", "FeedDoc", tuple[str, bytes], tuple[str, str]]
Rendered = tuple[int, str, bool, int, int]  # (index, fingerprint, written, size, mtime_ns)


@dataclass(frozen=True, slots=True)
class RenderJobs:
    """Everything a render worker needs, built once by build() before it forks them."""

    jobs: list[Job]
    prints: list[str]  # the fingerprint of each job, or "" when a worker is to work it out
    config: Config
    categories: list[tuple[str, str, str]]  # (name, slug, url): every page's masthead shows them
    out: str  # the output folder
    key: str  # the environment key: what every output depends on (versions, config, theme)
    page_key: str  # the key and the categories, which every page shows
    fresh: bool = False  # the output folder was empty: write without reading first
    thick: Thickener | None = None  # the articles are held thin: see Thickener


class Thickener:
    """Puts the body and summary back into the thin Articles a build holds (cache.thin), read
    from their records in the articles file, in the process that renders them; the last few
    thousand are kept, as the outputs rendered one after the other show neighbouring articles
    (see by_position)."""

    KEEP = 4096

    def __init__(self, path: Path, places: dict[str, tuple]):
        self.path, self.places = path, places  # source -> (start, length) of its record
        self.fd: int | None = None
        self.pid = 0
        self.kept: dict[str, Article] = {}

    def __call__(self, article: Article) -> Article:
        if article.body:  # whole already (one with {filename} links is never thinned)
            return article
        if self.pid != os.getpid():  # a forked worker: its own descriptor and articles
            self.fd, self.pid, self.kept = os.open(self.path, os.O_RDONLY), os.getpid(), {}
        found = self.kept.get(article.source)  # (one build: one thin Article per source)
        if found is None:
            # Made from the record alone, not from `article`: reading its fields would write
            # their reference counts, and this forked worker would copy every memory page
            # that holds them from its parent.
            start, length = self.places[article.source]
            record = os.pread(self.fd, length, start)
            found = load_result(record)
            if found.path != article.path:  # renamed since (dedupe_paths)
                found = thicken(article, read_record(record)[3])
            if len(self.kept) >= self.KEEP:
                del self.kept[next(iter(self.kept))]  # the first kept
            self.kept[article.source] = found
        return found

    def close(self) -> None:
        """Once the build is over (`publisher run` builds again and again in one process)."""
        if self.fd is not None and self.pid == os.getpid():
            os.close(self.fd)
        self.fd, self.pid, self.kept = None, 0, {}

    def job(self, job: Job) -> Job:
        """The job with whole articles."""
        if isinstance(job, tuple):
            return job
        articles = tuple(map(self, job.articles))
        if getattr(job, "article", None) is not None:
            return replace(job, articles=articles, article=self(job.article))
        return replace(job, articles=articles)


def job_path(job: Job) -> str:
    return job[0] if isinstance(job, tuple) else job.path


def job_fingerprint(job: Page | FeedDoc, key: str, page_key: str) -> str:
    from publisher.site.pages import Page

    text = f"{page_key if isinstance(job, Page) else key}\x1d{job.fingerprint_parts()}"
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def end_with_parent(parent: int) -> None:
    """Run first in every forked worker: the kernel kills it when its parent dies (even by
    kill -9), so no worker lives on writing into public/ or blocked on a pipe (Linux's
    PR_SET_PDEATHSIG; elsewhere the workers notice a broken pipe to the parent)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)


def _read_job(config: Config, item: tuple[str, str, tuple[int, int]]) -> bytes:
    """Read one source; the record comes back pickled, ready for the cache file as it is
    (the parent unpickles it once, and never pickles it again)."""
    rel, full, stat = item
    try:
        with open(full, "rb") as f:
            result = read_article(f.read(), rel, config)
    except ContentError as exc:
        result = exc
    except OSError as exc:
        result = ContentError(rel, 1, f"cannot read: {exc.strerror}")
    return pack_record(rel, stat, result)


def read_sources(config: Config, items: list[tuple[str, str, tuple[int, int]]],
                 workers: int) -> Iterator[bytes]:
    """The pickled record of each (rel, full path, stat) in `items`, read by `workers` forked
    processes. Lazy: each result is used and dropped as it comes, never all held at once."""
    read = partial(_read_job, config)
    if workers <= 1:
        yield from map(read, items)
        return
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(workers, mp_context=get_context("fork"), initializer=end_with_parent,
                             initargs=(os.getpid(),)) as pool:
        yield from pool.map(read, items, chunksize=max(1, len(items) // (workers * 32)))


def _render_job(ctx: RenderJobs, index: int) -> Rendered:
    """Render and write one output. The fingerprints of outputs the last build did not write
    are worked out here, in the workers, rather than by the parent before it forks them."""
    from publisher.site.feeds import FeedDoc, render_feed
    from publisher.site.pages import Page, render_page

    job = ctx.jobs[index]
    if ctx.thick:  # first: the fingerprint then reads this worker's articles, not the parent's
        job = ctx.thick.job(job)
    fp = ctx.prints[index] or job_fingerprint(job, ctx.key, ctx.page_key)
    if isinstance(job, Page):
        data = render_page(job, ctx.config, ctx.categories, ctx.key)
    elif isinstance(job, FeedDoc):
        data = render_feed(job, ctx.config)
    elif isinstance(job[1], bytes):  # (path, bytes) rendered elsewhere
        data = job[1]
    else:  # (path, source file to copy)
        data = Path(job[1]).read_bytes()
    return (index, fp, *write_if_changed(os.path.join(ctx.out, job_path(job)), data, ctx.fresh))


def _render_many(ctx: RenderJobs, indexes: list[int]) -> list[Rendered]:
    return [_render_job(ctx, i) for i in indexes]


def by_position(todo: list[int], jobs: list[Job], published: list) -> list[int]:
    """Jobs in the order of the newest article they show: split into contiguous ranges, each
    worker then touches about its own share of the articles (and copies only those pages of
    the parent's memory) instead of all of them."""
    rank = {id(a): i for i, a in enumerate(published)}

    def position(i: int) -> int:
        job = jobs[i]
        shown = getattr(job, "article", None) or next(iter(getattr(job, "articles", ())), None)
        return rank.get(id(shown), 0)

    return sorted(todo, key=position)


def render_in_workers(ctx: RenderJobs, order: list[int], workers: int,
                      chunk: int = 200) -> Iterator[list[Rendered]]:
    """Render the jobs of `ctx` at the indexes in `order` in `workers` processes, each taking
    one contiguous range and reporting every `chunk` jobs (for the progress bar); yields lists
    of results. This process renders the first range itself and forks one child for each
    other: a child copies the pages of the parent's memory it touches, and one child fewer
    kept the peak 10% lower."""
    if workers <= 1:
        for start in range(0, len(order), chunk):
            yield _render_many(ctx, order[start : start + chunk])
        return
    from multiprocessing import get_context

    mp = get_context("fork")
    results = mp.SimpleQueue()
    size = -(-len(order) // workers)
    procs = [mp.Process(target=_render_range,
                        args=(ctx, order[w * size : (w + 1) * size], chunk, results, os.getpid()))
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
            yield _render_many(ctx, own[start : start + chunk])
            yield from from_children(block=False)
        yield from from_children(block=True)
    finally:
        for proc in procs:
            if proc.is_alive() and running:
                proc.terminate()
            proc.join()


def _render_range(ctx: RenderJobs, indexes: list[int], chunk: int, results, parent: int) -> None:
    """A forked child's work: its range of `ctx`'s jobs, sent back `chunk` results at a time."""
    end_with_parent(parent)
    try:
        for start in range(0, len(indexes), chunk):
            results.put(("ok", _render_many(ctx, indexes[start : start + chunk])))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
        results.put(("error", exc))
    results.put(("done", None))
