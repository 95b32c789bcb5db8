"""Touch-ups (publisher/site/touchup.py): after an edit that moves nothing, only the outputs
showing the edited articles are rendered again, and the site is byte for byte the one a
clean build makes. Every other change falls back to a full build."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import write_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.config import load_config
from publisher.site.build import build, clean

NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
CATEGORIES = ("Sciences", "Culture", "Monde")
TAGS = ("espace", "climat", "livres", "océans")
AUTHORS = ("Léa Martin", "Paul Durand")


def article(n: int, *, title: str = "", body: str = "", date: datetime | None = None,
            category: str = "", extra: str = "") -> str:
    date = date or datetime(2025, 1, 1, 8, tzinfo=timezone.utc) + timedelta(days=3 * n)
    tags = ", ".join(TAGS[(n + k) % len(TAGS)] for k in range(1 + n % 2))
    return (f"---\ntitle: {title or f'Article numéro {n}'}\ndate: {date.isoformat()}\n"
            f"category: {category or CATEGORIES[n % 3]}\ntags: [{tags}]\n"
            f"author: {AUTHORS[n % 2]}\n{extra or f'slug: article-{n}'}\n---\n\n"
            f"{body or f'Le texte de l’article {n}, qui dit quelque chose.'}\n")


def fourteen(folder: Path, aliases: bool = True):
    """(config, content folder) of 14 articles, 2 to a listing page and to a feed document:
    every kind of output has archive pages, and an article shows in many of them."""
    content = folder / "content"
    content.mkdir()
    for n in range(14):
        extra = f"slug: article-{n}\naliases: [ancien/chemin/index.html]" if n == 5 else ""
        (content / f"a{n:02}.md").write_text(article(n, extra=extra if aliases else ""),
                                             encoding="utf-8")
    cfg = write_config(folder, "pages:\n  per_page: 2\nfeeds:\n  limit: 2\n")
    return load_config(cfg, env={}), content


@pytest.fixture
def small_site(tmp_path: Path):
    return fourteen(tmp_path)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def as_a_clean_build_makes_it(config, report=None) -> None:
    """The output folder holds exactly what a clean build writes; and `report`, a build's
    report, has the counts of the clean build's."""
    out = config.path("output")
    touched = snapshot(out)
    clean(config)
    again = build(config, NOW)
    assert touched == snapshot(out)
    if report is not None:
        assert (report.articles, report.drafts_or_scheduled, report.feeds, report.pages) == (
            again.articles, again.drafts_or_scheduled, again.feeds, again.pages)


def test_an_edited_title_and_text_touch_up_only_what_shows_the_article(small_site):
    config, content = small_site
    build(config, NOW)
    out = config.path("output")
    before = {p: (out / p).stat().st_mtime_ns for p in snapshot(out)}
    (content / "a05.md").write_text(article(5, title="Un titre corrigé", body="Corrigé.",
                                            extra="slug: article-5\naliases: "
                                                  "[ancien/chemin/index.html]"),
                                    encoding="utf-8")
    report = build(config, NOW)
    assert report.touched_up and not report.up_to_date
    assert report.articles == 14 and report.warnings == []
    changed = {p for p, mtime in before.items() if (out / p).stat().st_mtime_ns != mtime}
    assert report.written == len(changed)
    page = (out / "ancien/chemin/index.html").read_text(encoding="utf-8")
    assert "Un titre corrigé" in page  # the redirect page shows the new title
    shows = {p for p in changed if "Un titre corrigé" in (out / p).read_text(encoding="utf-8")}
    assert shows == changed  # nothing rewritten that does not show it
    assert {"index.html", "sitemap.xml", "feeds/all.atom.xml"}.isdisjoint(changed)  # too old
    kinds = {p.split("/")[0] for p in changed}
    assert {"feeds", "category", "tag", "author", "ancien", "2025"} <= kinds, changed
    assert build(config, NOW).up_to_date  # the touch-up's state is the next build's
    as_a_clean_build_makes_it(config)


