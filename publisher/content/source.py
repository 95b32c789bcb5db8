"""What a reader hands over: the fields it found, before dates, slugs and URLs are settled."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

ARTICLE_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".rst"})  # what is read as an article


@dataclass(frozen=True, slots=True)
class Source:
    title: str
    date: str | date | datetime | None  # None only for a static page (under pages/)
    html: str  # rendered body, not yet sanitised
    date_line: int = 1  # where the date was found, for error messages
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    updated: str | date | datetime | None = None
    summary: str | None = None
    lead: str = ""  # first paragraph as text: the summary when none is given
    slug: str | None = None
    author: str | None = None
    lang: str | None = None
    draft: bool = False
    id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    image: str | None = None
    enclosure: tuple[str, int, str] | None = None
    duration: str = ""
    aliases: tuple[str, ...] = ()
    hidden: bool = False  # `Status: hidden`: built, listed nowhere
