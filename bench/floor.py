#!/usr/bin/env python3
"""The floor of the required stack: the least a build can do with the libraries the product
must use, with none of what makes it a product.

    python bench/floor.py CORPUS OUT [--workers 2] [--complete] [--markdown markdown-it]

For every Markdown article in CORPUS (gen_corpus.py's `--format md`): read the file, parse its
YAML front matter (PyYAML, libyaml loader), render its body (CommonMark: pyromark, the compiled
renderer the product uses, or with `--markdown markdown-it` the pure-Python markdown-it-py that
issue 20 measured the product against when it was filed), render
one page (Jinja2, a nine-line template, autoescaped) and write it to OUT/{slug}.html, one flat
folder (Pelican's default layout, the cheapest: no folder per article); then put every article
once in an Atom and once in an RSS document of 20 entries (feedgen, the entries shared by both).

Left out, so the floor is lower than any real build: sanitising (nh3), absolute links, French
typography, slugs and ids, listing pages (index, categories), JSON Feed, category feeds, the
cache, stylesheets, progress. `--complete` adds, in their cheapest form, the parts issue 3 asks
for in so many words: every body sanitised with nh3 (one Cleaner), the paginated index and
category listings (10 articles a page, titles and links only), and a JSON Feed document beside
each Atom and RSS one. `--workers N` splits the articles into N contiguous ranges, one forked
process each (the parent takes the first), as `publisher build` does.

bench/build_vs_pelican.py runs this in the same run as the tools it compares, so the floor can
be set beside Pelican's time divided by the goal's factor.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nh3
import pyromark
import yaml
from feedgen.feed import FeedGenerator
from jinja2 import Environment
from markdown_it import MarkdownIt

PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<title>{{ title }}</title>
<link rel="alternate" type="application/atom+xml" href="/feeds/all.atom.xml">
</head><body>
<article><h1>{{ title }}</h1><time datetime="{{ date }}">{{ date }}</time>
{{ body | safe }}
</article></body></html>
"""
SITE = "http://127.0.0.1:8000/"
PER_FEED = 20
LISTING = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>{{ title }}</title></head><body>
<h1>{{ title }}</h1>
{% for a in articles %}<article><h2><a href="/{{ a.slug }}.html">{{ a.title }}</a></h2>
<time>{{ a.date }}</time></article>
{% endfor %}<a href="{{ next }}">suivant</a></body></html>
"""
PER_PAGE = 10
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    _, head, body = text.split("---\n", 2)
    meta = yaml.load(head, Loader=Loader)
    meta["body"] = body
    return meta


def write(out: str, name: str, data: bytes) -> None:
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def build(paths: list[str], out: str, first: int = 0, complete: bool = False,
          markdown: str = "pyromark") -> int:
    """Render and write the pages of `paths` (`first` is the index of the first in the whole
    corpus), then their feed documents; returns the number of files written."""
    render = MarkdownIt("commonmark", {"html": True}).render if markdown == "markdown-it" \
        else pyromark.html
    env = Environment(autoescape=True)
    page, listing = env.from_string(PAGE), env.from_string(LISTING)
    cleaner = nh3.Cleaner() if complete else None
    written = 0
    entries = []
    for path in paths:
        meta = read(path)
        html = render(meta["body"])
        if cleaner:
            html = cleaner.clean(html)
        date = datetime.combine(meta["date"], datetime.min.time(), timezone.utc) \
            if not isinstance(meta["date"], datetime) else meta["date"]
        data = page.render(title=meta["title"], date=date.isoformat(), body=html).encode()
        write(out, f"{meta['slug']}.html", data)
        written += 1
        entries.append((meta, date, html))
    if complete:  # the index, then each category, 10 a page
        groups: dict[str, list] = {"index": []}
        for meta, date, _ in entries:
            item = {"slug": meta["slug"], "title": meta["title"], "date": date.date().isoformat()}
            groups["index"].append(item)
            groups.setdefault(str(meta.get("category", "")), []).append(item)
        for name, items in groups.items():
            for start in range(0, len(items), PER_PAGE):
                data = listing.render(title=name, articles=items[start:start + PER_PAGE],
                                      next=f"{name}-{first + start + PER_PAGE}.html").encode()
                write(out, f"{name}-{first + start}.html", data)
                written += 1
    for start in range(0, len(entries), PER_FEED):
        fg = FeedGenerator()
        fg.id(f"{SITE}feeds/{start}")
        fg.title("Floor")
        fg.link(href=SITE, rel="alternate")
        fg.language("fr")
        fg.updated(entries[start][1])
        fg.description("Floor")
        for meta, date, html in entries[start:start + PER_FEED]:
            fe = fg.add_entry(order="append")
            url = f"{SITE}{meta['slug']}.html"
            fe.id(url)
            fe.title(meta["title"])
            fe.link(href=url)
            fe.published(date)
            fe.updated(date)
            fe.content(html, type="html")
        docs = [("atom.xml", fg.atom_str()), ("rss.xml", fg.rss_str())]
        if complete:
            docs.append(("json", json.dumps({
                "version": "https://jsonfeed.org/version/1.1", "title": "Floor",
                "home_page_url": SITE,
                "items": [{"id": f"{SITE}{m['slug']}.html", "url": f"{SITE}{m['slug']}.html",
                           "title": m["title"], "date_published": d.isoformat(),
                           "content_html": h} for m, d, h in entries[start:start + PER_FEED]],
            }, ensure_ascii=False).encode()))
        for kind, data in docs:
            write(out, f"feed-{first + start}.{kind}", data)
            written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--complete", action="store_true",
                    help="add sanitising, listing pages and JSON Feed (see above)")
    ap.add_argument("--markdown", choices=("pyromark", "markdown-it"), default="pyromark",
                    help="the CommonMark renderer (default pyromark, as the product)")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    paths = sorted(str(p) for p in args.corpus.glob("*.md"))
    size = -(-len(paths) // max(1, args.workers))
    children = []
    for w in range(1, args.workers):
        pid = os.fork()
        if pid == 0:  # a child: its own range, then out without Python's teardown
            code = 1
            try:
                build(paths[w * size:(w + 1) * size], str(args.out), w * size, args.complete,
                      args.markdown)
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    written = build(paths[:size], str(args.out), 0, args.complete, args.markdown)
    failed = sum(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0 for pid in children)
    if failed:
        print(f"floor: {failed} worker(s) failed", file=sys.stderr)
        return 1
    print(f"floor: {len(paths)} articles, {written}+ files by the first process, "
          f"{args.workers} process(es), {args.markdown}, {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