def test_the_newest_article_edited_touches_up_the_front_page_and_main_feeds(small_site):
    config, content = small_site
    build(config, NOW)
    out = config.path("output")
    (content / "a13.md").write_text(article(13, title="Dernière minute"), encoding="utf-8")
    assert build(config, NOW).touched_up
    for path in ("index.html", "feeds/all.atom.xml", "feeds/all.rss.xml", "feeds/all.json"):
        assert "Dernière minute" in (out / path).read_text(encoding="utf-8"), path
    as_a_clean_build_makes_it(config)


@pytest.mark.parametrize("change", [
    lambda: article(4, date=datetime(2025, 3, 3, tzinfo=timezone.utc)),  # moves in the lists
    lambda: article(4).replace("slug: article-4\n", ""),  # the title's slug: it moves
    lambda: article(4, category="Monde"),  # changes lists
    lambda: article(4).replace("tags: [", "tags: [neuf, ", 1),  # in one more list
    lambda: article(4, extra="slug: autre-adresse"),  # moves its page
    lambda: article(4, title="Un autre titre", extra="status: draft"),  # leaves
    lambda: "---\ntitle: [cassé\n---\n",  # breaks: a warning, its pages go
])
def test_a_change_that_moves_anything_is_a_full_build(small_site, change):
    config, content = small_site
    build(config, NOW)
    (content / "a04.md").write_text(change(), encoding="utf-8")
    report = build(config, NOW)
    assert not report.touched_up and not report.up_to_date
    as_a_clean_build_makes_it(config)


def test_added_and_removed_sources_and_a_scheduled_article_are_full_builds(small_site):
    config, content = small_site
    (content / "later.md").write_text(article(20, date=NOW + timedelta(hours=1)), "utf-8")
    build(config, NOW)
    (content / "a03.md").write_text(article(3, title="Autre titre"), encoding="utf-8")
    assert not build(config, NOW + timedelta(hours=2)).touched_up  # later.md came due
    (content / "a03.md").unlink()
    (content / "new.md").write_text(article(30), encoding="utf-8")
    assert not build(config, NOW + timedelta(hours=2)).touched_up
    (content / "new.md").write_text(article(30, title="Encore"), encoding="utf-8")
    assert build(config, NOW + timedelta(hours=2)).touched_up


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(edits=st.lists(st.tuples(st.integers(0, 13), st.sampled_from(["title", "body", "date",
                                                                       "category", "both"])),
                      min_size=1, max_size=4))
def test_any_sequence_of_edits_leaves_the_site_a_clean_build_makes(tmp_path_factory, edits):
    """Touch-ups and full builds in any order: each build's output is a clean build's."""
    config, content = fourteen(tmp_path_factory.mktemp("site"), aliases=False)
    build(config, NOW)
    for step, (n, what) in enumerate(edits):
        kw = {"title": {"title": f"Titre {step}"}, "body": {"body": f"Texte {step}."},
              "date": {"date": datetime(2025, 2, 1 + step, tzinfo=timezone.utc)},
              "category": {"category": CATEGORIES[step % 3]},
              "both": {"title": f"Titre {step}", "body": f"Texte {step}."}}[what]
        (content / f"a{n:02}.md").write_text(article(n, **kw), encoding="utf-8")
        build(config, NOW)
    out = snapshot(config.path("output"))
    clean(config)
    build(config, NOW)
    assert out == snapshot(config.path("output"))


def test_an_article_put_back_as_it_was_after_a_touch_up_is_touched_up_again(small_site):
    """Restored from a backup with its old mtime: its stat is the full build's again, but
    the outputs show the edit, so it is a change all the same."""
    import os

    config, content = small_site
    source = content / "a07.md"
    original, st = source.read_bytes(), source.stat()
    build(config, NOW)
    source.write_text(article(7, title="Provisoire"), encoding="utf-8")
    assert build(config, NOW).touched_up
    source.write_bytes(original)
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert build(config, NOW).touched_up
    as_a_clean_build_makes_it(config)


