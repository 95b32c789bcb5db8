"""The newsletter archive as `publisher build` publishes it: in the site's frame, each issue
with its lead title and articles, and only the issues that reached someone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from click.testing import CliRunner
from delivery_fixtures import write_articles

from publisher.cli import main
from publisher.store import open_store

NOW = datetime.now(timezone.utc)


def run(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_the_archive_lists_the_issues_that_reached_someone_in_the_site_frame(project):
    content = project.root / "content"
    project.write(f"paths:\n  content: {content}\n  output: {project.root / 'public'}\n")
    write_articles(content, NOW - timedelta(days=1), count=1)
    run("newsletter", "send")  # nobody subscribed yet: issue 1 goes to nobody
    store = open_store(project.config())
    assert store.last_issue().number == 1
    store.add_subscriber("zoe@example.org", "Zoë", [], "active", NOW)
    store.close()
    (content / "later.md").write_text(
        f"---\ntitle: \"Le plan vélo adopté\"\ndate: {NOW.replace(microsecond=0).isoformat()}\n"
        "category: Tech\nsummary: \"Trois heures de débat.\"\n---\n\nCorps.\n", encoding="utf-8")
    write_articles(content, NOW, count=3)  # and two more, newer than issue 1's
    run("newsletter", "send")
    run("build")

    out = project.root / "public"
    index = (out / "newsletter" / "index.html").read_text(encoding="utf-8")
    assert 'class="masthead"' in index and 'class="colophon"' in index  # the site's frame
    assert "static/style.css" in index and "<nav" in index
    assert "n° 2" in index and "n° 1" not in index  # issue 1 reached nobody
    assert (out / "newsletter" / "2" / "index.html").is_file()
    assert not (out / "newsletter" / "1").exists()
    lead = index.index("<h2><a href=\"https://news.example.org/newsletter/2/\">")
    assert index.index("Le plan vélo adopté", lead) < index.index("Article 0 é", lead)
    assert "Trois heures de débat." in index  # the lead's summary
    feed = (out / "feeds" / "newsletter.atom.xml").read_text(encoding="utf-8")
    assert "/newsletter/2" in feed and "/newsletter/1<" not in feed


def test_the_archive_follows_an_edited_title_and_is_kept_between_builds(project):
    from publisher.newsletter.archive import archive_outputs

    content = project.root / "content"
    project.write(f"paths:\n  content: {content}\n")
    write_articles(content, NOW, count=2)
    store = open_store(project.config())
    store.add_subscriber("zoe@example.org", "", [], "active", NOW)
    store.close()
    run("newsletter", "send")
    config = project.config()
    first = archive_outputs(config)
    assert "Article 0 é" in first["newsletter/index.html"].decode()
    assert (project.root / "var" / "cache" / "newsletter-archive.pickle").is_file()
    assert archive_outputs(config) == first  # from the cache
    source = content / "article-0.md"
    source.write_text(source.read_text(encoding="utf-8").replace("Article 0 é", "Titre corrigé"),
                      encoding="utf-8")
    again = archive_outputs(config)["newsletter/index.html"].decode()
    assert "Titre corrigé" in again and "Article 0 é" not in again
