"""HTML pages from the Jinja2 templates in `templates/`: index, article, category pages."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from publisher import i18n
from publisher.config import Config
from publisher.content.article import make_slug
from publisher.content.dates import long_date
from publisher.errors import TemplateError
from publisher.models import Article
from publisher.site.theme import template_folders


@dataclass(slots=True)
class Page:
    """One HTML page to write: the template, where it goes and what it shows. Not frozen:
    a frozen dataclass's __init__ costs three times as much, and a large site plans 145,000;
    nothing changes a page once planned."""

    path: str  # relative to the output folder
    template: str
    title: str
    articles: tuple[Article, ...] = ()
    article: Article | None = None
    category: tuple[str, str] | None = None  # (name, slug)
    number: int = 1
    pages: int = 1
    prev_url: str | None = None
    next_url: str | None = None
    feeds: tuple[tuple[str, str, str], ...] = ()  # (title, type, href) for autodiscovery
    term: tuple[str, str, str] | None = None  # (tag|author, name, slug) of a tag or author page

    @property
    def url(self) -> str:
        """The page's own URL relative to site.url: its canonical address."""
        return self.path.removesuffix("index.html")

    def fingerprint_parts(self) -> str:
        """Everything the page shows, as text (a rebuild of 100,000 articles hashes 145,000
        of these: joined strings cost a fifth of a tuple's repr)."""
        arts = self.articles + ((self.article,) if self.article else ())
        return "\x1f".join((self.path, self.template, self.title, repr(self.category),
                            str(self.number), str(self.pages), self.prev_url or "",
                            self.next_url or "", feeds_text(self.feeds), repr(self.term),
                            *[f"{a.id}\x1e{a.digest}\x1e{a.url}" for a in arts]))


@lru_cache(maxsize=4096)
def feeds_text(feeds: tuple) -> str:
    """A page's feed links as text, once per set of them (they are shared by many pages)."""
    return repr(feeds)


@lru_cache(maxsize=4)
def environment(templates: Path, version: str = "", cache: Path | None = None,
                language: str = "en") -> jinja2.Environment:
    """One environment per templates folder and version of its files: templates are compiled
    once and never stat()ed again during a build (the build's key changes when they do).
    With a `cache` folder, compiled templates are kept there for the next build's process
    (Jinja checks each against its source): a small rebuild no longer compiles them all."""
    bytecode = None
    if cache is not None:
        try:
            cache.mkdir(parents=True, exist_ok=True)
            bytecode = jinja2.FileSystemBytecodeCache(str(cache))
        except OSError:
            pass  # no cache, only slower
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(f) for f in template_folders(templates)]),
        bytecode_cache=bytecode,
        auto_reload=not version,
        autoescape=jinja2.select_autoescape(["html", "xml", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["long_date"] = long_date
    env.filters["iso"] = lambda d: d.isoformat()
    env.globals["partial_cached"] = partial_cached
    i18n.install(env, language)  # the chrome in the site's language: {{ _("Subscribe") }}
    return env


_PARTIALS: dict[tuple, Markup] = {}  # emptied by each build: see forget_partials


@jinja2.pass_context
def partial_cached(context: jinja2.runtime.Context, name: str, *variant: Any) -> Markup:
    """`{{ partial_cached("_masthead.html", page.template, category) }}`: the template
    `name`, rendered with the page's variables once per distinct `variant` in a build, then
    reused, as Hugo's partialCached. The masthead and the colophon of 12,000 pages took a
    third of the time spent on pages; the variant must name everything the partial shows
    that changes from page to page."""
    key = (name, *variant)
    html = _PARTIALS.get(key)
    if html is None:
        html = Markup(context.environment.get_template(name).render(context.get_all()))
        _PARTIALS[key] = html
    return html


def forget_partials() -> None:
    """A new build: the site's categories and feeds may have changed since the last."""
    _PARTIALS.clear()


def authors_of(article: Article) -> tuple[str, ...]:
    return tuple(n.strip() for n in article.author.split(",") if n.strip())


def term_url(kind: str, name: str, config: Config) -> str:
    """The URL of a tag's or an author's page."""
    pattern = config.paths.tag if kind == "tag" else config.paths.author
    return config.site.url + pattern.format(slug=make_slug(name)).lstrip("/")


FEED_LABELS = {"application/atom+xml": "Atom", "application/rss+xml": "RSS",
               "application/feed+json": "JSON Feed"}


@lru_cache(maxsize=256)
def feed_groups(feeds: tuple[tuple[str, str, str], ...]) -> list[tuple[str, list]]:
    """The feeds grouped by stream for the footer: 'Site (ATOM)' and 'Site (RSS)' become
    ('Site', [('Atom', type, href), ('RSS', type, href)]). Worked out once per set of feeds,
    not in the template of every page."""
    groups: dict[str, list] = {}
    for title, type_, href in feeds:
        group = title.rpartition(" (")[0] or title
        groups.setdefault(group, []).append((FEED_LABELS.get(type_, type_), type_, href))
    return list(groups.items())


def render_page(page: Page, config: Config, categories: list[tuple[str, str, str]],
                version: str = "", extra: dict[str, Any] | None = None) -> bytes:
    """Render one page; a template mistake becomes a TemplateError naming template and line.

    `version` identifies the current template files (the build passes its key); `extra`
    adds variables (the newsletter archive's issues)."""
    env = environment(config.path("templates"), version,
                      config.path("var") / "cache" / "templates" if version else None,
                      config.site.lang)
    context: dict[str, Any] = {
        "site": config.site,
        "page": page,
        "articles": page.articles,
        "article": page.article,
        "category": page.category,
        "categories": categories,  # (name, slug, url) of every category, for navigation
        "category_urls": {name: url for name, _, url in categories},
        "feeds": page.feeds,
        "feed_groups": feed_groups(page.feeds),
        "url": lambda path="": config.site.url + path.lstrip("/"),
        "tag_url": lambda name: term_url("tag", name, config),
        "author_url": lambda name: term_url("author", name, config),
        "authors_of": authors_of,
        "canonical": page.article.url if page.article else config.site.url + page.url,
        "theme": config.theme,  # accent and fonts, shared with the digest
        **(extra or {}),
    }
    try:
        return env.get_template(page.template).render(context).encode()
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(exc.filename or exc.name or page.template, exc.lineno, exc.message) from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(str(exc), None, "template not found in " + " or ".join(
            str(f) for f in template_folders(config.path("templates")))) from None
    except (jinja2.UndefinedError, TypeError, AttributeError) as exc:
        raise TemplateError(page.template, _template_line(exc, page.template), str(exc)) from None


def _template_line(exc: BaseException, name: str) -> int | None:
    """The template line of an error raised while rendering: found in the traceback."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(name) or tb.tb_frame.f_globals.get("__jinja_template__"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
