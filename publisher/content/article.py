"""Settle what a reader found into an Article: aware dates, slug, stable id, URL, safe HTML."""

from __future__ import annotations

import hashlib
import posixpath
import re
from datetime import date, datetime
from functools import lru_cache
from urllib.parse import quote, unquote, urljoin, urlsplit

from slugify import slugify

from publisher.config import Config
from publisher.content.sanitize import clean_html, plain_text
from publisher.content.source import ARTICLE_SUFFIXES, Source
from publisher.content.typography import typeset_html, typeset_text
from publisher.errors import ContentError
from publisher.models import Article, pack_html

SUMMARY_WORDS = 50


SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@lru_cache(maxsize=1024)  # every article's category goes through here, at read and plan time
def make_slug(text: str) -> str:
    """ASCII slug with French letters transliterated: 'Corée' -> 'coree'."""
    if len(text) <= 80 and SLUG.fullmatch(text):
        return text  # already a slug (front matter `slug:`): skip the costly transliteration
    slug = slugify(text, max_length=80, word_boundary=True, replacements=[["'", "-"], ["’", "-"]])
    words = slug.split("-")
    cut = len(text) > 80 and not slugify(text, replacements=[["'", "-"], ["’", "-"]]) == slug
    while cut and len(words) > 1 and words[-1] in ELIDED:  # "...-pour-l" (l'ordre cut): "...-pour"
        words.pop()
    return "-".join(words)


# French elided words: a slug cut at 80 characters must not end on one of them.
ELIDED = frozenset({"l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu"})


def to_datetime(value: str | date | datetime, config: Config, path: str, line: int) -> datetime:
    """Aware datetime; a date alone is published at site.default_time in the site's zone."""
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            value = datetime.fromisoformat(text) if len(text) > 10 else date.fromisoformat(text)
        except ValueError:
            raise ContentError(
                path, line, f"'{value}' is not a valid date (expected YYYY-MM-DD or YYYY-MM-DD HH:MM)"
            ) from None
    if not isinstance(value, datetime):
        value = datetime.combine(value, config.site.default_time)
    if value.tzinfo is None:
        value = value.replace(tzinfo=config.site.tz)
    return value


def entry_id(config: Config, source_path: str, published: datetime, url: str = "") -> str:
    """RFC 4151 tag URI from the site's host, first publication date and source path; with
    `feeds.id_style: pelican`, the one Pelican's feedgenerator made from the article's URL
    (get_tag_uri: `tag:{host},{date}:{path}/`), so a moved site's readers see no new entry."""
    host = urlsplit(config.site.url).hostname or "localhost"
    if config.feeds.id_style == "pelican" and url:
        parts = urlsplit(url)
        return f"tag:{parts.hostname},{published:%Y-%m-%d}:{parts.path}/{parts.fragment}"
    stem = source_path.rsplit(".", 1)[0]
    return f"tag:{host},{published:%Y-%m-%d}:/{stem}"


# Pelican's intra-site links: {filename} (another article), {static} and {attach} (a file),
# also in the old |filename| form; markdown-it escapes the braces in a link's URL.
PELICAN_LINK = re.compile(
    r'(?P<attr>href|src)=(?P<q>["\'])(?:\{|%7B|\|)(?P<what>filename|static|attach)(?:\}|%7D|\|)'
    r'(?P<target>[^"\']*)(?P=q)')
LINK_MARK = "__publisher_link__/"  # stands for an article's URL until the plan knows it
FIRST_IMAGE = re.compile(r'<img\b[^>]*?\bsrc="([^"]+)"')
PAGE_DATE = datetime(1970, 1, 1)  # a static page without a date


