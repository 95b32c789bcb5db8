"""Atom, RSS 2.0 and JSON Feed 1.1 documents as bytes. The only module that imports feedgen.

feedgen prepends entries and stamps `updated` with the current time by default; here entries are
appended in the order given and every date comes from the content, so a rebuild with nothing
changed produces the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache

from publisher import __version__, i18n
from publisher.config import Config
from publisher.models import Article

HISTORY_NS = "http://purl.org/syndication/history/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
KINDS = ("atom", "rss", "json")
SUFFIX = {"atom": ".atom.xml", "rss": ".rss.xml", "json": ".json"}


@dataclass(frozen=True)
class FeedDoc:
    """One feed document to write: which entries, where, and how it links to its siblings."""

    kind: str  # atom | rss | json
    path: str  # relative to the output folder
    title: str
    alternate: str  # the HTML page this feed mirrors
    articles: tuple[Article, ...]
    full_content: bool
    archive: bool = False  # an RFC 5005 archive document
    links: dict[str, str] = field(default_factory=dict)  # rel -> absolute URL
    podcast: bool = False  # with the iTunes tags of feeds.podcast

    def fingerprint_parts(self) -> str:
        """Everything the document holds, as text (see Page.fingerprint_parts)."""
        return "\x1f".join((self.kind, self.path, self.title, self.alternate,
                            str(self.full_content), str(self.archive),
                            repr(sorted(self.links.items())), str(self.podcast),
                            *[f"{a.id}\x1e{a.digest}\x1e{a.url}" for a in self.articles]))


def plan_feeds(
    stream: str, title: str, alternate: str, articles: list[Article], config: Config,
    *, kinds: tuple[str, ...] = KINDS, archives: bool = False, podcast: bool = False,
    positions: Collection[int] | None = None,
) -> list[FeedDoc]:
    """The documents of one feed stream (e.g. 'all' or a category slug), newest first; with
    `positions`, only those holding the articles at those places in the stream.

    The main documents hold the newest `feeds.limit` entries. With archives, the whole history
    is also cut into fixed pages of `limit` entries, oldest first, so that a page, once full,
    never changes and feed readers can cache it for good (RFC 5005 section 4).
    """
    cfg, base = config.feeds, config.site.url
    limit = cfg.limit
    oldest_first = articles[::-1]
    pages = archive_count(len(articles), limit, archives)
    page_word = i18n.gettext_for(config.site.lang)("page %(number)s")
    docs: list[FeedDoc] = []
    numbers = range(pages + 1) if positions is None else (  # main document 0, archives 1...
        {0 for p in positions if p < limit} | {(len(articles) - 1 - p) // limit + 1
                                               for p in positions})
    for kind in kinds:
        full = getattr(cfg, "json_feed" if kind == "json" else kind) == "full"
        main_path = f"feeds/{stream}{SUFFIX[kind]}"

        def archive_url(k: int, kind: str = kind) -> str:
            return f"{base}feeds/archive/{stream}-{k}{SUFFIX[kind]}"

        links = {"self": base + main_path}
        if cfg.websub_hub:
            links["hub"] = cfg.websub_hub
        if pages:
            links["prev-archive"] = archive_url(pages)
        if 0 in numbers:
            docs.append(FeedDoc(kind, main_path, title, alternate, tuple(articles[:limit]),
                                full, links=links, podcast=podcast))
        for k in range(1, pages + 1) if positions is None else sorted(numbers - {0}):
            if k > pages:
                continue
            chunk = oldest_first[(k - 1) * limit : k * limit][::-1]
            page_links = {"self": archive_url(k), "current": base + main_path}
            if k > 1:
                page_links["prev-archive"] = archive_url(k - 1)
            if k < pages:
                page_links["next-archive"] = archive_url(k + 1)
            docs.append(FeedDoc(kind, f"feeds/archive/{stream}-{k}{SUFFIX[kind]}",
                                f"{title} · {page_word % {'number': k}}", alternate,
                                tuple(chunk), full,
                                archive=True, links=page_links))
    return docs


def archive_count(articles: int, limit: int, archives: bool) -> int:
    """The archive documents of a stream of `articles`: one per full `limit`, oldest first.
    An archive says its own number only, never the count: once full, it never changes."""
    return articles // limit if archives and articles > limit else 0


def render_feed(doc: FeedDoc, config: Config) -> bytes:
    if doc.kind == "json":
        return render_json(doc, config)
    return _render_xml(doc, config)


def _updated(doc: FeedDoc) -> datetime:
    return max((a.updated for a in doc.articles), default=EPOCH)


@lru_cache(maxsize=1)
def _history_extension():
    """An RFC 5005 feedgen extension (links and <fh:archive/>, which feedgen does not write
    itself), made once: feedgen is imported lazily, with the first feed."""
    from feedgen.ext.base import BaseExtension

    class History(BaseExtension):
        doc: FeedDoc | None = None  # the document being written; set after registering

        def extend_ns(self):
            return {"fh": HISTORY_NS}

        def _extend(self, parent, with_links: bool):
            from lxml import etree

            if self.doc.archive:
                etree.SubElement(parent, f"{{{HISTORY_NS}}}archive")
            if with_links:
                for rel, href in self.doc.links.items():
                    if rel != "self":
                        etree.SubElement(parent, f"{{{ATOM_NS}}}link", rel=rel, href=href)

        def extend_atom(self, feed):
            self._extend(feed, with_links=False)
            return feed

        def extend_rss(self, feed):
            self._extend(feed[0], with_links=True)
            return feed

    return History


@lru_cache(maxsize=1)
def _explicit_extension():
    """<itunes:explicit>true|false</itunes:explicit> in the channel (see _podcast_channel)."""
    from feedgen.ext.base import BaseExtension

    class Explicit(BaseExtension):
        value = "false"

        def extend_rss(self, feed):
            from lxml import etree

            tag = "{http://www.itunes.com/dtds/podcast-1.0.dtd}explicit"
            etree.SubElement(feed[0], tag).text = self.value
            return feed

    return Explicit


@lru_cache(maxsize=1)
def _enclosure_extension():
    """feedgen writes an entry's Atom links without their rel, type and length (it reads them
    from the element it has just made, not from its data): the enclosure's come back here,
    so that it is not taken for a second alternate link."""
    from feedgen.ext.base import BaseEntryExtension

    class Enclosure(BaseEntryExtension):
        value: tuple[str, int, str] | None = None

        def extend_atom(self, entry):
            url, length, kind = self.value
            for link in entry.iter(f"{{{ATOM_NS}}}link", "link"):
                if link.get("href") == url:
                    link.attrib.update({"rel": "enclosure", "type": kind, "length": str(length)})
            return entry

    return Enclosure


@lru_cache(maxsize=1)
def _lang_extension():
    """xml:lang on an Atom entry whose article is in another language than the site's."""
    from feedgen.ext.base import BaseEntryExtension

    class EntryLang(BaseEntryExtension):
        lang: str | None = None

        def extend_atom(self, entry):
            if self.lang:
                entry.set("{http://www.w3.org/XML/1998/namespace}lang", self.lang)
            return entry

    return EntryLang


