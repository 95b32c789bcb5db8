"""The config sections of what the product reads and builds: `site:`, `paths:`, `feeds:`,
`pages:`, `build:`, `theme:`, `newsletter:`; each one a frozen pydantic model."""

from __future__ import annotations

import re
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

RHYTHM_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,19}")  # "newsletter:NAME" names its job
ON_PUBLISH = "on-publish"
EMAIL = re.compile(r"[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+")


def _language(v: str) -> str:
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(v.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"unknown language {v!r} (e.g. fr, en, de, pt-BR)") from None
    return v


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Site(_Section):
    url: str = "http://127.0.0.1:8000/"
    title: str = "Publisher"
    description: str = ""
    author: str = "Publisher"
    email: str = "newsletter@localhost"
    lang: str = "fr"
    timezone: str = "Europe/Paris"
    default_time: time = time(8, 0)  # publication time of an article dated without a time
    logo: str | None = None
    postal_address: str = ""

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v if v.endswith("/") else v + "/"

    @field_validator("lang")
    @classmethod
    def _lang(cls, v: str) -> str:
        return _language(v)

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        if not EMAIL.fullmatch(v):
            raise ValueError("must be a bare address like newsletter@example.org (the name "
                             "shown to readers is mail.from_name)")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Paths(_Section):
    content: str = "content"
    output: str = "public"
    templates: str = "templates"
    var: str = "var"
    article: str = "{year}/{month}/{slug}/"  # URL of an article page, relative to site.url
    category: str = "category/{slug}/"
    tag: str = "tag/{slug}/"  # Pelican: tag/{slug}.html
    author: str = "author/{slug}/"  # Pelican: author/{slug}.html
    page: str = "pages/{slug}/"  # static pages (content/pages/); Pelican: pages/{slug}.html

    @field_validator("article", "category", "tag", "author", "page")
    @classmethod
    def _url_pattern(cls, v: str, info) -> str:
        allowed = ARTICLE_FIELDS if info.field_name == "article" else {"slug"}
        try:
            v.format(**{name: "x" for name in allowed})
        except (KeyError, IndexError, ValueError) as exc:
            names = ", ".join("{" + n + "}" for n in sorted(allowed))
            raise ValueError(f"unknown or broken placeholder {exc} (use {names})") from None
        if "{slug}" not in v:
            raise ValueError("must contain {slug}, or every page would land on the same path")
        if v.startswith("/") or ".." in v.split("/") or "\\" in v:
            raise ValueError("must be a relative path inside the output folder, without '..'")
        return v


ARTICLE_FIELDS = {"year", "month", "day", "slug", "category"}


FeedContent = Literal["full", "summary"]


class Podcast(_Section):
    """The iTunes channel of `feeds/podcast.rss.xml`, written when this section is set: the
    articles with an `enclosure:`, with the tags Apple Podcasts and the W3C validator want."""

    title: str | None = None  # default: site.title
    image: str  # square artwork, 1400 to 3000 px, absolute or relative to site.url
    category: str = "News"  # an Apple Podcasts category
    subcategory: str | None = None
    explicit: bool = False
    owner_email: str | None = None  # default: site.email
    type: Literal["episodic", "serial"] = "episodic"


class Feeds(_Section):
    limit: int = Field(20, ge=1)  # entries in each main document; older ones go to archives
    archives: bool = True  # RFC 5005 archive documents for the whole history
    categories: bool = True  # one Atom and RSS feed per category
    atom: FeedContent = "full"
    rss: FeedContent = "full"
    json_feed: FeedContent = Field("full", alias="json")
    websub_hub: str | None = None
    stylesheet: bool = True  # XSL so the XML reads well in a browser
    tags: bool = True  # Atom, RSS and JSON feeds per tag and per author
    id_style: Literal["tag", "pelican"] = "tag"  # "pelican": the entry ids Pelican wrote
    podcast: Podcast | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Pages(_Section):
    per_page: int = Field(10, ge=1)


class Build(_Section):
    workers: int = Field(0, ge=0)  # 0: one per CPU core
    cache: bool = True


COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
SANS = ('system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", '
        '"Liberation Sans", Arial, sans-serif')
SERIF = ('"Iowan Old Style", Charter, "Bitstream Charter", "Sitka Text", Cambria, "Noto Serif", '
         '"Source Serif Pro", Georgia, "DejaVu Serif", serif')


def _hex_colour(v: str) -> str:
    if not COLOUR.fullmatch(v):
        raise ValueError("must be a hex colour like \"#b4231b\"")
    return v.lower()