def test_an_asset_or_a_folder_changed_beside_an_edit_is_a_full_build(small_site):
    config, content = small_site
    (content / "images").mkdir()
    (content / "images" / "photo.jpg").write_bytes(b"\xff\xd8 jpeg")
    (content / "dossier").mkdir()
    (content / "dossier" / "b.md").write_text(article(40), encoding="utf-8")
    build(config, NOW)
    (content / "dossier" / "b.md").write_text(article(40, body="Dans un dossier."), "utf-8")
    assert build(config, NOW).touched_up  # an article in a folder
    (content / "a02.md").write_text(article(2, title="Avec une image"), encoding="utf-8")
    (content / "images" / "photo.jpg").write_bytes(b"\xff\xd8 another jpeg")
    assert not build(config, NOW).touched_up
    assert (config.path("output") / "images" / "photo.jpg").read_bytes().endswith(b"another jpeg")
    as_a_clean_build_makes_it(config)


# Articles added: touched up where they belong, and the site is a clean build's.


def test_the_newest_article_added_touches_up_the_lists_it_joins(small_site):
    config, content = small_site
    build(config, NOW)
    out = config.path("output")
    before = {p: (out / p).stat().st_mtime_ns for p in snapshot(out)}
    (content / "z.md").write_text(article(40, title="Tout nouveau"), encoding="utf-8")
    report = build(config, NOW)
    assert report.touched_up and report.articles == 15
    changed = {p for p, mtime in before.items() if (out / p).stat().st_mtime_ns != mtime}
    made = set(snapshot(out)) - set(before)
    assert "2025/05/article-40/index.html" in made
    assert {"index.html", "sitemap.xml", "feeds/all.atom.xml"} <= changed
    assert "2025/01/article-0/index.html" not in changed  # an old article's page is not touched
    assert not any(p.startswith("feeds/archive/all-1.") for p in changed)  # a full archive
    assert build(config, NOW).up_to_date
    as_a_clean_build_makes_it(config, report)


def test_a_new_tag_and_author_make_their_lists_and_feeds(small_site):
    config, content = small_site
    build(config, NOW)
    (content / "z.md").write_text(
        article(41).replace("tags: [", "tags: [inédit, ").replace(
            f"author: {AUTHORS[1]}", "author: Zoé Nouvelle"), encoding="utf-8")
    report = build(config, NOW)
    assert report.touched_up
    out = config.path("output")
    assert (out / "tag/inedit/index.html").is_file()
    assert (out / "author/zoe-nouvelle/index.html").is_file()
    as_a_clean_build_makes_it(config, report)


def test_an_article_added_far_back_rewrites_the_pages_down_to_its_place(small_site):
    config, content = small_site
    build(config, NOW)
    (content / "old.md").write_text(article(42, date=datetime(2024, 12, 1, tzinfo=timezone.utc)),
                                    encoding="utf-8")
    report = build(config, NOW)
    assert report.touched_up  # the oldest: every archive page shifts
    as_a_clean_build_makes_it(config, report)


def test_a_scheduled_or_draft_article_added_is_only_recorded(small_site):
    config, content = small_site
    build(config, NOW)
    (content / "later.md").write_text(article(43, date=NOW + timedelta(days=1)), "utf-8")
    (content / "draft.md").write_text(article(44, extra="slug: brouillon\nstatus: draft"),
                                      "utf-8")
    report = build(config, NOW)
    assert report.touched_up and report.written == 0
    assert report.next_publication == NOW + timedelta(days=1)
    assert report.drafts_or_scheduled == 2
    assert build(config, NOW).up_to_date
    due = build(config, NOW + timedelta(days=2))  # its day came: a full build publishes it
    assert not due.touched_up and due.articles == 15


@pytest.mark.parametrize("text, touched_up", [
    (lambda: article(45, category="Inconnue"), False),  # a new category: every masthead
    (lambda: article(45, extra="slug: nouvelle\naliases: [vieux/index.html]"), False),
    (lambda: article(45, date=datetime(2025, 1, 10, 8, tzinfo=timezone.utc),
                     extra="slug: article-3"), False),  # article 3's path: '-2'
    (lambda: article(45, extra="slug: nouvelle\nstatus: hidden"), True),  # its own page only
])
def test_an_addition_that_changes_more_is_a_full_build(small_site, text, touched_up):
    config, content = small_site
    build(config, NOW)
    (content / "z.md").write_text(text(), encoding="utf-8")
    report = build(config, NOW)
    assert report.touched_up == touched_up
    as_a_clean_build_makes_it(config, report)


