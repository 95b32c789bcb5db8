"""The next newsletter issue: select its articles, then render subject, MJML -> HTML and text.

Pure: `now` and the config are arguments; nothing here reads the clock, the store or the network.

    plan = plan_issue(loaded.published(now), since, number, now, config)  # None: nothing new
    rendered = render_issue(plan, config)   # one Jinja2 render + one MJML compile
    rendered.issue()                        # models.Issue: the public version, to archive

`rendered.html` and `rendered.text` hold placeholder tokens (`rendered.tokens`) where each
recipient's name, greeting, unsubscribe and preferences URLs go; `publisher.newsletter.personalise`
splices the real values into a MIME message without compiling again. For subscribers who
follow only some categories, `plan.for_categories(names)` narrows the plan (one render per
distinct audience).

Template variables (newsletter.mjml.j2 and newsletter.txt.j2):
  site       title, url, description, logo (absolute URL or None), postal_address, lang
  issue      number, date, date_text, count, subject, preheader, web_url, archive_url,
             articles (newest first), groups (list of (category, articles))
  article    title, url, date, date_text, summary, html (sanitised, links absolute, headings
             sized below the title when content is full), text (full text or summary, for the
             text part), image (src, alt, width, height or None; or None), lead (the first),
             category, categories, author, reading_minutes, full
  theme      accent (newsletter.accent or theme.accent), accent_dark, font_sans, font_serif;
             `accent` is also a variable of its own
  recipient  name, greeting, unsubscribe_url, preferences_url: opaque tokens, print them as
             they are (a filter applied to one would lose the personal value)
  web        true in the archived "view in browser" version, false in the email
  text       newsletter's intro, reason (both rendered from config), subscribe_url
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Iterable
from urllib.parse import urljoin

from babel.dates import format_date
from markupsafe import Markup

from publisher.config import Config
from publisher.content.article import make_slug
from publisher.errors import TemplateError
from publisher.models import Article, Issue
from publisher.newsletter.cards import card_image, mail_html, plain_text
from publisher.newsletter.templates import compile_mjml, render_file, render_string, template_env

TOKEN_KEYS = ("NAME", "GREETING", "UNSUBSCRIBE", "PREFERENCES")


# ---------------------------------------------------------------------------- selection


def next_issue_articles(
    articles: Iterable[Article],
    since: datetime | None,
    now: datetime,
    config: Config,
    categories: Iterable[str] | None = None,
    sent: frozenset[str] = frozenset(),
) -> list[Article]:
    """Articles published by `now` and in no earlier issue, newest first, at most
    newsletter.max_articles.

    `since` is when the previous issue was composed; None (the first issue) means the last
    newsletter.first_window_days. An article dated before `since` but added after it (written
    on Monday at 9 with Monday's date, when the digest went at 8) still goes out, as long as
    it is within the first window and its id is not in `sent`, the ids earlier issues carried.
    `categories` (names or slugs) keeps the articles in any of them; None or empty keeps all.
    """
    window = now - timedelta(days=config.newsletter.first_window_days)
    start = window if since is None else min(since, window)
    wanted = {make_slug(c) for c in categories or ()}

    def new(a: Article) -> bool:
        if sent:  # the record of earlier issues says what went out
            return a.id not in sent
        return since is None or a.date > since  # no record: the date decides

    chosen = [
        a
        for a in articles
        if a.is_published(now)
        and a.date > start
        and new(a)
        and (not wanted or any(make_slug(c) in wanted for c in a.categories))
    ]
    chosen.sort(key=lambda a: (a.date, a.source), reverse=True)
    return chosen[: config.newsletter.max_articles]


@dataclass(frozen=True)
class IssuePlan:
    """What the next issue holds; `audience` is empty for everyone."""

    number: int
    now: datetime
    since: datetime
    articles: tuple[Article, ...]  # newest first
    audience: frozenset[str] = frozenset()
    rhythm: str = ""  # the rhythm it goes to ("": the one digest of a config without rhythms)
    slot: str = ""  # with a rhythm, what makes its period unique (default: `now`)

    @property
    def period(self) -> str:
        if self.rhythm:  # one issue per rhythm and time (an article, for an on-publish one)
            return f"{self.rhythm}:{self.slot or self.now.isoformat()}"
        return f"{self.since.isoformat()}/{self.now.isoformat()}"

    @property
    def web_path(self) -> str:
        """Its page in the archive, under site.url: numbers are per rhythm."""
        return f"newsletter/{self.rhythm}/{self.number}/" if self.rhythm else \
            f"newsletter/{self.number}/"

    def for_articles(self, ids: Iterable[str]) -> IssuePlan | None:
        """The same issue holding only the articles `ids` (a subscriber's share of it)."""
        wanted = set(ids)
        kept = tuple(a for a in self.articles if a.id in wanted)
        return replace(self, articles=kept, audience=frozenset(wanted)) if kept else None

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for a in self.articles for c in a.categories))

    def for_categories(self, categories: Iterable[str] | None) -> IssuePlan | None:
        """The same issue for someone who follows only `categories` (empty: all); None when
        nothing in it is for them."""
        wanted = {make_slug(c) for c in categories or ()}
        if not wanted:
            return self
        kept = tuple(a for a in self.articles if any(make_slug(c) in wanted for c in a.categories))
        return replace(self, articles=kept, audience=frozenset(wanted)) if kept else None


