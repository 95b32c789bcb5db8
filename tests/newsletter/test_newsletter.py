"""The digest: selection, rendering of the sample content, template errors, the archive."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from newsletter_fixtures import NOW, PARIS, ROOT, SINCE, make_config  # noqa: F401

from publisher.content import load_articles
from publisher.errors import TemplateError
from publisher.models import Issue
from publisher.newsletter.archive import render_archive
from publisher.newsletter.issue import next_issue_articles, plan_issue, render_issue
from publisher.site.theme import BUILTIN_TEMPLATES


@pytest.fixture(scope="module")
def config():
    return make_config()


@pytest.fixture(scope="module")
def loaded(config):
    return load_articles(config)


@pytest.fixture(scope="module")
def rendered(config, loaded):
    plan = plan_issue(loaded.published(NOW), SINCE, 7, NOW, config)
    assert plan is not None
    return render_issue(plan, config)


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.urls += [v for k, v in attrs if k in ("href", "src") and v is not None]


# -- selection


def test_selects_published_articles_since_the_previous_issue_newest_first(config, loaded):
    chosen = next_issue_articles(loaded.articles, SINCE, NOW, config)
    assert chosen, "the sample content has articles in 2024"
    assert all(not a.draft and SINCE < a.date <= NOW for a in chosen)
    assert [a.date for a in chosen] == sorted((a.date for a in chosen), reverse=True)
    assert not any(a.date > NOW for a in chosen)  # the 2027 article is scheduled, not sent


def test_first_issue_takes_the_configured_window(config, loaded):
    latest = max(a.date for a in loaded.published(NOW))
    now = latest + timedelta(days=2)
    chosen = next_issue_articles(loaded.articles, None, now, config)
    assert chosen and all(a.date > now - timedelta(days=7) for a in chosen)


def test_nothing_new_means_no_issue(config, loaded):
    assert plan_issue(loaded.published(NOW), NOW, 8, NOW, config) is None


def test_an_audience_sees_only_its_categories(config, loaded):
    plan = plan_issue(loaded.published(NOW), SINCE, 7, NOW, config)
    category = plan.articles[0].category
    narrowed = plan.for_categories([category.lower()])  # names or slugs
    assert narrowed and all(category in a.categories for a in narrowed.articles)
    assert plan.for_categories(["Nothing here"]) is None
    assert plan.for_categories([]) is plan


# -- rendering


def test_html_has_every_article_absolute_links_no_script_and_fits_gmail(rendered):
    html, _ = rendered.personal("Zoë", "https://example.org/blog/unsubscribe?token=a&b", "https://example.org/blog/preferences?token=p")
    for article in rendered.plan.articles:
        assert article.url in html
        assert article.title in unescape(html)
    parser = Links()
    parser.feed(html)
    assert "script" not in parser.tags and "<script" not in html.lower()
    assert parser.urls and all(u.startswith(("https://", "mailto:")) for u in parser.urls)
    assert "https://example.org/blog/unsubscribe?token=a&amp;b" in html
    assert "https://example.org/blog/newsletter/7/" in html  # view in browser
    assert "Bonjour Zoë," in html
    assert "75001 Paris" in html
    assert "googleapis" not in html  # no external assets
    assert len(html.encode()) < 102 * 1024


def test_french_dates_and_subject(rendered):
    assert "25 novembre 2024" in rendered.subject
    assert re.search(r"\b\d{1,2} (janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre) 2024\b", rendered.html)
    assert rendered.subject.startswith("Le Fil n°7")


def test_text_part(rendered):
    _, text = rendered.personal("", "https://example.org/blog/unsubscribe?token=a", "https://example.org/blog/preferences?token=p")
    assert text.startswith("Le Fil")
    assert "Bonjour," in text
    for article in rendered.plan.articles:
        assert article.url in text and article.title.split()[0] in text
    assert "Se désabonner : https://example.org/blog/unsubscribe?token=a" in text
    assert "<" not in text.replace("<https", "")  # no markup
    assert max(len(line) for line in text.splitlines()) < 200


def test_fifty_articles_stay_under_gmail_clipping(config, loaded):
    base = loaded.published(NOW)[0]
    from dataclasses import replace

    many = [
        replace(base, id=f"{base.id}-{i}", url=f"{base.url}{i}/", title=f"{base.title} {i}",
                date=NOW - timedelta(hours=i + 1), categories=(f"Rubrique {i % 6}",),
                summary=" ".join(["mot"] * 50))
        for i in range(50)
    ]
    plan = plan_issue(many, SINCE, 1, NOW, config)
    html, _ = render_issue(plan, config).personal("Zoë", "https://e/u", "https://e/p")
    assert len(plan.articles) == 50
    assert len(html.encode()) < 102 * 1024


def test_public_version_has_no_personal_links(rendered):
    issue = rendered.issue()
    assert issue.number == 7 and issue.subject == rendered.subject
    assert issue.article_ids == tuple(a.id for a in rendered.plan.articles)
    assert "token" not in issue.html and "PUBLISHER" not in issue.html + issue.text
    assert "Voir cette lettre dans le navigateur" not in issue.html


# -- template errors


def _templates_with(tmp_path: Path, name: str, source: str) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(source, encoding="utf-8")
    return folder


def test_unknown_variable_names_template_and_line(tmp_path, loaded):
    src = (BUILTIN_TEMPLATES / "newsletter.txt.j2").read_text(encoding="utf-8")
    lines = src.splitlines()
    lines.insert(3, "{{ issue.no_such_thing }}")
    config = make_config(_templates_with(tmp_path, "newsletter.txt.j2", "\n".join(lines)))
    plan = plan_issue(loaded.published(NOW), SINCE, 1, NOW, config)
    with pytest.raises(TemplateError) as err:
        render_issue(plan, config)
    assert err.value.template.endswith("newsletter.txt.j2") and err.value.line == 4
    assert "no_such_thing" in str(err.value)


def test_mjml_that_does_not_compile_names_template_and_line(tmp_path, loaded):
    src = (BUILTIN_TEMPLATES / "newsletter.mjml.j2").read_text(encoding="utf-8")
    src = src.replace("</mj-head>", "<mj-bogus-head-element />\n  </mj-head>", 1)
    config = make_config(_templates_with(tmp_path, "newsletter.mjml.j2", src))
    plan = plan_issue(loaded.published(NOW), SINCE, 1, NOW, config)
    with pytest.raises(TemplateError) as err:
        render_issue(plan, config)
    expected = next(i for i, line in enumerate(src.splitlines(), 1) if "mj-bogus" in line)
    assert err.value.line == expected and "MJML does not compile" in str(err.value)


def test_unclosed_mjml_tag_is_located(tmp_path, loaded):
    src = (BUILTIN_TEMPLATES / "newsletter.mjml.j2").read_text(encoding="utf-8")
    src = src.replace("<mj-spacer height=\"8px\" />", "<mj-column>", 1)
    config = make_config(_templates_with(tmp_path, "newsletter.mjml.j2", src))
    plan = plan_issue(loaded.published(NOW), SINCE, 1, NOW, config)
    with pytest.raises(TemplateError) as err:
        render_issue(plan, config)
    assert "newsletter.mjml.j2" in str(err.value) and err.value.line is not None


def test_bad_subject_template_names_the_config_key(loaded):
    config = make_config(extra='newsletter:\n  subject: "{{ issue.nope }}"\n')
    plan = plan_issue(loaded.published(NOW), SINCE, 1, NOW, config)
    with pytest.raises(TemplateError, match="newsletter.subject.*nope"):
        render_issue(plan, config)


def test_template_without_unsubscribe_link_is_refused(tmp_path, loaded):
    src = (BUILTIN_TEMPLATES / "newsletter.txt.j2").read_text(encoding="utf-8")
    src = src.replace("{{ recipient.unsubscribe_url }}", "(lien)")
    config = make_config(_templates_with(tmp_path, "newsletter.txt.j2", src))
    plan = plan_issue(loaded.published(NOW), SINCE, 1, NOW, config)
    with pytest.raises(TemplateError, match="unsubscribe"):
        render_issue(plan, config)


# -- archive


def test_archive_pages_and_feed(config, rendered):
    import feedparser

    first = rendered.issue()
    second = Issue(number=8, created=NOW + timedelta(days=7), subject="Le Fil n°8 <& co>",
                   article_ids=first.article_ids[:1], html="<html>8</html>", text="8")
    by_id = {a.id: a for a in rendered.plan.articles}
    files = render_archive([first, second], config, by_id)
    assert set(files) == {"newsletter/index.html", "newsletter/7/index.html",
                          "newsletter/8/index.html", "feeds/newsletter.atom.xml"}
    index = files["newsletter/index.html"].decode()
    assert index.index("n°8") < index.index("n°7")  # newest first
    assert "Le Fil n°8 &lt;&amp; co&gt;" in index
    assert 'href="https://example.org/blog/newsletter/7/"' in index
    assert files["newsletter/7/index.html"] == first.html.encode()
    feed = feedparser.parse(files["feeds/newsletter.atom.xml"])
    assert not feed.bozo
    assert [e.link for e in feed.entries] == ["https://example.org/blog/newsletter/8/",
                                             "https://example.org/blog/newsletter/7/"]
    assert rendered.plan.articles[0].url in feed.entries[1].content[0].value
    assert feed.feed.updated_parsed[:3] == (NOW + timedelta(days=7)).utctimetuple()[:3]
    assert render_archive([first, second], config, by_id) == files  # deterministic
    assert render_archive([], config) == {}


def test_an_article_dated_before_the_last_issue_but_added_after_it_still_goes_out():
    from datetime import timedelta, timezone

    from publisher.config import Config
    from publisher.content import read_article
    from publisher.newsletter.issue import next_issue_articles

    config = Config()
    now = datetime(2024, 11, 4, 9, 30, tzinfo=timezone.utc)  # Monday 09:30, digest went at 08:00
    digest_time = now - timedelta(hours=1, minutes=30)
    def article(name, when):
        return read_article(f"---\ntitle: {name}\ndate: {when}\n---\nx\n".encode(), f"{name}.md", config)
    old = article("sent-already", "2024-11-03 10:00")
    late = article("written-late", "2024-11-04 08:00")  # dated 08:00 by default, written at 09:00
    chosen = next_issue_articles([old, late], digest_time, now, config, sent=frozenset({old.id}))
    assert [a.title for a in chosen] == ["written-late"]
    # without a record of what went out, the date alone decides (and misses it)
    assert next_issue_articles([old, late], now, now, config) == []
