"""Listing pages numbered from the oldest (issue 20): one new article rewrites the front
pages, never the archive pages; the sitemap becomes an index past 50,000 URLs."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from conftest import write_config

from publisher.site.build import build

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _article(content, i: int) -> None:
    (content / f"a{i:03}.md").write_text(
        f"---\ntitle: Papier {i}\ndate: 2024-01-01T00:{i // 60:02}:{i % 60:02}Z\n"
        f"category: Une\ntags: [commun]\n---\nCorps {i}.\n", encoding="utf-8")


def _titles(path) -> list[int]:
    return [int(n) for n in re.findall(r'class="teaser-title"><a [^>]*>Papier (\d+)<',
                                       path.read_text(encoding="utf-8"))]


def _snapshot(out) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*.html")}


def test_archive_pages_hold_the_oldest_and_never_change_when_one_is_added(tmp_path, load):
    content = tmp_path / "content"
    content.mkdir()
    for i in range(23):
        _article(content, i)
    config = load(write_config(tmp_path, "pages:\n  per_page: 5\n", content=content))
    build(config, NOW)
    out = config.path("output")
    # 23 articles, 5 a page: archive pages 1-3 hold 0-4, 5-9, 10-14; the front shows 15-22.
    assert _titles(out / "page/1/index.html") == [4, 3, 2, 1, 0]
    assert _titles(out / "page/3/index.html") == [14, 13, 12, 11, 10]
    assert _titles(out / "index.html") == list(range(22, 14, -1))
    assert not (out / "page/4").exists()
    front = (out / "index.html").read_text(encoding="utf-8")
    assert 'rel="next" href="http://127.0.0.1:8000/page/3/"' in front
    last = (out / "page/3/index.html").read_text(encoding="utf-8")
    assert 'rel="prev" href="http://127.0.0.1:8000/"' in last and "Page 3" in last
    before = _snapshot(out)

    _article(content, 23)  # one more: only the front pages (and the article's own) change
    build(config, NOW)
    after = _snapshot(out)
    changed = {p for p in after if after[p] != before.get(p)}
    assert changed == {"index.html", "category/une/index.html", "tag/commun/index.html",
                       "author/publisher/index.html", "2024/01/papier-23/index.html"}

    for i in range(24, 25):  # the front reaches twice per_page: archive page 4 is made
        _article(content, i)
    build(config, NOW)
    assert _titles(out / "page/4/index.html") == [19, 18, 17, 16, 15]
    assert _titles(out / "index.html") == list(range(24, 19, -1))
    assert 'rel="prev" href="http://127.0.0.1:8000/page/4/"' in \
        (out / "page/3/index.html").read_text(encoding="utf-8")
    assert (out / "page/1/index.html").read_bytes() == before["page/1/index.html"]


def test_a_sitemap_past_the_limit_is_an_index_of_files(tmp_path, load):
    from publisher.site.sitemap import sitemap_xml

    content = tmp_path / "content"
    content.mkdir()
    for i in range(7):
        _article(content, i)
    config = load(write_config(tmp_path, content=content))
    build(config, NOW)
    from publisher.site.plan import plan_site

    class A:  # the few fields the sitemap reads
        def __init__(self, i):
            self.url, self.updated = f"http://127.0.0.1:8000/a{i}/", NOW

    articles = [A(i) for i in range(6, -1, -1)]  # newest first
    pages, *_ = plan_site([], config)
    files = sitemap_xml(articles, pages, config, limit=3)
    assert set(files) == {"sitemap.xml", "sitemap-0.xml", "sitemap-1.xml", "sitemap-2.xml",
                          "sitemap-3.xml"}
    assert b"<sitemapindex" in files["sitemap.xml"] and b"sitemap-3.xml" in files["sitemap.xml"]
    assert b"/a0/" in files["sitemap-1.xml"] and b"/a6/" in files["sitemap-3.xml"]
    assert sitemap_xml(articles, pages, config)["sitemap.xml"].count(b"<url>") == 7 + 1


def test_stat_in_two_processes_equals_stat_in_one(tmp_path, monkeypatch):
    from publisher.content import walk as scan_module

    for i in range(60):
        (tmp_path / f"f{i:02}.md").write_text("x" * i, encoding="utf-8")
    serial = scan_module.scan(tmp_path)
    monkeypatch.setattr(scan_module, "PARALLEL_STAT", 10)
    assert scan_module.scan(tmp_path) == serial
    assert serial[0][5] == ("f05.md", (5, (tmp_path / "f05.md").stat().st_mtime_ns))
    assert scan_module.signature(serial[0]) != scan_module.signature(serial[0][1:])
    first = scan_module.scan_folder(tmp_path)[2]
    assert scan_module.scan_folder(tmp_path)[2] == first
    (tmp_path / "f07.md").write_text("edited in place", encoding="utf-8")
    assert scan_module.scan_folder(tmp_path)[2] != first


def test_a_large_site_checks_its_front_files_only_when_nothing_changed(tmp_path, load,
                                                                     monkeypatch):
    from publisher.site import cache

    monkeypatch.setattr(cache, "VERIFY_EVERY_OUTPUT", 0)  # every site is "large"
    content = tmp_path / "content"
    content.mkdir()
    for i in range(3):
        _article(content, i)
    config = load(write_config(tmp_path, content=content))
    build(config, NOW)
    out = config.path("output")
    (out / "2024/01/papier-1/index.html").unlink()  # deep: trusted until something changes
    assert build(config, NOW).up_to_date
    (out / "index.html").unlink()  # the front page is looked at
    report = build(config, NOW)
    assert not report.up_to_date and report.written == 1 and (out / "index.html").exists()
    build(config, NOW, use_cache=False)  # build --full: everything is looked at again
    assert (out / "2024/01/papier-1/index.html").exists()
