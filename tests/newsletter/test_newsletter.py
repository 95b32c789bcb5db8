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


def test_french_dates_and_a_subject_that_leads_with_the_top_title(rendered):
    assert re.search(r"\b\d{1,2} (janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre) 2024\b", rendered.html)
    lead = rendered.plan.articles[0]
    assert rendered.subject == f"{lead.title} + {len(rendered.plan.articles) - 1} autres"
    assert rendered.preheader and lead.summary.startswith(rendered.preheader.rstrip("…"))


def test_the_subject_speaks_the_site_language(loaded):
    config = make_config(extra="newsletter: {lang: en}\n")
    plan = plan_issue(loaded.published(NOW), SINCE, 7, NOW, config)
    two = plan_issue(loaded.published(NOW)[:2], SINCE, 7, NOW, config)
    one = plan_issue(loaded.published(NOW)[:1], SINCE, 7, NOW, config)
    assert render_issue(plan, config).subject.endswith(f" + {len(plan.articles) - 1} more")
    assert render_issue(two, config).subject == f"{two.articles[0].title} + 1 more"
    assert render_issue(one, config).subject == one.articles[0].title
    html, text = render_issue(plan, config).personal("Ann", "https://e/u", "https://e/p")
    assert "Hello Ann," in html and "Unsubscribe" in html and "Se désabonner" not in html
    assert "Read more: " in text and "Lire" not in text


def test_the_accent_is_the_site_theme(loaded):
    """One setting, theme.accent, colours the site's CSS and the digest."""
    config = make_config(extra="theme: {accent: \"#0a7d3b\", accent_dark: \"#7be0a4\"}\n")
    plan = plan_issue(loaded.published(NOW), SINCE, 7, NOW, config)
    html = render_issue(plan, config).html
    assert "#0a7d3b" in html and "#7be0a4" in html  # light, and dark in prefers-color-scheme
    assert "#1d4ed8" not in html and "#b4231b" not in html
    from publisher.site.pages import Page, render_page

    page = render_page(Page(path="index.html", template="index.html", title="Le Fil"), config, [])
    assert b"--accent:#0a7d3b" in page and b"--accent:#7be0a4" in page


def test_an_article_image_appears_in_its_card(config, rendered):
    """The sample's Orsay article has an image in its body: the card shows it, absolute,
    with its alt text and a width no wider than the mail."""
    orsay = next(a for a in rendered.plan.articles if "Orsay" in a.title)
    tags = [t for t in re.findall(r"<img\b[^>]*>", rendered.html) if "orsay.svg" in t]
    assert len(tags) == 1
    tag = tags[0]
    assert 'src="https://example.org/images/orsay.svg"' in tag or 'src="https://example.org/blog/images/orsay.svg"' in tag
    assert 'alt="Le musée d&#39;Orsay vu depuis la Seine"' in tag or "alt=\"Le musée d'Orsay" in tag
    assert 'width="552"' in tag and "max-width:552px" in tag
    assert orsay.title in rendered.html


def test_a_front_matter_image_wins(config):
    from publisher.content import read_article

    article = read_article(
        "---\ntitle: Photo\ndate: 2024-11-24T10:00:00+01:00\nimage: /img/p.jpg\n"
        "image_alt: Une photo\n---\nTexte <img src=\"/other.png\" alt=\"x\">\n".encode(),
        "photo.md", config)
    plan = plan_issue([article], SINCE, 1, NOW, config)
    html = render_issue(plan, config).html
    assert 'src="https://example.org/img/p.jpg"' in html and 'alt="Une photo"' in html
    assert "other.png" not in html.split("nl-article", 1)[1].split("<h2", 1)[0]


def test_full_content_in_both_parts_with_headings_below_the_title(loaded):
    config = make_config(extra="newsletter: {content: full}\n")
    plan = plan_issue(loaded.published(NOW), SINCE, 7, NOW, config)
    rendered = render_issue(plan, config)
    _, text = rendered.personal("", "https://e/u", "https://e/p")
    assert "Un parcours chronologique" in text  # a heading inside the Orsay article
    assert "reconnaissance d’un mouvement" in text  # its body, not only the summary
    assert "<" not in text.replace("<https", "")
    heading = re.search(r"<h3 style=\"font-size:(\d+)px", rendered.html)
    assert heading and int(heading.group(1)) < 20  # the article titles are 20 px and more


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
    assert index.index("n° 8") < index.index("n° 7")  # newest first
    assert 'href="https://example.org/blog/newsletter/7/"' in index
    lead, *others = rendered.plan.articles
    assert lead.title.replace("'", "&#39;") in index and lead.summary.replace("'", "&#39;") in index
    for article in others:
        assert f'href="{article.url}"' in index
    assert 'class="masthead"' in index and 'class="colophon"' in index  # the site's frame
    assert "static/style.css" in index and "--accent:" in index
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


def test_a_bad_theme_is_one_line_naming_the_key():
    from publisher.config import parse_config
    from publisher.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_config("theme:\n  accent: red\n  font_sans: \"x;}\"\n", "config.yaml", ROOT, {})
    text = str(caught.value)
    assert "config.yaml:2: key 'theme.accent': must be a hex colour" in text
    assert "config.yaml:3: key 'theme.font_sans'" in text


def test_every_digest_string_has_a_french_translation():
    from publisher import i18n

    french = i18n.translations("fr")
    sources = [BUILTIN_TEMPLATES / n for n in ("newsletter.mjml.j2", "newsletter.txt.j2",
                                              "newsletter/index.html.j2")]
    found = {m for p in sources for m in re.findall(r'_\("([^"]+)"', p.read_text(encoding="utf-8"))}
    found |= {m for p in sources for m in re.findall(r'ngettext\("([^"]+)"', p.read_text(encoding="utf-8"))}
    assert len(found) > 15
    missing = [m for m in found if french.gettext(m) == m and french.ngettext(m, m, 2) == m]
    assert not missing
