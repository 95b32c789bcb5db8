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
                limit: int | None = None) -> dict[str, bytes]:
    """sitemap.xml: a <urlset> of the listings' front pages, then every listed article and
    static page; past `limit` URLs, a <sitemapindex> of sitemap-N.xml files of `limit` each,
    numbered from the oldest article so that a new one only changes the last file."""
    return sitemap_files(sitemap_rows(pages, config), [article_line(a) for a in articles],
                         config, limit)


def sitemap_rows(pages: list[Page], config: Config) -> list[str]:
    """The lines of the listings' front pages (in the order of `pages`), then of the static
    pages: the date a front page changed is that of the newest update it shows."""
    rows = []
    for p in pages:
        if p.template in LISTINGS and p.number == 0:
            rows.append(_front_line(p, config))
        elif p.article and p.template == "page.html":
            a = p.article
            rows.append(url_line(a.url, None if a.date.year == 1970 else a.updated))
    return rows


def front_lines(jobs: list, config: Config) -> dict[str, str]:
    """The lines of the listings' front pages among a touch-up's `jobs`, by path."""
    return {j.path: _front_line(j, config) for j in jobs
            if getattr(j, "template", "") in LISTINGS and j.number == 0}


def _front_line(page: Page, config: Config) -> str:
    return url_line(config.site.url + page.url,
                    max((a.updated for a in page.articles), default=None))


def article_line(a: Article) -> str:
    return url_line(a.url, a.updated)


def url_line(url: str, when: datetime | None) -> str:
    lastmod = f"<lastmod>{when.isoformat(timespec='seconds')}</lastmod>" if when else ""
    return f"<url><loc>{escape(url)}</loc>{lastmod}</url>"


def sitemap_files(rows: list[str], articles: list[str], config: Config,
                  limit: int | None = None) -> dict[str, bytes]:
    """The sitemap files of `rows` (see sitemap_rows) and the lines of the listed articles,
    newest first (see sitemap_xml); `limit` URLs to a file, SITEMAP_LIMIT unless given."""
    limit = limit or SITEMAP_LIMIT
    if len(rows) + len(articles) <= limit:
        return {"sitemap.xml": _urlset(rows + articles)}
    oldest_first = articles[::-1]
    files = {"sitemap-0.xml": _urlset(rows)}  # the listings and static pages
    for n, start in enumerate(range(0, len(oldest_first), limit), start=1):
        files[f"sitemap-{n}.xml"] = _urlset(oldest_first[start : start + limit])
    index = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    index += [f"<sitemap><loc>{escape(config.site.url + name)}</loc></sitemap>"
              for name in files]
    index.append("</sitemapindex>\n")
    return {"sitemap.xml": "\n".join(index).encode(), **files}


_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
         '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n')
_FOOT = "</urlset>\n"


def _urlset(lines: list[str]) -> bytes:
    return (_HEAD + "".join(line + "\n" for line in lines) + _FOOT).encode()


def sitemap_lines(out: str, articles: int) -> tuple[list[str], list[str]] | None:
    """(rows, article lines newest first) of the sitemap files in the output folder `out`,
    as sitemap_files wrote them for `articles` listed articles; None if they are not."""
    try:
        index = _lines(os.path.join(out, "sitemap.xml"))
        if index is not None:  # one file: the rows, then the articles
            cut = len(index) - articles
            return (index[:cut], index[cut:]) if cut >= 0 else None
        rows = _lines(os.path.join(out, "sitemap-0.xml"))
        oldest_first: list[str] = []
        n = 1
        while len(oldest_first) < articles:
            part = _lines(os.path.join(out, f"sitemap-{n}.xml"))
            if not part:
                return None
            oldest_first += part
            n += 1
    except OSError:
        return None
    if rows is None or len(oldest_first) != articles:
        return None
    return rows, oldest_first[::-1]


def _lines(path: str) -> list[str] | None:
    """The <url> lines of one <urlset> file; None for a <sitemapindex> or anything else."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if not (text.startswith(_HEAD) and text.endswith(_FOOT)):
        return None
    body = text[len(_HEAD) : len(text) - len(_FOOT)]
    return body.splitlines() if body else []


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
                ) -> tuple[dict[str, dict | str], dict[str, tuple[str, ...]], bool]:
    """(new memory, id -> old paths, whether anything changed): an article whose path
    changed since the memory was written keeps its old paths. Pure; the memory is
    var/site-urls.json (see below). In the new memory, an article that only ever had its
    path is that path alone, its own string: 100,000 of them cost no more than the dict."""
    new: dict[str, dict | str] = {}
    moved, changed = {}, False
    for a in articles:
        seen = memory.get(a.id) or {}
        if seen.get("path") == a.path and "old" not in seen:
            new[a.id] = a.path  # as it was
            continue
        old = [p for p in seen.get("old", []) if p != a.path]
        if seen.get("path") and seen["path"] != a.path and seen["path"] not in old:
            old.append(seen["path"])
        new[a.id] = {"path": a.path, "old": old} if old else a.path
        changed = changed or new[a.id] != seen  # (a path alone: new, or its old paths went)
        if old:
            moved[a.id] = tuple(old)
    # An article gone from the build (deleted, or a draft again) is remembered as it was.
    for key, value in memory.items():
        new.setdefault(key, value)
    return new, moved, changed


def load_memory(path: Path) -> dict[str, dict]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}


def save_memory(path: Path, memory: dict[str, dict | str]) -> None:
    """The memory as var/site-urls.json: each id's {\"path\", \"old\"} (see moved_paths)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    # Compact: the C encoder (an indent means the pure-Python one, ten times slower).
    entries = {k: {"path": v} if isinstance(v, str) else v for k, v in memory.items()}
    tmp.write_text(json.dumps(entries, ensure_ascii=False, sort_keys=True,
                              separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)
