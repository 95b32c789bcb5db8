"""The build's forked workers: reading sources, and rendering and writing outputs.

Its own module because what crosses into a worker must be explicit. The render workers take
one RenderJobs, made by build(), which forked children inherit (a Process's args are not
pickled under fork). When they are several, the jobs themselves reach them through a JobFile,
which holds them pickled, each Article as the place of a record: a forked worker that
read the parent's own Page and Article objects would write their reference counts, and the
kernel would copy for it every memory page that holds one (150 MB at 100,000 articles). The
read pool gets only the Config, pickled with each chunk of sources (2 KB); each source's record
comes back pickled, ready for the cache file as it is. build() chooses how many processes: one
means its own.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Union

from publisher.content import read_article
from publisher.errors import ContentError
from publisher.models import Article
from publisher.site.cache import load_result, pack_record
from publisher.site.writer import write_if_changed

if TYPE_CHECKING:
    from publisher.config import Config
    from publisher.site.feeds import FeedDoc
    from publisher.site.pages import Page

# The renderers (Jinja2, feedgen) and the process pools are imported where they are used:
# a rebuild that finds nothing changed never needs them, and they cost a tenth of a second.

# A page, a feed, or (path, bytes rendered elsewhere), or (path, source file to copy).
Job = Union["Page", "FeedDoc", tuple[str, bytes], tuple[str, str]]
Rendered = tuple[str, str, bool, int, int]  # (path, fingerprint, written, size, mtime_ns)
Moved = Union[tuple[str, str, str], None]  # (slug, url, path) that dedupe_paths gave an article


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
    file: JobFile | None = None  # the jobs, pickled for several workers: see JobFile


class Thickener:
    """Puts the body and summary back into the thin Articles a build holds (cache.thin), read
    from their records in the articles file (or, given `fd`, in a JobFile), in the process
    that renders them; the last few thousand are kept, as the outputs rendered one after the
    other show neighbouring articles (see by_position)."""

    KEEP = 4096

    def __init__(self, path: Path | None, places: dict[str, tuple], fd: int | None = None):
        self.path, self.places = path, places  # source -> (start, length) of its record
        self.fd = self.shared = fd  # an open file (a JobFile's) rather than one to open
        self.pid = 0
        self.kept: dict[int, Article] = {}

    def __call__(self, article: Article) -> Article:
        if article.body:  # whole already (one with {filename} links is never thinned)
            return article
        start, length = self.places[article.source]
        found = self.placed(start, length)
        if found.path != article.path:  # renamed since (dedupe_paths)
            found = replace(found, slug=article.slug, url=article.url, path=article.path)
        return found

    def placed(self, start: int, length: int, moved: Moved = None) -> Article:
        """The whole Article of the record at `start` in this Thickener's file."""
        if self.pid != os.getpid():  # a forked worker: its own descriptor and articles
            fd = self.shared if self.path is None else os.open(self.path, os.O_RDONLY)
            self.fd, self.pid, self.kept = fd, os.getpid(), {}
        found = self.kept.get(start)  # (one build: one record per source)
        if found is None:
            found = load_result(os.pread(self.fd, length, start))
            if len(self.kept) >= self.KEEP:
                del self.kept[next(iter(self.kept))]  # the first kept
            self.kept[start] = found
        if moved:
            found = replace(found, slug=moved[0], url=moved[1], path=moved[2])
        return found

    def close(self) -> None:
        """Once the build is over (`publisher run` builds again and again in one process)."""
        if self.fd is not None and self.pid == os.getpid() and self.path is not None:
            os.close(self.fd)
        self.fd, self.pid, self.kept = self.shared, 0, {}

    def job(self, job: Job) -> Job:
        """The job with whole articles."""
        if isinstance(job, tuple):
            return job
        articles = tuple(map(self, job.articles))
        if getattr(job, "article", None) is not None:
            return replace(job, articles=articles, article=self(job.article))
        return replace(job, articles=articles)


class JobFile:
    """The jobs several render workers share, pickled into an unnamed temporary file before
    they fork, in chunks of consecutive jobs; each worker reads its chunks back with pread.

    Each Article in them is pickled as the place of a record (persistent_id): a thin one's in
    the articles file, a whole one's (no cache, or {filename} links) written once into this
    file. The worker reads the whole Article from there (Thickener.placed): neither the
    parent's Article objects nor its Page objects are read by a worker, so none of the pages
    of memory that hold them is copied (see the module docstring). The file is unnamed
    (O_TMPFILE): nothing is left behind by a build that is killed."""

    def __init__(self, folder: Path, ctx: RenderJobs, order: list[int], chunk: int,
                 places: dict[str, tuple], renamed: frozenset[str]):
        self.file = tempfile.TemporaryFile(dir=folder)
        self.whole = Thickener(None, {}, fd=self.file.fileno())  # the articles written here
        self.chunks: list[tuple[int, int]] = []  # (start, length) of each chunk's pickle
        self.at = 0
        written: dict[int, tuple[int, int]] = {}  # id(whole Article) -> its record here
        jobs, prints = ctx.jobs, ctx.prints
        for first in range(0, len(order), chunk):
            batch = [(job_path(jobs[i]), prints[i], jobs[i])
                     for i in order[first : first + chunk]]
            buffer = io.BytesIO()
            _JobPickler(buffer, self, places, renamed, written).dump(batch)
            self.chunks.append((self.at, buffer.tell()))
            self._write(buffer.getbuffer())
        self.file.flush()

    def _write(self, data: bytes | memoryview) -> tuple[int, int]:
        """Append `data`; its (start, length) in the file."""
        self.file.write(data)
        self.at += len(data)
        return self.at - len(data), len(data)

    def read(self, number: int, thick: Thickener | None) -> list[tuple[str, str, Job]]:
        """Chunk `number`: (path, fingerprint or "", job) of each of its jobs."""
        start, length = self.chunks[number]
        data = os.pread(self.file.fileno(), length, start)
        return _JobUnpickler(io.BytesIO(data), thick, self.whole).load()

    def close(self) -> None:
        self.file.close()


