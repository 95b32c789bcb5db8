"""The domain's nouns as frozen dataclasses: values that flow one way through the pipeline."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any, Mapping


@dataclass(frozen=True, slots=True)
class Article:
    """One published (or scheduled) piece, already sanitised and with absolute links.

    `source` is the path relative to the content folder and, with `date`, the basis of
    the stable entry `id`: a title change never changes the id.
    """

    source: str
    id: str
    title: str
    slug: str
    date: datetime  # aware, the first publication time
    updated: datetime  # aware, >= date
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    author: str
    lang: str
    summary: str  # plain text
    body: bytes  # the sanitised HTML body, links absolute, compressed: see `html`
    url: str  # absolute URL of the article page
    path: str  # output path relative to the output folder, e.g. "2024/11/slug/index.html"
    draft: bool = False
    digest: str = ""  # hash of the source bytes: what changed-detection compares
    words: int = 0  # length of the body, counted once at read time
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    image: str = ""  # absolute URL: `image:` front matter, else the body's first image
    enclosure: tuple[str, int, str] | None = None  # (url, length in bytes, MIME type): podcasts
    duration: str = ""  # of the enclosure, HH:MM:SS
    aliases: tuple[str, ...] = ()  # output paths that redirect here (`aliases:` front matter)
    listed: bool = True  # False: `Status: hidden` or a static page, built but in no list or feed
    kind: str = "article"  # "article", or "page": a static page (Pelican's pages/ folder)
    links: tuple[str, ...] = ()  # content paths its body links to with {filename}: see plan

    @property
    def category(self) -> str:
        return self.categories[0]

    @property
    def html(self) -> str:
        """The sanitised HTML body. Kept zlib-compressed: a 10,000-article build holds every
        body at once (pages, feeds and archives all need them), and compressed bodies cost a
        third of the memory, in the build and in each worker that touches them."""
        return _inflate(self.body)

    @property
    def reading_minutes(self) -> int:
        return max(1, -(-self.words // 230))  # 230 words a minute, rounded up

    def is_published(self, now: datetime) -> bool:
        return not self.draft and (self.kind == "page" or self.date <= now)

    def __reduce__(self):
        """Pickled as the values of its fields, in order: dataclasses' own way for frozen
        slotted classes walks fields() for every object, and a build pickles 10,000 of them
        in the workers and unpickles them again in the parent."""
        return _unpickled, _article_values(self)


_article_values = attrgetter(*(f.name for f in fields(Article)))
_NAMES = [f.name for f in fields(Article)]
_SHARED_FIELDS = [_NAMES.index(n) for n in ("categories", "author", "lang", "kind")]
_BODY, _SUMMARY = _NAMES.index("body"), _NAMES.index("summary")


def with_text(article: Article, body: bytes, summary: str) -> Article:
    """The Article with another body and summary: a large build holds its articles without
    them (site/cache.py: thin), and puts them back where an output shows the article."""
    values = list(_article_values(article))
    values[_BODY], values[_SUMMARY] = body, summary
    return Article(*values)
_SHARED: dict = {}  # a few categories, authors and languages, whatever the number of articles


def _unpickled(*values) -> Article:
    """An Article unpickled, its few much-repeated values shared with the articles unpickled
    before it (each pickle has its own copy): 100,000 articles held by a build are 30 MB
    smaller."""
    values = list(values)
    for i in _SHARED_FIELDS:
        values[i] = _SHARED.setdefault(values[i], values[i])
    return Article(*values)


@lru_cache(maxsize=64)
def _inflate(body: bytes) -> str:
    """The few bodies used last: a build writes an article's page, then the feed documents
    that hold it and its neighbours, one after the other."""
    return zlib.decompress(body).decode()


def pack_html(html: str) -> bytes:
    """The `body` of an Article from its HTML (see Article.html)."""
    return zlib.compress(html.encode(), 1)


SUBSCRIBER_STATES = ("pending", "active", "unsubscribed", "bounced")


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A person on the list. `email` is normalised; empty `categories` means every category."""

    id: int
    email: str
    name: str
    status: str  # one of SUBSCRIBER_STATES
    categories: tuple[str, ...]
    created: datetime
    confirmed: datetime | None = None
    unsubscribed: datetime | None = None
    hard_bounces: int = 0
    optin_source: str = ""  # where the consent came from: form, import, cli
    optin_client: str = ""  # the client address of the opt-in (or its hash), if kept
    rhythm: str = ""  # a name of newsletter.rhythms; "": the default rhythm

    def wants(self, categories: tuple[str, ...] | frozenset[str] | list[str]) -> bool:
        """Whether a digest with articles in `categories` holds anything for this person."""
        return not self.categories or bool(set(self.categories) & set(categories))


DELIVERY_STATES = ("queued", "claimed", "sent", "failed", "skipped")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One issue to one subscriber: a row of the ledger, claimed, sent, then marked."""

    id: int
    issue_id: int
    subscriber_id: int
    email: str
    name: str
    categories: tuple[str, ...]
    status: str  # one of DELIVERY_STATES
    attempts: int = 0
    error: str = ""
    sent: datetime | None = None
    claimed_until: datetime | None = None  # the lease: after it, another sender may claim it
    next_attempt: datetime | None = None
    first_attempt: datetime | None = None  # its first claim: retries stop mail.retry_for later
    articles: tuple[str, ...] = ()  # the issue's articles for this subscriber; (): all theirs


@dataclass(frozen=True, slots=True)
class Issue:
    """One newsletter issue as it is archived: what `publisher build` publishes under
    `newsletter/` and what the store keeps. `html` and `text` are the public rendering
    (the "view in browser" page): no recipient's name or tokens in them."""

    number: int
    created: datetime  # aware; when the issue was composed: its date
    subject: str
    article_ids: tuple[str, ...]
    html: str
    text: str
    categories: tuple[str, ...] = ()  # every category of its articles
    period: str = ""  # the window it covers, "since/now" in ISO 8601: one issue per period
    sent: datetime | None = None  # every delivery settled
    id: int | None = None  # the store's key, once stored
    rhythm: str = ""  # the rhythm it went to ("": the one digest); numbers are per rhythm
