"""What the last build saw, kept under `paths.var/cache` so the next build does only new work.

Two files: a small index (the environment key, each source's stat, each output's fingerprint)
that the nothing-changed check reads alone, and the parsed articles, read only when something
did change. Any unreadable or stale cache only costs a full build.
"""

from __future__ import annotations

import hashlib
import io
import mmap
import os
import pickle
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path

from publisher import __version__, i18n
from publisher.config import Config
from publisher.models import Article, with_text
from publisher.site.theme import theme_files

CACHE_FORMAT = 9  # bump when what the cache holds changes shape
# Up to this many outputs, the nothing-changed check stat()s every one (a file deleted by hand
# is written again); past it, a few (the front page, the main feeds, the sitemap), since
# 145,000 stat() calls cost half a second: `publisher build --full` repairs the rest.
VERIFY_EVERY_OUTPUT = 20_000
Output = tuple[str, int, int]  # (fingerprint, size, mtime_ns) of a file written


@dataclass
class BuildState:
    """What the last build saw, in two files: this small one, all that the nothing-changed
    check reads (the sources' signature, not their 100,000 stats), and `outputs`, loaded
    apart (load_outputs) only when something changed or there are few of them."""

    key: str = ""
    extras: str = ""
    signature: str = ""  # content.signature() of the sources
    outputs: dict[str, Output] = field(default_factory=dict)  # kept in the second file
    next_publication: datetime | None = None
    warnings: list[str] = field(default_factory=list)
    counts: tuple[int, int, int, int] = (0, 0, 0, 0)
    generation: str = ""  # ties the two files together: a mismatch means a full build
    total: int = 0  # how many outputs
    sentinels: dict[str, Output] = field(default_factory=dict)  # checked on a large site
    # What touch-ups (touchup.py) changed since the two big files were written: outputs, and
    # where the records of the sources they read again now are in the articles file.
    patch: dict[str, Output | None] = field(default_factory=dict)  # None: gone
    moved_records: dict[str, tuple[tuple[int, int], int, int]] = field(default_factory=dict)
    appended: int = 0  # records they appended to the articles file (a full build compacts it)