class _JobPickler(pickle.Pickler):
    def __init__(self, buffer: io.BytesIO, file: JobFile, places: dict[str, tuple],
                 renamed: frozenset[str], written: dict[int, tuple[int, int]]):
        super().__init__(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        self.file, self.places, self.renamed, self.written = file, places, renamed, written

    def persistent_id(self, obj: object) -> tuple | None:
        if type(obj) is not Article:
            return None
        if not obj.body:  # thin: its record in the articles file
            moved = (obj.slug, obj.url, obj.path) if obj.source in self.renamed else None
            return ("articles", *self.places[obj.source], moved)
        place = self.written.get(id(obj))
        if place is None:  # whole: written once into the job file, read back from there
            place = self.written[id(obj)] = self.file._write(pack_record(obj.source, (0, 0), obj))
        return ("jobs", *place, None)


class _JobUnpickler(pickle.Unpickler):
    def __init__(self, buffer: io.BytesIO, thick: Thickener | None, whole: Thickener):
        super().__init__(buffer)
        self.thick, self.whole = thick, whole

    def persistent_load(self, pid: tuple) -> Article:
        where, start, length, moved = pid
        if where == "jobs":
            return self.whole.placed(start, length)
        if self.thick is None:
            raise pickle.UnpicklingError("a thin article, but no articles file to read")
        return self.thick.placed(start, length, moved)


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
    """Render and write one output, from the jobs this process holds (one process)."""
    job = ctx.jobs[index]
    if ctx.thick:
        job = ctx.thick.job(job)
    return _render(ctx, job_path(job), ctx.prints[index], job)


def _render(ctx: RenderJobs, path: str, fp: str, job: Job) -> Rendered:
    """Render and write one output. The fingerprints of outputs the last build did not write
    are worked out here, in the workers, rather than by the parent before it forks them."""
    from publisher.site.feeds import FeedDoc, render_feed
    from publisher.site.pages import Page, render_page

    fp = fp or job_fingerprint(job, ctx.key, ctx.page_key)
    if isinstance(job, Page):
        data = render_page(job, ctx.config, ctx.categories, ctx.key)
    elif isinstance(job, FeedDoc):
        data = render_feed(job, ctx.config)
    elif isinstance(job[1], bytes):  # (path, bytes) rendered elsewhere
        data = job[1]
    else:  # (path, source file to copy)
        data = Path(job[1]).read_bytes()
    return (path, fp, *write_if_changed(os.path.join(ctx.out, path), data, ctx.fresh))


def _render_many(ctx: RenderJobs, indexes: list[int]) -> list[Rendered]:
    return [_render_job(ctx, i) for i in indexes]


def _render_chunk(ctx: RenderJobs, number: int) -> list[Rendered]:
    return [_render(ctx, *item) for item in ctx.file.read(number, ctx.thick)]


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


def render_here(ctx: RenderJobs, order: list[int], chunk: int = 200) -> Iterator[list[Rendered]]:
    """Render the jobs of `ctx` at the indexes in `order` in this process; yields lists of
    `chunk` results (for the progress bar)."""
    for start in range(0, len(order), chunk):
        yield _render_many(ctx, order[start : start + chunk])


def render_in_workers(ctx: RenderJobs, workers: int) -> Iterator[list[Rendered]]:
    """Render the jobs of `ctx.file` in `workers` processes, each taking one contiguous range
    of its chunks; yields the results of each chunk. This process renders the first range
    itself and forks one child for each other."""
    from multiprocessing import get_context

    assert ctx.file is not None
    mp = get_context("fork")
    results = mp.SimpleQueue()
    total = len(ctx.file.chunks)
    size = -(-total // workers)
    procs = [mp.Process(target=_render_range,
                        args=(ctx, range(w * size, min(total, (w + 1) * size)), results,
                              os.getpid()))
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
        for number in range(min(size, total)):
            yield _render_chunk(ctx, number)
            yield from from_children(block=False)
        yield from from_children(block=True)
    finally:
        for proc in procs:
            if proc.is_alive() and running:
                proc.terminate()
            proc.join()


def _render_range(ctx: RenderJobs, numbers: range, results, parent: int) -> None:
    """A forked child's work: its range of the job file's chunks, each sent back whole."""
    end_with_parent(parent)
    try:
        for number in numbers:
            results.put(("ok", _render_chunk(ctx, number)))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
        results.put(("error", exc))
    results.put(("done", None))
