"""config.yaml + environment -> one validated, frozen Config; every problem reported at once."""

from __future__ import annotations

import os
import re
from datetime import time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from publisher.errors import ConfigError

DEFAULT_CONFIG = "config.yaml"


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

    @field_validator("accent")
    @classmethod
    def _accent(cls, v: str | None) -> str | None:
        return v if v is None else _hex_colour(v)

    @field_validator("lang")
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        return v if v is None else _language(v)


class Mail(_Section):
    """Transports and sending (outbox or SMTP)."""

    transport: Literal["outbox", "smtp"] | None = None  # default: smtp when smtp_url is set
    from_address: str | None = None  # default: site.email

    @field_validator("from_address")
    @classmethod
    def _from(cls, v: str | None) -> str | None:
        if v is not None and not EMAIL.fullmatch(v):
            raise ValueError("must be a bare address like newsletter@example.org")
        return v

    from_name: str | None = None  # default: site.title
    smtp_url: str | None = None  # smtp://user@host:port, smtps://..., ?starttls=true
    host: str = "localhost"
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: str | None = None
    timeout: float = Field(30.0, gt=0)
    connections: int = Field(4, ge=1, le=64)  # SMTP connections reused across messages
    processes: int = Field(1, ge=1, le=64)  # sender processes sharing them (forked per send)
    rate_limit: float = Field(0.0, ge=0)  # messages per second over every worker, 0: no limit
    lease: float = Field(300.0, gt=0)  # seconds a dead sender's batch waits before others take it
    batch_size: int = Field(200, ge=1)  # deliveries claimed (and marked) per commit
    max_attempts: int = Field(5, ge=1)  # pauses in a row (server unreachable) before a send stops
    retry_backoff: float = Field(30.0, ge=0)  # seconds before the first retry, doubled after
    retry_max_backoff: float = Field(3600.0, ge=0)  # seconds: the doubling stops there
    retry_for: timedelta = timedelta(hours=24)  # a 4xx is retried this long, then it fails
    journal_fsync: bool = False  # flush the journal of accepted messages to disk at each one
    max_html_bytes: int = Field(102 * 1024, ge=1)  # Gmail clips larger messages
    list_id: str | None = None  # default: derived from site.url
    unsubscribe_mailto: str | None = None  # default: site.email; only with bounce_source
    feedback_id: str | None = None  # Feedback-ID header of the digest (Gmail's feedback loop)
    dkim_key: str | None = None  # PEM private key file; signing is on when set
    dkim_selector: str = "publisher"
    dkim_domain: str | None = None  # default: the From domain
    bounce_threshold: int = Field(3, ge=1)  # hard bounces before a subscriber is bounced
    bounce_source: str | None = None  # Maildir or mbox path, or imap(s)://user@host/FOLDER
    dns_server: str | None = None  # HOST:PORT the doctor asks; default: the system resolver
    doctor: bool = True  # run `publisher doctor`'s offline checks before every send

    @field_validator("dns_server")
    @classmethod
    def _dns_server(cls, v: str | None) -> str | None:
        if v is None:
            return v
        host, _, port = v.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:53")
        return v

    @field_validator("retry_for", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        from publisher.cron import parse_duration

        return parse_duration(v)

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, v: str | None) -> str | None:
        if v and not v.startswith(("smtp://", "smtps://")):
            raise ValueError("must start with smtp:// or smtps://")
        return v


