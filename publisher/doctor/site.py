"""The built site as a reader and a feed reader meet it: every link in every feed leads to a
written page, no feed near the size aggregators drop (about 1 MB), no page linking to a missing
page or image."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from publisher.doctor.links import absolute, internal_path, written
from publisher.doctor.markup import links, parse
from publisher.doctor.report import Check, failed, passed, warned

G = "site"
FEED_LIMIT = 1024 * 1024
ATOM = "{http://www.w3.org/2005/Atom}"


def feed_links(path: Path) -> list[str]:
    """Every URL a feed document points readers to."""
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        found = [data.get("home_page_url"), data.get("feed_url")]
        for item in data.get("items", []):
            found += [item.get("url"), item.get("external_url")]
            found += [a.get("url") for a in item.get("attachments", [])]
        return [u for u in found if u]
    root = ET.parse(path).getroot()
    found = [e.get("href") for e in root.iter(f"{ATOM}link")]
    found += [e.text for e in root.iter("link") if e.text]
    found += [e.get("url") for e in root.iter("enclosure")]
    return [u.strip() for u in found if u and u.strip()]


def _page_url(site_url: str, output: Path, page: Path) -> str:
    rel = page.relative_to(output).as_posix()
    return site_url + (rel[: -len("index.html")] if rel.endswith("index.html") else rel)


def check_site(config) -> list[Check]:
    output, base = config.path("output"), config.site.url
    if not (output / "index.html").is_file():
        return [warned(G, "built", f"{output} holds no built site", "run `publisher build`")]
    seen: dict[str, bool] = {}

    def ok(url: str) -> bool:
        path = internal_path(url, base)
        if path is None:
            return True  # external: only the are asked, with --online
        if path not in seen:
            seen[path] = written(output, path)
        return seen[path]

    return [*_feeds(output, base, ok), *_pages(output, base, ok)]


def _feeds(output: Path, base: str, ok) -> list[Check]:
    feeds = sorted(p for p in (output / "feeds").rglob("*") if p.suffix in (".xml", ".json")
                   and p.name != "feed.xsl")
    broken, unreadable, big = [], [], []
    for feed in feeds:
        if feed.stat().st_size > FEED_LIMIT:
            big.append(f"{feed.relative_to(output)} ({feed.stat().st_size // 1024} KB)")
        try:
            urls = feed_links(feed)
        except (ET.ParseError, ValueError, UnicodeDecodeError) as exc:
            unreadable.append(f"{feed.relative_to(output)}: {exc}")
            continue
        broken += [f"{u} (in {feed.relative_to(output)})" for u in urls if not ok(u)]
    out = []
    if unreadable:
        out.append(failed(G, "feeds-valid", f"unreadable: {'; '.join(unreadable[:3])}",
                          "rebuild with `publisher build --full`"))
    if broken:
        out.append(failed(G, "feed-links", f"{len(broken)} feed link(s) lead nowhere: "
                          f"{', '.join(broken[:3])}", "rebuild with `publisher build --full`"))
    else:
        out.append(passed(G, "feed-links", f"every link of {len(feeds)} feeds leads to a page"))
    if big:
        out.append(warned(G, "feed-size", f"over 1 MB (aggregators drop these): "
                          f"{', '.join(big[:3])}", "lower feeds.limit or use feeds.*: summary"))
    else:
        out.append(passed(G, "feed-size", "every feed under 1 MB"))
    return out


def _pages(output: Path, base: str, ok) -> list[Check]:
    broken, missing, count = [], [], 0
    for page in sorted(output.rglob("*.html")):
        count += 1
        page_url = _page_url(base, output, page)
        tree = parse(page.read_text(encoding="utf-8", errors="replace"))
        for kind, href in links(tree):
            url = absolute(href, page_url)
            if url is None or ok(url):
                continue
            where = f"{url} (on {page.relative_to(output).as_posix()})"
            (missing if kind == "img" else broken).append(where)
    out = [failed(G, "page-links", f"{len(broken)} broken link(s): {', '.join(broken[:3])}",
                  "fix the link in the article or template, or rebuild")
           if broken else passed(G, "page-links", f"no broken internal link in {count} pages")]
    out.append(failed(G, "images", f"{len(missing)} missing image(s): {', '.join(missing[:3])}",
                      "add the image under the content's static files or fix its path")
               if missing else passed(G, "images", "every image is there"))
    return out
