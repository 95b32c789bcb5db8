"""The domain's nouns as frozen dataclasses: values that flow one way through the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Mapping


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


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
    html: str  # sanitised body, links absolute
    url: str  # absolute URL of the article page
    path: str  # output path relative to the output folder, e.g. "2024/11/slug/index.html"
    draft: bool = False
    digest: str = ""  # hash of the source bytes: what changed-detection compares
    extra: Mapping[str, Any] = field(default_factory=_empty)

    @property
    def category(self) -> str:
        return self.categories[0]

    def is_published(self, now: datetime) -> bool:
        return not self.draft and self.date <= now


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    slug: str