def plan_issue(
    articles: Iterable[Article], since: datetime | None, number: int, now: datetime, config: Config,
    sent: frozenset[str] = frozenset(),
) -> IssuePlan | None:
    """The next issue, or None when nothing new was published (see next_issue_articles)."""
    chosen = next_issue_articles(articles, since, now, config, sent=sent)
    if not chosen:
        return None
    start = since if since is not None else now - timedelta(days=config.newsletter.first_window_days)
    return IssuePlan(number=number, now=now, since=start, articles=tuple(chosen))


# ---------------------------------------------------------------------------- rendering


def issue_config(config: Config, rhythm: str) -> Config:
    """The config an issue of `rhythm` renders with: an on-publish rhythm's mail (one article)
    comes from newsletter.article_mjml_template and article_text_template."""
    from publisher.config.sections import ON_PUBLISH

    nl = config.newsletter
    if nl.rhythms.get(rhythm) != ON_PUBLISH:
        return config
    swapped = nl.model_copy(update={"mjml_template": nl.article_mjml_template,
                                    "text_template": nl.article_text_template})
    return config.model_copy(update={"newsletter": swapped})


@dataclass(frozen=True)
class RenderedIssue:
    """One issue rendered for one audience, with tokens in place of personal values."""

    plan: IssuePlan
    subject: str
    preheader: str
    html: str  # compiled from MJML, personal values as tokens
    text: str
    tokens: dict[str, str]  # TOKEN_KEYS -> the token standing for it in html and text
    config: Config
    mjml: str = ""  # the MJML source html was compiled from

    @cached_property
    def public(self) -> tuple[str, str]:
        """(html, text) of the "view in browser" version: a second compile, no personal data."""
        return _render_bodies(self.plan, self.config, self.subject, self.preheader, web=True)[1:]

    def issue(self) -> Issue:
        html, text = self.public
        return Issue(
            number=self.plan.number,
            created=self.plan.now,
            subject=self.subject,
            article_ids=tuple(a.id for a in self.plan.articles),
            html=html,
            text=text,
            categories=self.plan.categories,
            period=self.plan.period,
            rhythm=self.plan.rhythm,
        )

    def personal(self, name: str, unsubscribe_url: str, preferences_url: str) -> tuple[str, str]:
        """(html, text) for one person by plain substitution: for tests and previews; the
        MIME fast path is `publisher.newsletter.personalise`."""
        from html import escape

        values = personal_values(self.config, name, unsubscribe_url, preferences_url)
        html, text = self.html, self.text
        for key, token in self.tokens.items():
            html = html.replace(token, escape(values[key]))
            text = text.replace(token, values[key])
        return html, text


def personal_values(config: Config, name: str, unsubscribe_url: str, preferences_url: str) -> dict[str, str]:
    """What replaces each token for one person (not escaped yet)."""
    name = " ".join(name.split())  # no CR, LF or tabs from a name, anywhere
    return {
        "NAME": name,
        "GREETING": greeting(config, name),
        "UNSUBSCRIBE": unsubscribe_url,
        "PREFERENCES": preferences_url,
    }


def greeting(config: Config, name: str) -> str:
    nl = config.newsletter
    lang = nl.lang or config.site.lang
    if name:
        return render_string(nl.greeting, "newsletter.greeting", {"name": name}, lang)
    return render_string(nl.greeting_anonymous, "newsletter.greeting_anonymous", {}, lang)


def render_issue(plan: IssuePlan, config: Config) -> RenderedIssue:
    """Subject, preheader, HTML and text of an issue: one Jinja2 render, one MJML compile."""
    base = _context(plan, config, "", "", web=False)
    lang = base["site"]["lang"]
    subject = " ".join(render_string(config.newsletter.subject, "newsletter.subject", base, lang).split())
    preheader = " ".join(
        render_string(config.newsletter.preheader, "newsletter.preheader", base, lang).split()
    )
    tokens = _tokens(plan)
    mjml, html, text = _render_bodies(plan, config, subject, preheader, web=False, tokens=tokens)
    if tokens["UNSUBSCRIBE"] not in html or tokens["UNSUBSCRIBE"] not in text:
        raise TemplateError(
            config.newsletter.mjml_template if tokens["UNSUBSCRIBE"] not in html else config.newsletter.text_template,
            None,
            "the template must print {{ recipient.unsubscribe_url }} as it is (every email needs an unsubscribe link)",
        )
    return RenderedIssue(plan, subject, preheader, html, text, tokens, config, mjml)