_LAST: list = [None, []]  # (key, entries) of the last document written by this process


def forget_entries() -> None:
    """A new build: the site's settings may have changed since the last (`publisher run`)."""
    _LAST[:] = None, []


def _entries(doc: FeedDoc, site_lang: str = "") -> list:
    """feedgen entries for the articles of `doc`, which serve Atom and RSS alike. The Atom
    and RSS documents of the same articles are written one after the other (the build
    orders its jobs by article), so the second reuses the first's entries: setting an
    entry up costs as much as writing it out."""
    key = (doc.full_content, doc.podcast, site_lang,
           tuple((a.id, a.digest, a.url) for a in doc.articles))
    if _LAST[0] == key:
        return _LAST[1]
    from feedgen.entry import FeedEntry
    from feedgen.ext.base import BaseEntryExtension
    from feedgen.ext.dc import DcEntryExtension
    from feedgen.ext.podcast_entry import PodcastEntryExtension

    entries = []
    for a in doc.articles:
        fe = FeedEntry()
        fe.register_extension("history", BaseEntryExtension, atom=True, rss=True)
        fe.register_extension("dc", DcEntryExtension, atom=False, rss=True)
        fe.id(a.id)  # also the RSS <guid isPermaLink="false">
        fe.title(a.title)
        fe.link(href=a.url, rel="alternate", type="text/html")
        fe.published(a.date)
        fe.updated(a.updated)
        fe.author(name=a.author)
        fe.dc.dc_creator(a.author)
        if a.lang != site_lang:  # the article's own language: Atom xml:lang, RSS dc:language
            fe.register_extension("lang", _lang_extension(), atom=True, rss=False)
            fe.lang.lang = a.lang
            fe.dc.dc_language(a.lang)
        for name in dict.fromkeys(a.categories + a.tags):
            fe.category(term=name)
        fe.summary(a.summary)  # also the RSS <description>
        if doc.full_content:
            fe.content(a.html, type="html")
        if a.enclosure:  # RSS <enclosure>, Atom <link rel="enclosure">
            fe.enclosure(a.enclosure[0], str(a.enclosure[1]), a.enclosure[2])
            fe.register_extension("attached", _enclosure_extension(), atom=True, rss=False)
            fe.attached.value = a.enclosure
        if doc.podcast:
            fe.register_extension("podcast", PodcastEntryExtension, atom=False, rss=True)
            if a.duration:
                fe.podcast.itunes_duration(a.duration)
            fe.podcast.itunes_summary(a.summary)
            if a.image.lower().endswith((".jpg", ".png")):  # the only kinds iTunes takes
                fe.podcast.itunes_image(a.image)
        entries.append(fe)
    _LAST[:] = key, entries
    return entries