class Web(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    confirm_hours: int = Field(48, ge=1)  # a confirmation link expires after this
    subscribe_rate: int = Field(5, ge=1)  # subscribe attempts per client address per minute
    keep_client_address: Literal["kept", "hashed", "no"] = "hashed"  # in the opt-in record
    mailbox_per_hour: int = Field(3, ge=1)  # confirmation mails to one mailbox per hour
    confirmations_per_hour: int = Field(200, ge=1)  # confirmation mails to anyone per hour
    trusted_proxies: tuple[str, ...] = ()  # addresses/networks whose X-Forwarded-For is believed
    max_body: int = Field(64 * 1024, ge=1024)  # bytes of a request body; larger ones get 413
    body_timeout: float = Field(10.0, gt=0)  # seconds to send a whole body; slower ones get 408
    keep_alive: float = Field(5.0, gt=0)  # seconds an idle connection is kept open
    max_connections: int = Field(200, ge=1)  # concurrent connections; more get 503

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        import ipaddress

        for entry in v:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return v


class Schedule(_Section):
    """APScheduler jobs in crontab syntax, in the site's time zone (`publisher run`).

    5 fields (minute hour day month weekday), 6 with seconds first, or @hourly/@daily/@weekly;
    null disables a job."""

    build: str | None = "*/15 * * * *"  # rebuild feeds and pages (also on every file change)
    newsletter: str | None = "0 8 * * mon"  # send the digest, when there is something new
    grace: timedelta = timedelta(hours=6)  # a slot missed while down runs once on start within this
    min_articles: int = Field(1, ge=1)  # new articles a digest needs, else it waits
    debounce: timedelta = timedelta(seconds=1)  # quiet time after a change before rebuilding
    takeover: timedelta = timedelta(seconds=15)  # a standby `run` schedules this soon after the active one dies

    @field_validator("build", "newsletter")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        from publisher.cron import cron_trigger

        if v is not None:
            cron_trigger(v)  # raises ValueError naming what is wrong
        return v

    @field_validator("grace", "debounce", "takeover", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        from publisher.cron import parse_duration

        return parse_duration(v)


class Config(_Section):
    site: Site = Site()
    paths: Paths = Paths()
    feeds: Feeds = Feeds()
    pages: Pages = Pages()
    build: Build = Build()
    theme: Theme = Theme()
    newsletter: Newsletter = Newsletter()
    mail: Mail = Mail()
    web: Web = Web()
    schedule: Schedule = Schedule()
    database_url: str | None = None  # default: SQLite under paths.var
    root: Path = Path(".")  # folder of config.yaml; relative paths resolve against it

    def path(self, name: str) -> Path:
        return _resolve(self.root, getattr(self.paths, name))


@lru_cache(maxsize=64)
def _resolve(root: Path, relative: str) -> Path:
    return (root / relative).resolve()  # resolve() stats every component: once is enough


ENV_OVERRIDES = {
    "PUBLISHER_SITE_URL": ("site", "url"),
    "PUBLISHER_DATABASE_URL": ("database_url",),
    "PUBLISHER_SMTP_URL": ("mail", "smtp_url"),
    "PUBLISHER_SMTP_PASSWORD": ("mail", "password"),
}


def load_config(path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ if env is None else env)
    explicit = path is not None or "PUBLISHER_CONFIG" in env
    cfg_path = Path(path if path is not None else env.get("PUBLISHER_CONFIG", DEFAULT_CONFIG))
    text = ""
    if cfg_path.exists():
        text = cfg_path.read_text(encoding="utf-8")
    elif explicit:
        raise ConfigError([f"{cfg_path}: no such config file"])
    return parse_config(text, str(cfg_path), cfg_path.resolve().parent, env)


def parse_config(text: str, name: str, root: Path, env: dict[str, str]) -> Config:
    try:
        node = yaml.compose(text) if text.strip() else None
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{name}{line}: not valid YAML: {problem}"]) from None
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError([f"{name}:1: the top level must be a mapping of keys"])
    from_env = {}
    for var, keys in ENV_OVERRIDES.items():
        if env.get(var):
            from_env[keys] = var
            target = data
            for key in keys[:-1]:
                target = target.setdefault(key, {}) if isinstance(target.get(key, {}), dict) else {}
            target[keys[-1]] = env[var]
    data["root"] = root
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_describe(err, name, node, from_env) for err in exc.errors()]) from None


def _describe(err: Any, name: str, node: Any, from_env: dict[tuple, str]) -> str:
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc)
    line = _line_of(node, loc)
    where = f"{name}:{line}" if line else name
    if tuple(loc) in from_env:  # the value came from the environment, not from the file
        where = f"environment variable {from_env[tuple(loc)]}"
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown key '{key}'"
    value = err.get("input")
    shown = "" if isinstance(value, dict) else f" (got {_masked(loc, value)!r})"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where}: key '{key}': {msg}{shown}"


def _masked(loc: list[str], value: Any) -> Any:
    """A value fit to print: never a password, nor the password inside a URL."""
    if any("password" in part or "secret" in part for part in loc):
        return "***"
    if isinstance(value, str):
        return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", value)
    return value


def _line_of(node: Any, loc: list[str]) -> int | None:
    """Line of a key in the YAML source, so the message points where the user must look."""
    line = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for k, v in node.value:
            if k.value == part:
                line, node = k.start_mark.line + 1, v
                break
        else:
            break
    return line