def _tokens(plan: IssuePlan) -> dict[str, str]:
    """Alphanumeric tokens (HTML, MJML, URLs and QP leave them intact), stable for a plan."""
    seed = f"{plan.rhythm}|" * bool(plan.rhythm) + f"{plan.number}|{plan.now.isoformat()}|" + "|".join(a.id + a.digest for a in plan.articles)
    nonce = hashlib.blake2b(seed.encode(), digest_size=8).hexdigest()
    return {key: f"PUBLISHER{nonce}{key}" for key in TOKEN_KEYS}


def _render_bodies(
    plan: IssuePlan,
    config: Config,
    subject: str,
    preheader: str,
    *,
    web: bool,
    tokens: dict[str, str] | None = None,
) -> tuple[str, str, str]:
    """(MJML source, HTML, text)."""
    if tokens is not None:
        recipient = {
            "name": tokens["NAME"],
            "greeting": tokens["GREETING"],
            "unsubscribe_url": tokens["UNSUBSCRIBE"],
            "preferences_url": tokens["PREFERENCES"],
        }
    else:
        recipient = {
            "name": "",
            "greeting": greeting(config, ""),
            "unsubscribe_url": config.site.url + "unsubscribe",
            "preferences_url": config.site.url + "preferences",
        }
    ctx = _context(plan, config, subject, preheader, web=web)
    ctx["recipient"] = recipient
    env = template_env(str(config.path("templates")), ctx["site"]["lang"])
    nl = config.newsletter
    mjml_source, mjml_file = render_file(env, nl.mjml_template, ctx)
    html = compile_mjml(mjml_source, mjml_file)
    text, _ = render_file(env, nl.text_template, ctx)
    return mjml_source, html, text


def _context(plan: IssuePlan, config: Config, subject: str, preheader: str, *, web: bool) -> dict[str, Any]:
    site = config.site
    lang = config.newsletter.lang or site.lang
    articles = [_article_view(a, config, lang, lead=i == 0) for i, a in enumerate(plan.articles)]
    groups: dict[str, list[dict[str, Any]]] = {}
    for view in articles:
        groups.setdefault(view["category"], []).append(view)
    issue_url = site.url + plan.web_path
    theme = {
        "accent": config.newsletter.accent or config.theme.accent,
        "accent_dark": config.theme.accent_dark,
        # single quotes, unescaped (the config allows no < > { } ; \ in a font stack): in
        # a style="" attribute an escaped quote costs 5 bytes (&#34;) each time
        "font_sans": Markup(config.theme.font_sans.replace('"', "'")),
        "font_serif": Markup(config.theme.font_serif.replace('"', "'")),
    }
    ctx: dict[str, Any] = {
        "site": {
            "title": site.title,
            "url": site.url,
            "description": site.description,
            "logo": urljoin(site.url, site.logo) if site.logo else None,
            "postal_address": site.postal_address,
            "lang": lang,
        },
        "issue": {
            "number": plan.number,
            "rhythm": plan.rhythm,
            "date": plan.now,
            "date_text": format_date(plan.now.astimezone(site.tz).date(), format="long", locale=lang),
            "count": len(articles),
            "articles": articles,
            "groups": list(groups.items()),
            "subject": subject,
            "preheader": preheader,
            "web_url": issue_url,
            "archive_url": f"{site.url}newsletter/",
        },
        "web": web,
        "subscribe_url": site.url + "subscribe",
        "theme": theme,
        "accent": theme["accent"],
    }
    ctx["intro"] = render_string(config.newsletter.intro, "newsletter.intro", ctx, lang)
    ctx["reason"] = render_string(config.newsletter.reason, "newsletter.reason", ctx, lang)
    return ctx


def _article_view(a: Article, config: Config, lang: str, lead: bool = False) -> dict[str, Any]:
    full = config.newsletter.content == "full"
    html = a.html  # sanitised at read time, like the feeds
    return {
        "title": a.title,
        "url": a.url,
        "date": a.date,
        "date_text": format_date(a.date.astimezone(config.site.tz).date(), format="long", locale=lang),
        "summary": a.summary,
        "html": mail_html(html) if full else Markup(html),
        "text": plain_text(html) if full else a.summary,  # what the text/plain part shows
        "image": card_image(a, config.site.url, body_shown=full),
        "lead": lead,
        "category": a.category,
        "categories": a.categories,
        "author": a.author,
        "reading_minutes": a.reading_minutes,
        "full": full,
    }