def test_without_the_remembered_urls_an_addition_is_a_full_build(small_site):
    config, content = small_site
    build(config, NOW)
    (config.path("var") / "site-urls.json").unlink()
    (content / "z.md").write_text(article(3, extra="slug: article-3"), encoding="utf-8")
    report = build(config, NOW)  # a second article-3: only the full build can tell
    assert not report.touched_up
    as_a_clean_build_makes_it(config, report)


def test_a_sitemap_in_several_files_gets_the_new_article_in_its_last(small_site, monkeypatch):
    from publisher.site import sitemap

    monkeypatch.setattr(sitemap, "SITEMAP_LIMIT", 5)
    config, content = small_site
    build(config, NOW)
    out = config.path("output")
    first = (out / "sitemap-1.xml").read_bytes()
    (content / "z.md").write_text(article(46), encoding="utf-8")
    assert build(config, NOW).touched_up
    assert (out / "sitemap-1.xml").read_bytes() == first  # the oldest articles
    assert b"article-46" in (out / "sitemap-3.xml").read_bytes()
    as_a_clean_build_makes_it(config)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(st.tuples(
    st.sampled_from(["add", "add-old", "add-tag", "add-later", "edit", "edit-date", "remove"]),
    st.integers(0, 13)), min_size=1, max_size=5))
def test_any_sequence_of_additions_removals_and_edits_leaves_a_clean_build(tmp_path_factory,
                                                                          steps):
    config, content = fourteen(tmp_path_factory.mktemp("site"), aliases=False)
    build(config, NOW)
    for step, (what, n) in enumerate(steps):
        new = 100 + step
        if what == "add":
            text = article(new)
        elif what == "add-old":
            text = article(new, date=datetime(2024, 1, 1 + n, tzinfo=timezone.utc))
        elif what == "add-tag":
            text = article(new).replace("tags: [", f"tags: [sujet-{n % 3}, ")
        elif what == "add-later":
            text = article(new, date=NOW + timedelta(days=1 + n))
        elif what == "remove":
            if (content / f"a{n:02}.md").exists():
                (content / f"a{n:02}.md").unlink()
                report = build(config, NOW)
                assert report.touched_up
            continue
        else:
            kw = ({"date": datetime(2025, 2, 1 + step, tzinfo=timezone.utc)}
                  if what == "edit-date" else {"title": f"Titre {step}"})
            (content / f"a{n:02}.md").write_text(article(n, **kw), encoding="utf-8")
            report = build(config, NOW)
            continue
        (content / f"n{step}.md").write_text(text, encoding="utf-8")
        report = build(config, NOW)
        assert report.touched_up
    as_a_clean_build_makes_it(config, report)


def test_several_articles_added_at_once_beside_an_edit(small_site):
    config, content = small_site
    build(config, NOW)
    (content / "x.md").write_text(article(50), encoding="utf-8")
    (content / "y.md").write_text(article(51, date=datetime(2024, 6, 1, tzinfo=timezone.utc))
                                  .replace("tags: [", "tags: [archives, "), encoding="utf-8")
    (content / "dossier").mkdir()  # a new folder: a full build's, then its additions are not
    (content / "dossier" / "z.md").write_text(article(52), encoding="utf-8")
    assert not build(config, NOW).touched_up
    (content / "dossier" / "w.md").write_text(article(53), encoding="utf-8")
    (content / "v.md").write_text(article(54, date=datetime(2025, 1, 20, tzinfo=timezone.utc)),
                                  encoding="utf-8")
    (content / "a06.md").write_text(article(6, title="Corrigé"), encoding="utf-8")
    report = build(config, NOW)
    assert report.touched_up and report.articles == 19
    as_a_clean_build_makes_it(config, report)