def environment_key(config: Config) -> str:
    """Everything besides the articles that shapes the output: code, config, templates."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{CACHE_FORMAT}:{__version__}:{[f.name for f in fields(Article)]}".encode())
    h.update(config.model_dump_json().encode())
    for rel, p in theme_files(config.path("templates")).items():
        h.update(rel.encode())
        h.update(p.read_bytes())
    lang = i18n.base_language(config.site.lang)  # the chrome's words: a catalog edit rebuilds
    for po in sorted((i18n.LOCALES / lang / "LC_MESSAGES").glob("*.po")):
        h.update(po.read_bytes())
    return h.hexdigest()


def fingerprint(key: str, parts: tuple) -> str:
    return hashlib.blake2b(repr((key, parts)).encode(), digest_size=16).hexdigest()


def intact(target: str | Path, recorded: tuple[str, int, int]) -> bool:
    try:
        st = os.stat(target)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return (st.st_size, st.st_mtime_ns) == recorded[1:]


def outputs_intact(out: Path, outputs: dict[str, Output]) -> bool:
    base = os.path.join(out, "")  # joined as text: pathlib costs more than the stat itself
    return out.is_dir() and all(intact(base + p, rec) for p, rec in outputs.items())


def sentinels_of(outputs: dict[str, Output]) -> dict[str, Output]:
    """The outputs a large site's nothing-changed check looks at: the files at the root of
    the site (front page, sitemap, 404) and the site-wide feeds."""
    return {p: rec for p, rec in outputs.items() if rec is not None and is_sentinel(p)}


def is_sentinel(path: str) -> bool:
    return "/" not in path or path.startswith("feeds/all.")


def looks_intact(out: Path, state: BuildState) -> bool:
    """The nothing-changed check's look at the output folder (see VERIFY_EVERY_OUTPUT): every
    output of a small site, which needs its outputs loaded (see checks_every_output)."""
    if checks_every_output(state):
        return len(state.outputs) == state.total and outputs_intact(out, state.outputs)
    return outputs_intact(out, state.sentinels)


def checks_every_output(state: BuildState) -> bool:
    return state.total <= VERIFY_EVERY_OUTPUT


def load_state(path: Path) -> BuildState:
    try:
        with path.open("rb") as f:
            value = pickle.load(f)
        return value if isinstance(value, BuildState) else BuildState()
    except Exception:  # a stale or corrupt cache only costs a full build
        return BuildState()


def outputs_file(path: Path) -> Path:
    return path.with_name(path.stem + "-outputs.pickle")


def load_outputs(path: Path, state: BuildState) -> dict[str, Output]:
    """The outputs of the build that wrote `state`; empty (a full build) if the file is of
    another build, or unreadable."""
    try:
        with outputs_file(path).open("rb") as f:
            generation, outputs = pickle.load(f)
        if generation != state.generation or not state.generation:
            return {}
        outputs.update(state.patch)
        for path in [p for p, rec in state.patch.items() if rec is None]:
            del outputs[path]  # gone since, by a touch-up
        return outputs
    except Exception:  # a stale or corrupt cache only costs a full build
        return {}


def shape_of(result: object) -> str:
    """What of an article decides where it appears (its paths, its place in every list, which
    lists and feeds): a source whose shape did not change can be touched up (touchup.py) in
    the outputs that show it. The rest (title, text, summary, image...) only changes those.
    Empty for a source that could not be read, or that links to others with {filename}."""
    if not isinstance(result, Article) or result.links:
        return ""
    a = result
    text = repr((a.source, a.id, a.slug, a.date, a.updated, a.categories, a.tags, a.author,
                 a.url, a.path, a.draft, bool(a.enclosure), a.aliases, a.listed, a.kind))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def pack_record(rel: str, stat: tuple[int, int], result: object) -> bytes:
    """One record of the articles file: a small header (source path, its stat, the lengths of
    what follows, its shape), then the Article or ContentError read from it, then the
    Article's body and summary. Each is its own pickle, with its own memo; the header lets a
    rebuild find the records it can keep without unpickling a single article.

    The body and summary, two thirds of an Article, are apart so that a build can hold every
    article without them (`thin`), and its render workers read them back from the file for
    the articles each output shows (workers.Thickener): 200 MB less at 100,000 articles."""
    shape, extra = shape_of(result), b""
    if isinstance(result, Article) and not result.links:  # (links are resolved with the body)
        extra = pickle.dumps((result.body, result.summary), protocol=pickle.HIGHEST_PROTOCOL)
        result = thin(result)
    payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    header = (rel, stat, len(payload), shape, len(extra))
    return pickle.dumps(header, protocol=pickle.HIGHEST_PROTOCOL) + payload + extra


def read_record(record: bytes | memoryview) -> tuple[str, tuple[int, int], memoryview, memoryview]:
    """(source path, stat, pickled result, pickled body and summary) of one record (see
    pack_record); the last is empty when the result is whole."""
    rel, stat, size, _, extra, begin = _header(io.BytesIO(record))
    view = memoryview(record)
    return rel, stat, view[begin : begin + size], view[begin + size : begin + size + extra]


def load_result(record: bytes | memoryview) -> object:
    """The whole Article (or ContentError) of one record."""
    _, _, payload, extra = read_record(record)
    result = pickle.loads(payload)
    return thicken(result, extra) if extra else result


def thin(article: Article) -> Article:
    """The Article without its body and summary (an empty body: a real one never is)."""
    return with_text(article, b"", "")


def thicken(article: Article, extra: bytes | memoryview) -> Article:
    """A thin Article (see thin) with the body and summary of its record put back."""
    return with_text(article, *pickle.loads(extra))


def record_shape(record: bytes | memoryview) -> str:
    return _header(io.BytesIO(record))[3]


def _header(stream: io.BytesIO) -> tuple[str, tuple[int, int], int, str, int, int]:
    rel, stat, size, shape, extra = pickle.load(stream)
    return rel, tuple(stat), size, shape, extra, stream.tell()


@dataclass
class Records:
    """The records of the last build by source path: (stat, pickled result, whole record,
    where the record starts in the file), and how many records the file holds in all (a
    record appended later replaces an earlier one of the same path: see RecordsWriter)."""

    found: dict[str, tuple[tuple[int, int], memoryview, memoryview, int]] = field(
        default_factory=dict)
    total: int = 0


def load_records(path: Path) -> Records:
    """Nothing is unpickled but the headers: a build unpickles the results it keeps and writes
    the records back as they are. A record cut short (a build killed while appending) ends
    the file there: every record before it stands on its own."""
    records = Records()
    try:  # mapped, not read into memory: 250 MB at 100,000 articles; each kept article is
        with path.open("rb") as f:  # unpickled from the map, its record copied from it
            raw = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # ValueError: an empty file cannot be mapped
        return records
    data, stream = memoryview(raw), raw  # pickle.load reads the map as a file
    start = 0
    try:
        while start < len(data):
            rel, stat, size, _, extra, begin = _header(stream)
            end = begin + size + extra
            if end > len(data):
                break
            records.found[rel] = (stat, data[begin : begin + size], data[start:end], start)
            records.total += 1
            stream.seek(end)
            start = end
    except Exception:  # a stale or corrupt tail only costs reading those sources again
        pass
    return records


class RecordsWriter:
    """The articles file, written a record at a time as the build reads (records come pickled
    already, by the workers that read the articles: see pack_record), so the build never holds
    a second copy of every article. One pickle per record: a single pickle of 10,000 articles
    keeps a memo of every object in it. A new file replaces the old one only on `commit`;
    with `append`, the records of changed sources are added at the end of the old file
    instead (a one-article rebuild then writes one record, not 30 MB)."""

    def __init__(self, path: Path, append: bool = False):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.append = append
        self.path, self.tmp = path, path if append else path.with_suffix(".tmp")
        self.file = self.tmp.open("ab" if append else "wb")
        self.position = os.fstat(self.file.fileno()).st_size if append else 0

    def add(self, record: bytes | memoryview) -> int:
        """Where the record starts in the file."""
        start = self.position
        self.file.write(record)
        self.position += len(record)
        return start

    def commit(self) -> None:
        self.file.close()
        if not self.append:
            os.replace(self.tmp, self.path)

    def discard(self) -> None:
        self.file.close()
        if not self.append:  # appended records stand on their own: nothing to take back
            self.tmp.unlink(missing_ok=True)


def save_state(path: Path, value: BuildState) -> None:
    """The outputs file first, then the small one that names its generation."""
    path.parent.mkdir(parents=True, exist_ok=True)
    value.generation = os.urandom(8).hex()
    value.total, value.sentinels = len(value.outputs), sentinels_of(value.outputs)
    outputs, value.outputs = value.outputs, {}
    try:
        _dump(outputs_file(path), (value.generation, outputs))
        _dump(path, value)
    finally:
        value.outputs = outputs


def save_small_state(path: Path, value: BuildState) -> None:
    """The small file alone, of the same generation (a touch-up's: see touchup.py)."""
    outputs, value.outputs = value.outputs, {}
    try:
        _dump(path, value)
    finally:
        value.outputs = outputs


def _dump(path: Path, value: object) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
