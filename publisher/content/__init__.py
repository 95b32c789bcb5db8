"""Read the content folder into Articles: one reader per format, bad files reported, not fatal."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from publisher.config import Config
from publisher.content.source import ARTICLE_SUFFIXES  # noqa: F401 - re-exported
from publisher.content.walk import (  # noqa: F401 - re-exported
    EXTRA,
    ROOT_FILES,
    Walk,
    is_article,
    scan,
    scan_folder,
    signature,
    walk_folder,
)
from publisher.errors import ContentError
from publisher.models import Article


@lru_cache(maxsize=1)
def readers() -> dict:
    """The reader of each article suffix. Imported on first use: a build with nothing to
    read (the no-change rebuild) only scans, and YAML, Markdown, nh3 and slugify cost
    a tenth of a second to import."""
    from publisher.content.markdown import read_markdown
    from publisher.content.plaintext import read_plaintext
    from publisher.content.rst import read_rst

    return {".txt": read_plaintext, ".md": read_markdown, ".markdown": read_markdown,
            ".rst": read_rst}


def read_article(raw: bytes, path: str, config: Config) -> Article:
    """Bytes of one file -> Article, or a ContentError naming the file and line."""
    from publisher.content.article import assemble

    reader = readers().get(os.path.splitext(path)[1].lower())
    if reader is None:
        raise ContentError(path, 1, "not an article (expected .txt, .md, .markdown or .rst)")
    if not raw.strip():
        raise ContentError(path, 1, "the file is empty")
    if b"\x00" in raw[:8192]:
        raise ContentError(path, 1, "binary file, not a text article")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ContentError(path, line, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    return assemble(reader(text, path), path, raw, config)


@dataclass
class Loaded:
    articles: list[Article] = field(default_factory=list)
    problems: list[ContentError] = field(default_factory=list)

    def published(self, now: datetime) -> list[Article]:
        """Published articles that lists, feeds and the newsletter show, newest first (ties
        broken by source path for a stable order): no static page, no `Status: hidden`."""
        return [a for a in self.built(now) if a.listed]

    def built(self, now: datetime) -> list[Article]:
        """Everything that gets a page as of `now`: listed articles, hidden ones, static pages."""
        live = [a for a in self.articles if a.is_published(now)]
        live.sort(key=lambda a: (a.date, a.source), reverse=True)
        return live

    def next_publication(self, now: datetime) -> datetime | None:
        """When the next future-dated article goes live: when the site must be rebuilt."""
        return min((a.date for a in self.articles
                    if not a.draft and a.kind == "article" and a.date > now), default=None)


def load_articles(config: Config) -> Loaded:
    """Read every article under paths.content, serially. The build reads in parallel itself."""
    root = config.path("content")
    loaded = Loaded()
    for rel, _ in scan(root)[0]:
        try:
            loaded.articles.append(read_article((root / rel).read_bytes(), rel, config))
        except ContentError as exc:
            loaded.problems.append(exc)
    return loaded
