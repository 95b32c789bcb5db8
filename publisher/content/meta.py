"""Front matter -> Source: the keys Pelican and Hugo users already write, for every reader that
has a mapping of metadata (Markdown's YAML, TOML or `Key: value` lines; reST's field list).

Unknown keys are kept in `extra`, never turned into fields. A value a user got wrong is one
ContentError naming the file and the key's line.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from publisher.content.source import Source
from publisher.errors import ContentError

KNOWN = {
    "title", "date", "updated", "modified", "lastmod", "category", "categories", "tags",
    "keywords", "summary", "description", "slug", "draft", "status", "author", "authors",
    "lang", "id", "image", "enclosure", "duration", "aliases",
}
PAGES = "pages/"  # Pelican's folder of static pages: no date needed, listed nowhere
DURATION = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})|(\d+)")  # HH:MM:SS, MM:SS or seconds
STATUSES = ("published", "hidden", "draft")


def strings(value: Any, key: str, path: str, line: int) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    raise ContentError(path, line, f"'{key}' must be a text or a list, not {type(value).__name__}")


def text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None


def when(value: Any, key: str, path: str, line: int) -> str | date | datetime | None:
    if value is None or isinstance(value, (date, datetime)):
        return value
    if isinstance(value, str):
        return value.strip()
    raise ContentError(path, line, f"'{key}' must be a date, not {type(value).__name__}")


def flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "draft")
    return bool(value)


def enclosure(value: Any, path: str, line: int) -> tuple[str, int, str] | None:
    """`enclosure: {url: ..., length: 1234, type: audio/mpeg}` or `enclosure: URL LENGTH TYPE`
    (length and type may be left out: 0, and the type guessed from the URL's suffix)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        parts = value.split()
        value = dict(zip(("url", "length", "type"), parts))
    if not isinstance(value, dict) or not value.get("url"):
        raise ContentError(path, line, "'enclosure' needs a url: `enclosure: URL LENGTH TYPE` "
                                       "or a mapping with url, length and type")
    url = str(value["url"]).strip()
    try:
        length = int(value.get("length") or 0)
        if length < 0:
            raise ValueError
    except (TypeError, ValueError):
        raise ContentError(path, line, f"'enclosure' length {value.get('length')!r} is not a "
                                       "size in bytes") from None
    kind = str(value.get("type") or mimetypes.guess_type(url)[0] or "")
    if "/" not in kind:
        raise ContentError(path, line, f"'enclosure' has no MIME type and none can be guessed "
                                       f"from {url!r} (add e.g. type: audio/mpeg)")
    return url, length, kind


def duration(value: Any, path: str, line: int) -> str:
    """HH:MM:SS, as iTunes and the W3C validator want it."""
    if value is None or value == "":
        return ""
    m = DURATION.fullmatch(str(value).strip())
    if not m:
        raise ContentError(path, line, f"'duration' {value!r} is not HH:MM:SS, MM:SS or seconds")
    if m.group(4):
        seconds = int(m.group(4))
    else:
        seconds = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def alias_paths(value: Any, path: str, line: int) -> tuple[str, ...]:
    """URL paths (`/old/url/`, `old.html`) -> output paths (`old/url/index.html`)."""
    found = []
    for alias in strings(value, "aliases", path, line):
        rel = alias.split("://", 1)[-1].split("/", 1)[-1] if "://" in alias else alias
        rel = rel.split("#")[0].split("?")[0].strip("/")
        if not rel or ".." in rel.split("/") or "\\" in rel:
            raise ContentError(path, line, f"alias {alias!r} is not a path inside the site")
        found.append(rel if rel.endswith((".html", ".htm")) else rel + "/index.html")
    return tuple(found)


def source_from_meta(meta: dict[str, Any], html: str, lead: str, path: str,
                     at: Callable[[str], int]) -> Source:
    """The Source of one file from its metadata (keys lower-cased) and its rendered body;
    `at(key)` is the line of a key, for messages."""
    title = text(meta.get("title"))
    if not title:
        raise ContentError(path, at("title"), "front matter has no 'title'")
    is_page = path.startswith(PAGES)
    published = when(meta.get("date"), "date", path, at("date"))
    if published in (None, "") and not is_page:
        raise ContentError(path, at("date"), "front matter has no 'date'")
    updated_key = next((k for k in ("updated", "modified", "lastmod") if meta.get(k)), "updated")
    categories = strings(meta.get("categories"), "categories", path, at("categories")) or strings(
        meta.get("category"), "category", path, at("category")
    )
    tags = strings(meta.get("tags") or meta.get("keywords"), "tags", path, at("tags"))
    authors = strings(meta.get("author") or meta.get("authors"), "author", path, at("author"))
    status = str(meta.get("status") or "published").strip().lower()
    if status not in STATUSES:
        raise ContentError(path, at("status"), f"'status: {status}' is not one of "
                                               + ", ".join(STATUSES))
    return Source(
        title=title,
        date=published or None,
        html=html,
        date_line=at("date"),
        updated=when(meta.get(updated_key), updated_key, path, at(updated_key)),
        categories=categories,
        tags=tags,
        summary=text(meta.get("summary") or meta.get("description")),
        lead=lead,
        slug=text(meta.get("slug")),
        author=", ".join(authors) or None,
        lang=text(meta.get("lang")),
        draft=flag(meta.get("draft")) or status == "draft",
        id=text(meta.get("id")),
        extra={k: v for k, v in meta.items() if k not in KNOWN},
        image=text(meta.get("image")),
        enclosure=enclosure(meta.get("enclosure"), path, at("enclosure")),
        duration=duration(meta.get("duration"), path, at("duration")),
        aliases=alias_paths(meta.get("aliases"), path, at("aliases")),
        hidden=status == "hidden",
    )