def test_a_new_podcast_episode_reaches_the_podcast_feed(tmp_path):
    from site_fixtures import PUBLICATION, site_config

    podcast = "feeds:\n  podcast:\n    image: /images/cover.png\n    category: Science\n"
    config = site_config(tmp_path, PUBLICATION, podcast)
    build(config, NOW)
    (config.path("content") / "episode-2.md").write_text(
        "---\ntitle: Épisode 2\ndate: 2025-04-01 09:00\ncategory: Podcast\nenclosure:\n"
        "  url: /media/episode-2.mp3\n  length: 2345678\n  type: audio/mpeg\n"
        'duration: "0:42:00"\n---\n\nLe deuxième épisode.\n', encoding="utf-8")
    report = build(config, NOW)
    assert report.touched_up
    assert b"episode-2.mp3" in (config.path("output") / "feeds/podcast.rss.xml").read_bytes()
    as_a_clean_build_makes_it(config, report)



# Articles removed: taken out where they were, and the site is a clean build's.


def test_the_newest_article_removed_takes_its_page_and_its_place(small_site):
    config, content = small_site
    build(config, NOW)
    out = config.path("output")
    (content / "a13.md").unlink()
    report = build(config, NOW)
    assert report.touched_up and report.articles == 13
    assert not (out / "2025/02/article-13").exists()
    assert b"article-13" not in (out / "index.html").read_bytes()
    assert build(config, NOW).up_to_date
    as_a_clean_build_makes_it(config, report)


def test_the_last_article_of_a_tag_removed_takes_the_tag_with_it(small_site):
    config, content = small_site
    (content / "z.md").write_text(article(60).replace("tags: [", "tags: [unique, "), "utf-8")
    build(config, NOW)
    out = config.path("output")
    assert (out / "tag/unique/index.html").is_file()
    (content / "z.md").unlink()
    report = build(config, NOW)
    assert report.touched_up
    assert not (out / "tag/unique").exists() and not (out / "feeds/unique.tag.atom.xml").exists()
    as_a_clean_build_makes_it(config, report)


def test_an_old_article_and_a_draft_removed(small_site):
    config, content = small_site
    (content / "draft.md").write_text(article(61, extra="slug: brouillon\nstatus: draft"),
                                      "utf-8")
    build(config, NOW)
    (content / "a01.md").unlink()
    (content / "draft.md").unlink()
    report = build(config, NOW)
    assert report.touched_up and report.drafts_or_scheduled == 0
    as_a_clean_build_makes_it(config, report)


@pytest.mark.parametrize("setup, name", [
    (lambda c: None, "a05.md"),  # its aliases: `_redirects` changes
    (lambda c: (c / "only.md").write_text(article(62, category="Seule"), "utf-8"), "only.md"),
    (lambda c: (c / "later.md").write_text(article(63, date=NOW + timedelta(days=2)), "utf-8"),
     "later.md"),  # the next scheduled one: when to build next must be found again
])
def test_a_removal_that_changes_more_is_a_full_build(small_site, setup, name):
    config, content = small_site
    setup(content)
    build(config, NOW)
    (content / name).unlink()
    report = build(config, NOW)
    assert not report.touched_up
    as_a_clean_build_makes_it(config, report)


def test_the_only_podcast_episode_removed_empties_the_podcast_feed(tmp_path):
    from site_fixtures import site_config

    episode = ("---\ntitle: Épisode\ndate: 2025-04-01 09:00\ncategory: Monde\nenclosure:\n"
               "  url: /media/e.mp3\n  length: 2345678\n  type: audio/mpeg\n---\n\nUn épisode.\n")
    files = {"ep.md": episode, "a.md": article(1, category="Monde"), "b.md": article(2)}
    config = site_config(tmp_path, files, "feeds:\n  podcast:\n    image: /c.png\n"
                                          "    category: Science\n")
    build(config, NOW)
    feed = config.path("output") / "feeds/podcast.rss.xml"
    assert b"e.mp3" in feed.read_bytes()
    (config.path("content") / "ep.md").unlink()
    report = build(config, NOW)
    assert report.touched_up and b"e.mp3" not in feed.read_bytes()
    as_a_clean_build_makes_it(config, report)