def _render_xml(doc: FeedDoc, config: Config) -> bytes:
    from feedgen.ext.base import BaseEntryExtension
    from feedgen.feed import FeedGenerator

    site = config.site
    links = doc.links

    fg = FeedGenerator()
    fg.id(links["self"])
    fg.title(doc.title)
    fg.subtitle(site.description or site.title)
    fg.description(site.description or site.title)
    fg.author(name=site.author)
    fg.language(site.lang)
    fg.generator("publisher", __version__)
    if doc.kind == "atom":
        fg.link(href=doc.alternate, rel="alternate", type="text/html")
        for rel, href in links.items():
            extra = {} if rel == "hub" else {"type": "application/atom+xml"}
            fg.link(href=href, rel=rel, **extra)
    else:
        fg.link(href=links["self"], rel="self", type="application/rss+xml")
        fg.link(href=doc.alternate, rel="alternate")
    if site.logo:
        fg.logo(site.url + site.logo.lstrip("/") if "://" not in site.logo else site.logo)
    updated = _updated(doc)
    fg.updated(updated)
    fg.lastBuildDate(updated)
    fg.pubDate(updated)
    fg.register_extension("history", _history_extension(), BaseEntryExtension, atom=True, rss=True)
    fg.history.doc = doc
    fg.load_extension("dc", atom=False, rss=True)  # RSS's <author> wants an email address
    if doc.podcast and config.feeds.podcast:
        _podcast_channel(fg, config)
    for fe in _entries(doc, site.lang):
        fg.add_entry(fe, order="append")
    body = fg.atom_str(pretty=True) if doc.kind == "atom" else fg.rss_str(pretty=True)
    if config.feeds.stylesheet:
        pi = f'<?xml-stylesheet type="text/xsl" href="{site.url}feeds/feed.xsl"?>\n'.encode()
        head, _, rest = body.partition(b"\n")
        body = head + b"\n" + pi + rest
    return body


def _podcast_channel(fg, config: Config) -> None:
    """The iTunes channel tags Apple Podcasts requires (feedgen's podcast extension)."""
    pod, site = config.feeds.podcast, config.site
    fg.load_extension("podcast", atom=False, rss=True)
    image = pod.image if "://" in pod.image else site.url + pod.image.lstrip("/")
    fg.image(url=image, title=fg.title(), link=site.url)
    fg.podcast.itunes_image(image)
    fg.podcast.itunes_author(site.author)
    fg.podcast.itunes_owner(name=site.author, email=pod.owner_email or site.email)
    fg.podcast.itunes_category(pod.category, pod.subcategory)
    # Apple and the W3C validator now want "true"/"false"; feedgen only writes yes/no/clean
    # (what Apple used to want): the element is added by an extension of ours.
    fg.register_extension("explicit", _explicit_extension(), None, atom=False, rss=True)
    fg.explicit.value = "true" if pod.explicit else "false"
    fg.podcast.itunes_summary(site.description or site.title)
    fg.podcast.itunes_type(pod.type)


def render_json(doc: FeedDoc, config: Config) -> bytes:
    site = config.site
    items = []
    for a in doc.articles:
        item = {
            "id": a.id,
            "url": a.url,
            "title": a.title,
            "summary": a.summary,
            "date_published": a.date.isoformat(),
            "date_modified": a.updated.isoformat(),
            "authors": [{"name": a.author}],
            "tags": list(dict.fromkeys(a.categories + a.tags)),
            "language": a.lang,
        }
        if doc.full_content:
            item["content_html"] = a.html
        else:
            item["content_text"] = a.summary
        if a.image:
            item["image"] = a.image
        if a.enclosure:
            attachment = {"url": a.enclosure[0], "mime_type": a.enclosure[2]}
            if a.enclosure[1]:
                attachment["size_in_bytes"] = a.enclosure[1]
            if a.duration:
                h, m, sec = map(int, a.duration.split(":"))
                attachment["duration_in_seconds"] = h * 3600 + m * 60 + sec
            item["attachments"] = [attachment]
        items.append(item)
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": doc.title,
        "home_page_url": doc.alternate,
        "feed_url": doc.links["self"],
        "description": site.description or site.title,
        "language": site.lang,
        "authors": [{"name": site.author}],
    }
    if "prev-archive" in doc.links:
        feed["next_url"] = doc.links["prev-archive"]  # JSON Feed pages backwards in time
    if "hub" in doc.links:
        feed["hubs"] = [{"type": "WebSub", "url": doc.links["hub"]}]
    feed["items"] = items
    # Compact: json's C encoder only runs without `indent` (5x faster on archive pages).
    return json.dumps(feed, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