class Theme(_Section):
    """The publication's look, shared by the site (a CSS custom property in base.html) and
    the digest (the MJML templates): change the accent here and both follow. The logo is
    `site.logo`. Fonts are CSS font stacks; keep an email-safe family (Arial, Georgia...)
    and a generic family last, since mail clients load no web fonts."""

    accent: str = "#b4231b"  # links, rules and kickers; dark enough to read on white
    accent_dark: str = "#ff8a7a"  # the same in dark mode: light enough to read on black
    font_sans: str = SANS  # text and titles of the digest, the site's interface
    font_serif: str = SERIF  # the site's article text and summaries

    @field_validator("accent", "accent_dark")
    @classmethod
    def _colour(cls, v: str) -> str:
        return _hex_colour(v)

    @field_validator("font_sans", "font_serif")
    @classmethod
    def _font(cls, v: str) -> str:
        if not v.strip() or re.search(r"[;{}<>&\\]", v):
            raise ValueError("must be a CSS font stack like 'Georgia, serif' (no ; { } < > & or \\)")
        return v.strip()


class Newsletter(_Section):
    """The digest: what goes in the next issue and how it reads. The subject, preheader and
    greetings are Jinja2 templates (variables: site, issue; greetings: name)."""

    # The defaults speak the site's language: `_()` and `ngettext()` translate their English.
    subject: str = ('{{ issue.articles[0].title }}{% if issue.count > 1 %} '
                    '{{ ngettext("+ %(num)s more", "+ %(num)s more", issue.count - 1) }}{% endif %}')
    preheader: str = '{{ issue.articles[0].summary | truncate(150, end="…") }}'
    greeting: str = '{{ _("Hello %(name)s,", name=name) }}'
    greeting_anonymous: str = '{{ _("Hello,") }}'
    intro: str = '{{ _("Here is what was published since the last letter.") }}'
    reason: str = ('{{ _("You are receiving this letter because you subscribed on %(site)s.", '
                   'site=site.title) }}')
    first_window_days: int = Field(7, ge=1)  # the first issue: articles of the last N days
    max_articles: int = Field(50, ge=1)  # newest kept when more are new
    content: FeedContent = "summary"  # "full": the whole sanitised article in the email
    lang: str | None = None  # default: site.lang
    mjml_template: str = "newsletter.mjml.j2"  # under paths.templates
    text_template: str = "newsletter.txt.j2"
    accent: str | None = None  # links and kickers of the digest; default: theme.accent
    # Each subscriber's own rhythm: name -> "on-publish" (one mail per article) or a crontab.
    # Empty: one digest for everyone, on schedule.newsletter (as before rhythms existed).
    rhythms: dict[str, str] = Field(default_factory=dict)
    default_rhythm: str | None = None  # of those who chose none; default: the first digest rhythm
    article_mjml_template: str = "article.mjml.j2"  # an on-publish rhythm's mail
    article_text_template: str = "article.txt.j2"
    max_age_days: int = Field(40, ge=1)  # with rhythms: an older article is never mailed

    @field_validator("rhythms")
    @classmethod
    def _rhythms(cls, v: dict[str, str]) -> dict[str, str]:
        from publisher.cron import cron_trigger

        for name, when in v.items():
            if not RHYTHM_NAME.fullmatch(str(name)):
                raise ValueError(f"rhythm name {name!r}: use up to 20 lower-case letters, digits and -")
            if when != ON_PUBLISH:
                try:
                    cron_trigger(when)
                except ValueError as exc:
                    raise ValueError(f"rhythm {name!r}: {exc} (or {ON_PUBLISH!r})") from None
        return v

    @field_validator("default_rhythm")
    @classmethod
    def _default_rhythm(cls, v: str | None, info) -> str | None:
        rhythms = info.data.get("rhythms") or {}
        if v is not None and v not in rhythms:
            known = ", ".join(rhythms) or "none: newsletter.rhythms is not set"
            raise ValueError(f"{v!r} is not one of newsletter.rhythms ({known})")
        return v

    @property
    def default(self) -> str:
        """The rhythm of a subscriber who chose none ("" without rhythms): default_rhythm,
        else the first digest (those who subscribed to a digest keep getting one)."""
        digests = (name for name, when in self.rhythms.items() if when != ON_PUBLISH)
        return self.default_rhythm or next(digests, next(iter(self.rhythms), ""))

    def rhythm_of(self, chosen: str) -> str:
        """The rhythm a subscriber follows: theirs if it still exists, else the default."""
        return chosen if chosen in self.rhythms else self.default

    @field_validator("accent")
    @classmethod
    def _accent(cls, v: str | None) -> str | None:
        return v if v is None else _hex_colour(v)

    @field_validator("lang")
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        return v if v is None else _language(v)
