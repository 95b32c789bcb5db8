"""The build writes only what changed, removes what disappeared, publishes on time."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from publisher.site.build import build

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def snapshot(out):
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def test_changing_one_article_rewrites_only_what_shows_it(site, load):
    cfg, content = site
    config = load(cfg)
    build(config, NOW)
    out = config.path("output")
    before = snapshot(out)
    source = content / "2024-11-18-pelican-style.md"
    source.write_text(source.read_text(encoding="utf-8").replace("200 années-lumière", "210 années-lumière"),
                      encoding="utf-8")
    report = build(config, NOW)
    after = snapshot(out)
    changed = {p for p in after if after[p] != before.get(p)}
    assert "2024/11/james-webb-exoplanete-nuages-de-sable/index.html" in changed
    assert "feeds/all.atom.xml" in changed and "feeds/science.atom.xml" in changed
    assert "feeds/economie.atom.xml" not in changed and "category/economie/index.html" not in changed
    assert not any(p.startswith("2024/11/budget") for p in changed)
    assert report.written == len(changed)


def test_removed_article_takes_its_page_with_it(site, load):
    cfg, content = site
    config = load(cfg)
    build(config, NOW)
    out = config.path("output")
    assert (out / "category" / "science" / "index.html").exists()
    (content / "2024-11-18-pelican-style.md").unlink()
    report = build(config, NOW)
    assert report.removed >= 4
    assert not (out / "2024/11/james-webb-exoplanete-nuages-de-sable").exists()
    assert not (out / "category" / "science").exists()
    assert not (out / "feeds" / "science.atom.xml").exists()


def test_future_article_goes_live_at_its_own_time(site, load):
    cfg, content = site
    config = load(cfg)
    (content / "soon.md").write_text("---\ntitle: Bientôt\ndate: 2026-01-01T00:00:30+00:00\n"
                                     "category: Nouvelles\n---\nTexte.\n", encoding="utf-8")
    report = build(config, NOW)
    assert report.next_publication == datetime(2026, 1, 1, 0, 0, 30, tzinfo=timezone.utc)
    assert "Bientôt" not in (config.path("output") / "feeds/all.atom.xml").read_text(encoding="utf-8")
    assert build(config, NOW + timedelta(seconds=10)).up_to_date
    report = build(config, NOW + timedelta(seconds=31))
    assert not report.up_to_date
    assert "Bientôt" in (config.path("output") / "feeds/all.atom.xml").read_text(encoding="utf-8")


def test_deleted_output_is_rewritten(site, load):
    config = load(site[0])
    build(config, NOW)
    target = config.path("output") / "feeds" / "all.rss.xml"
    target.unlink()
    report = build(config, NOW)
    assert target.exists() and report.written == 1


def test_duplicate_slugs_get_a_suffix_and_a_warning(site, load):
    cfg, content = site
    for name in ("x1.md", "x2.md"):
        (content / name).write_text("---\ntitle: Même titre\ndate: 2024-05-05\n---\nTexte.\n",
                                    encoding="utf-8")
    config = load(cfg)
    report = build(config, NOW)
    assert any("already used" in w and w.startswith("x2.md:1:") for w in report.warnings)
    out = config.path("output")
    assert (out / "2024/05/meme-titre/index.html").exists()
    second = (out / "2024/05/meme-titre-2/index.html").read_text(encoding="utf-8")
    assert 'href="http://127.0.0.1:8000/2024/05/meme-titre-2/"' in second  # its own address


def test_parallel_build_matches_serial_build(tmp_path, load):
    from conftest import write_config

    content = tmp_path / "content"
    content.mkdir()
    for i in range(450):
        (content / f"p{i:03}.md").write_text(
            f"---\ntitle: Papier {i}\ndate: 2023-{i % 12 + 1:02}-{i % 28 + 1:02}\n"
            f"category: C{i % 3}\n---\nCorps {i}.\n", encoding="utf-8")
    (content / "empty.md").write_text("", encoding="utf-8")  # errors cross the process boundary
    # A second "Papier 7" of the same day: dedupe_paths moves p007.md (sorted after it), a
    # thin Article whose record still has the first address (workers.JobFile carries the new).
    (content / "p007-bis.md").write_text(
        "---\ntitle: Papier 7\ndate: 2023-08-08\ncategory: C1\n---\nAutre corps.\n",
        encoding="utf-8")
    # An article with a {filename} link is held whole even with a cache: the job file
    # carries it itself.
    (content / "p900.md").write_text(
        "---\ntitle: Lien\ndate: 2023-09-09\ncategory: C0\n---\n"
        "Voir [le papier 3]({filename}p003.md).\n", encoding="utf-8")
    serial_dir, parallel_dir = tmp_path / "s", tmp_path / "p"
    serial_dir.mkdir(), parallel_dir.mkdir()
    serial = load(write_config(serial_dir, "build:\n  workers: 1\n", content=content))
    parallel = load(write_config(parallel_dir, "build:\n  workers: 2\n", content=content))
    descriptors = len(os.listdir("/proc/self/fd"))
    reports = build(serial, NOW), build(parallel, NOW)
    assert len(os.listdir("/proc/self/fd")) == descriptors  # the job file is closed too
    assert sorted(os.listdir(parallel.path("var") / "cache")) == sorted(
        os.listdir(serial.path("var") / "cache"))  # and leaves nothing behind
    assert [r.warnings[0] for r in reports] == ["empty.md:1: the file is empty"] * 2
    assert all(len(r.warnings) == 2 and "papier-7-2" in r.warnings[1] for r in reports)
    a, b = serial.path("output"), parallel.path("output")
    linked = (b / "2023/09/lien/index.html").read_text(encoding="utf-8")
    assert 'href="http://127.0.0.1:8000/2023/04/papier-3/"' in linked
    moved = (b / "2023/08/papier-7-2/index.html").read_text(encoding="utf-8")
    assert "Corps 7." in moved and 'href="http://127.0.0.1:8000/2023/08/papier-7-2/"' in moved
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert os.path.exists(b / "feeds/archive/all-22.atom.xml")
    # Both held their articles thin and read bodies back from the cache; without a cache
    # (build --full still writes one; `build.cache: false` does not) the bytes are the same.
    nocache_dir = tmp_path / "n"
    nocache_dir.mkdir()
    nocache = load(write_config(nocache_dir, "build:\n  workers: 2\n  cache: false\n",
                                content=content))
    build(nocache, NOW)
    c = nocache.path("output")
    assert all((a / f).read_bytes() == (c / f).read_bytes() for f in files)
    assert not (nocache.path("var") / "cache" / "articles.pickle").exists()


def test_builds_in_one_process_leave_no_file_open(site, load):
    """`publisher run` builds again and again: the articles file read for bodies is closed."""
    config_path, content = site
    config = load(config_path)
    build(config, NOW)
    before = len(os.listdir("/proc/self/fd"))
    for n in range(3):
        (content / f"new{n}.md").write_text(
            f"---\ntitle: Nouveau {n}\ndate: 2025-06-0{n + 1}\ncategory: Monde\n---\nTexte.\n",
            encoding="utf-8")
        (content / f"new{n - 1}.md").unlink(missing_ok=True)  # a removal: a full build
        assert not build(config, NOW).touched_up
    assert len(os.listdir("/proc/self/fd")) == before


def test_cached_masthead_follows_a_new_category_and_marks_the_current_one(site, load):
    cfg, content = site
    config = load(cfg)
    build(config, NOW)
    out = config.path("output")
    science = (out / "category" / "science" / "index.html").read_text(encoding="utf-8")
    assert 'href="http://127.0.0.1:8000/category/science/" aria-current="page"' in science
    assert 'aria-current="page">Économie' not in science
    (content / "sport.md").write_text("---\ntitle: Le match\ndate: 2024-11-20\ncategory: Sport\n"
                                      "---\nTexte.\n", encoding="utf-8")
    build(config, NOW)  # same process: the partials of the first build must not be reused
    for page in ("index.html", "category/science/index.html", "2024/11/le-match/index.html"):
        html = (out / page).read_text(encoding="utf-8")
        assert 'href="http://127.0.0.1:8000/category/sport/"' in html, page
    article = (out / "2024/11/le-match/index.html").read_text(encoding="utf-8")
    assert 'href="http://127.0.0.1:8000/category/sport/" class="is-current"' in article
    assert "feeds/sport.atom.xml" in article  # the colophon lists the article's own category feed


def test_scan_skips_hidden_files_and_a_missing_folder(tmp_path):
    from publisher.content import scan

    (tmp_path / "a" / "_drafts").mkdir(parents=True)
    (tmp_path / "a" / "_drafts" / "x.md").write_text("x")
    (tmp_path / "a" / "b.md").write_text("x")
    (tmp_path / ".hidden.md").write_text("x")
    (tmp_path / "img.png").write_bytes(b"\x89PNG")
    (tmp_path / "c.md~").write_text("x")
    articles, assets = scan(tmp_path)
    assert [rel for rel, _ in articles] == ["a/b.md"]
    assert [rel for rel, _ in assets] == ["img.png"]
    assert scan(tmp_path / "nowhere") == ([], [])


def test_an_edited_title_reaches_every_feed_in_the_same_process(site, load):
    """Atom and RSS share feedgen entries within a build, never across builds: with one
    article, every feed document of both builds holds the same entry id."""
    cfg, content = site
    for other in content.iterdir():
        if other.name != "2024-11-18-pelican-style.md" and other.is_file():
            other.unlink()
    config = load(cfg)
    build(config, NOW)
    out = config.path("output")
    source = content / "2024-11-18-pelican-style.md"
    text = source.read_text(encoding="utf-8")
    title = next(line for line in text.splitlines() if line.lower().startswith("title:"))
    source.write_text(text.replace(title, "Title: Un titre tout neuf"), encoding="utf-8")
    build(config, NOW)
    for feed in ("feeds/all.atom.xml", "feeds/all.rss.xml", "feeds/science.atom.xml",
                 "feeds/science.rss.xml"):
        assert "Un titre tout neuf" in (out / feed).read_text(encoding="utf-8"), feed


def test_article_records_are_appended_then_compacted(site, load):
    """A small rebuild appends the changed article's record to the cache file; once most of
    the file is superseded records, the next rebuild writes it anew."""
    cfg, content = site
    config = load(cfg)
    build(config, NOW)
    records = config.path("var") / "cache" / "articles.pickle"
    size = records.stat().st_size
    source = content / "2024-11-18-pelican-style.md"
    sizes = []
    for n in range(1, 7):
        source.write_text(source.read_text(encoding="utf-8").replace(
            "années-lumière", f"années-lumière{' (bis)' if n == 1 else ''}", 1), encoding="utf-8")
        source.write_text(source.read_text(encoding="utf-8") + f"\nAjout {n}.\n", encoding="utf-8")
        build(config, NOW)
        sizes.append(records.stat().st_size)
        page = (config.path("output") / "2024/11/james-webb-exoplanete-nuages-de-sable/index.html")
        assert f"Ajout {n}." in page.read_text(encoding="utf-8")
    assert size < sizes[0] < sizes[1]  # appended, twice
    assert any(later < earlier for earlier, later in zip(sizes, sizes[1:]))  # then compacted
    from publisher.site.cache import load_records

    kept = load_records(records)
    assert len(kept.found) == len(list(content.glob("*.md"))) + len(list(content.glob("*.txt")))
