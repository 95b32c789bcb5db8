"""Every visible string in the site's language: gettext catalogs read with Babel.

Templates and code write their strings in English (`{{ _("Subscribe") }}`, `_("Subscribe")`);
`publisher/locale/<lang>/LC_MESSAGES/*.po` translate them. Every `.po` file of a language is
read and merged, so each part of the product (site, mails, admin) keeps a catalog of its own,
and a new language is one folder of `.po` files away (`pybabel extract` / `init`, see the
README). The catalogs are compiled in memory when first asked for: no build step, no `.mo`
files to keep in step with their sources.
"""

from __future__ import annotations

import gettext
from functools import lru_cache
from io import BytesIO
from pathlib import Path

LOCALES = Path(__file__).resolve().parent / "locale"
SOURCE_LANGUAGE = "en"  # the language the msgids are written in


def base_language(language: str | None) -> str:
    """"fr-FR", "fr_CA", "FR" -> "fr": catalogs are kept per language, not per region."""
    return (language or SOURCE_LANGUAGE).replace("-", "_").split("_")[0].lower()


@lru_cache(maxsize=16)
def translations(language: str | None, extra: tuple[str, ...] = ()) -> gettext.NullTranslations:
    """The merged catalogs of `language` (the package's, then each folder in `extra`, which
    win), or the identity when there is none (English, or a language nobody translated)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    lang = base_language(language)
    merged: Translations | None = None
    for root in (LOCALES, *map(Path, extra)):
        for po in sorted((root / lang / "LC_MESSAGES").glob("*.po")):
            with po.open("rb") as f:
                catalog = read_po(f, locale=lang)
            buf = BytesIO()
            write_mo(buf, catalog)
            buf.seek(0)
            found = Translations(buf)
            merged = found if merged is None else merged.merge(found)
    return merged if merged is not None else gettext.NullTranslations()


def gettext_for(language: str | None):
    """`_` for Python code: `_ = gettext_for(config.site.language); _("Subscribe")`."""
    return translations(language).gettext


def install(env, language: str | None) -> None:
    """Give a Jinja2 environment `_`, `gettext` and `ngettext` in `language` (new style:
    `{{ _("%(n)s articles", n=3) }}`, autoescaped)."""
    if "jinja2.ext.InternationalizationExtension" not in env.extensions:
        env.add_extension("jinja2.ext.i18n")
    found = translations(language)
    env.install_gettext_translations(found, newstyle=True)
    env.globals["gettext"] = env.globals["_"] = _cached_gettext(found)


def _cached_gettext(found: gettext.NullTranslations):
    """Jinja's new-style gettext, with each string's translation looked up and marked safe
    once per environment rather than on every call (a 13,000-page site calls it 100,000
    times): `_("Page %(n)s", n=2)` formats with escaping in an autoescaped template, and
    plainly in a text one, exactly as Jinja's own does (`%%` included)."""
    from jinja2 import pass_eval_context
    from markupsafe import Markup

    cache: dict[tuple[str, bool], str] = {}

    @pass_eval_context
    def cached(eval_ctx, string: str, **variables) -> str:
        key = (string, eval_ctx.autoescape)
        rv = cache.get(key)
        if rv is None:
            rv = found.gettext(string)
            rv = cache[key] = Markup(rv) if eval_ctx.autoescape else rv
        return rv % variables

    return cached