def pelican_links(html: str, path: str, config: Config) -> tuple[str, tuple[str, ...]]:
    """Pelican's {filename}/{static}/{attach} links made absolute: files are copied to the same
    path under site.url; an article's URL is only known to the plan, which replaces
    LINK_MARK (see site/plan.py). Returns the HTML and the content paths linked that way."""
    if "filename" not in html and "static" not in html and "attach" not in html:
        return html, ()
    folder = posixpath.dirname(path)
    linked: list[str] = []

    def resolve(m: re.Match) -> str:
        target, _, fragment = m.group("target").partition("#")
        target = unquote(target)
        rel = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        rel = posixpath.normpath(rel).lstrip("/")
        tail = f"#{fragment}" if fragment else ""
        q = m.group("q")
        if m.group("what") == "filename" and posixpath.splitext(rel)[1].lower() in ARTICLE_SUFFIXES:
            linked.append(rel)
            return f"{m.group('attr')}={q}{config.site.url}{LINK_MARK}{quote(rel)}{tail}{q}"
        return f"{m.group('attr')}={q}{config.site.url}{quote(rel)}{tail}{q}"

    return PELICAN_LINK.sub(resolve, html), tuple(dict.fromkeys(linked))


def folder_category(path: str) -> str | None:
    """Pelican's USE_FOLDER_AS_CATEGORY: an article in `Culture/x.md` without a category."""
    folder = posixpath.dirname(path)
    return posixpath.basename(folder) if folder and not folder.startswith("pages") else None


def summarise(text: str, words: int = SUMMARY_WORDS) -> str:
    parts = text.split()
    return text if len(parts) <= words else " ".join(parts[:words]) + " …"


def article_location(config: Config, published: datetime, slug: str, category: str,
                     kind: str = "article") -> tuple[str, str]:
    """(absolute URL, output path) of an article's page, from paths.article (paths.page for a
    static page)."""
    pattern = config.paths.page if kind == "page" else config.paths.article
    rel_url = pattern.format(
        year=f"{published:%Y}", month=f"{published:%m}", day=f"{published:%d}",
        slug=slug, category=make_slug(category),
    ).lstrip("/")
    out_path = rel_url.rstrip("/") + ("/index.html" if rel_url.endswith("/") else "")
    return config.site.url + rel_url, out_path


@lru_cache(maxsize=64)
def known_language(lang: str) -> bool:
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(lang.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return False
    return True


def assemble(source: Source, path: str, raw: bytes, config: Config) -> Article:
    kind = "page" if path.startswith("pages/") else "article"
    if source.date is None:  # only a static page may go without (see content/meta.py)
        published = PAGE_DATE.replace(tzinfo=config.site.tz)
    else:
        published = to_datetime(source.date, config, path, source.date_line)
    updated = published
    if source.updated:
        updated = max(published, to_datetime(source.updated, config, path, source.date_line))
    slug = make_slug(source.slug or source.title)
    if not slug:
        raise ContentError(path, 1, f"cannot make a URL slug from the title {source.title!r}")
    found = folder_category(path) if kind == "article" else None
    categories = source.categories or ((found,) if found else ("Misc",))
    url, out_path = article_location(config, published, slug, categories[0], kind)
    html, links = pelican_links(source.html, path, config)
    body = clean_html(html, url)
    lang = source.lang or config.site.lang
    if not known_language(lang):
        raise ContentError(path, 1, f"'lang: {lang}' is not a language Babel knows (e.g. fr, en, de)")
    body = typeset_html(body, lang)  # the language's quotes and spaces, in text only
    summary = plain_text(source.summary) if source.summary else summarise(source.lead)
    if source.image:
        image = urljoin(url, pelican_links(f'src="{source.image}"', path, config)[0][5:-1])
    else:
        first = FIRST_IMAGE.search(body)
        image = first.group(1) if first else ""
    return Article(
        source=path,
        id=source.id or entry_id(config, path, published, url),
        title=typeset_text(source.title, lang),
        slug=slug,
        date=published,
        updated=updated,
        categories=categories,
        tags=source.tags,
        author=source.author or config.site.author,
        lang=lang,
        summary=typeset_text(summary, lang),
        body=pack_html(body),
        url=url,
        path=out_path,
        draft=source.draft,
        digest=hashlib.blake2b(raw, digest_size=16).hexdigest(),
        words=body.count(" ") + body.count("\n") + 1,  # the gaps between words: for reading time
        extra=dict(source.extra),
        image=image,
        enclosure=source.enclosure and (urljoin(url, source.enclosure[0]), *source.enclosure[1:]),
        duration=source.duration,
        aliases=source.aliases,
        listed=kind == "article" and not source.hidden,
        kind=kind,
        links=links,
    )
