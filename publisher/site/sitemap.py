"""The site's machine-read files: sitemap.xml, robots.txt and _redirects.

sitemap.xml lists every listed article, static page and first page of a listing, each with
the date its content last changed (not the build's). robots.txt names the sitemap; a
robots.txt of the user's (in content/ or content/extra/) is copied instead. `_redirects`
(Netlify's and Cloudflare Pages' format, `/old/ /new/ 301`) holds every alias and remembered
old URL; `publisher serve` answers them with 301 (web/site_files.py), a static host that
knows the format does too, any other one serves the redirect page written at the old path.

The remembered URLs: var/site-urls.json keeps, for each article id, its path in the last
build and the paths it had before, so that a title edit that moves an article leaves a
redirect at the old address. It lives beside the cache, not in it: `build --full` keeps it.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

from publisher.config import Config
from publisher.models import Article
from publisher.site.pages import Page

LISTINGS = ("index.html", "category.html", "tag.html", "author.html")


SITEMAP_LIMIT = 50_000  # URLs in one sitemap file (sitemaps.org); past it, an index of files


def sitemap_xml(articles: list[Article], pages: list[Page], config: Config,
                limit: int = SITEMAP_LIMIT) -> dict[str, bytes]:
    """sitemap.xml: a <urlset> of the listings' front pages, then every listed article and
    static page; past `limit` URLs, a <sitemapindex> of sitemap-N.xml files of `limit` each,
    numbered from the oldest article so that a new one only changes the last file."""
    base = config.site.url
    rows: list[tuple[str, datetime | None]] = []
    for p in pages:
        if p.template in LISTINGS and p.number == 0:
            rows.append((base + p.url, max((a.updated for a in p.articles), default=None)))
        elif p.article and p.template == "page.html":
            rows.append((p.article.url, None if p.article.date.year == 1970 else p.article.updated))
    if len(rows) + len(articles) <= limit:
        return {"sitemap.xml": _urlset(rows + [(a.url, a.updated) for a in articles])}
    oldest_first = [(a.url, a.updated) for a in reversed(articles)]
    files = {"sitemap-0.xml": _urlset(rows)}  # the listings and static pages
    for n, start in enumerate(range(0, len(oldest_first), limit), start=1):
        files[f"sitemap-{n}.xml"] = _urlset(oldest_first[start : start + limit])
    index = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    index += [f"<sitemap><loc>{escape(base + name)}</loc></sitemap>" for name in files]
    index.append("</sitemapindex>\n")
    return {"sitemap.xml": "\n".join(index).encode(), **files}


def _urlset(rows: list[tuple[str, datetime | None]]) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for url, when in rows:
        lastmod = f"<lastmod>{when.isoformat(timespec='seconds')}</lastmod>" if when else ""
        out.append(f"<url><loc>{escape(url)}</loc>{lastmod}</url>")
    out.append("</urlset>\n")
    return "\n".join(out).encode()


def robots_txt(config: Config) -> bytes:
    return f"User-agent: *\nAllow: /\n\nSitemap: {config.site.url}sitemap.xml\n".encode()


def redirects_file(redirects: list[tuple[str, str]]) -> bytes:
    return "".join(f"{old} {new} 301\n" for old, new in redirects).encode()


def read_redirects(text: str) -> dict[str, str]:
    """The `_redirects` file read back: old path -> new URL (the web server's side)."""
    found = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith("/") and not line.startswith("#"):
            found[parts[0]] = parts[1]
    return found


def moved_paths(memory: dict[str, dict], articles: list[Article]
                ) -> tuple[dict[str, dict], dict[str, tuple[str, ...]]]:
    """(new memory, id -> old paths): an article whose path changed since the memory was
    written keeps its old paths. Pure; the memory is var/site-urls.json (see below)."""
    new, moved = {}, {}
    for a in articles:
        seen = memory.get(a.id) or {}
        old = [p for p in seen.get("old", []) if p != a.path]
        if seen.get("path") and seen["path"] != a.path and seen["path"] not in old:
            old.append(seen["path"])
        new[a.id] = {"path": a.path, "old": old} if old else {"path": a.path}
        if old:
            moved[a.id] = tuple(old)
    # An article gone from the build (deleted, or a draft again) is remembered as it was.
    for key, value in memory.items():
        new.setdefault(key, value)
    return new, moved


def load_memory(path: Path) -> dict[str, dict]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}


def save_memory(path: Path, memory: dict[str, dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(memory, ensure_ascii=False, sort_keys=True, indent=0),
                   encoding="utf-8")
    os.replace(tmp, path)
