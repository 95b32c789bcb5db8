"""Dates as readers of a language write them: '1er juin 2024', 'June 1, 2024'.

Babel knows each language's long format; French wants an ordinal for the first of the month
("1er juin"), which CLDR leaves out, so that one rule is added here.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache


def long_date(value: datetime | date, lang: str | None = "fr") -> str:
    """'2 novembre 2024' / '1er novembre 2024' in French, 'November 2, 2024' in English."""
    day = value.date() if isinstance(value, datetime) else value
    return _long_date(day, (lang or "en").replace("-", "_"))


@lru_cache(maxsize=8192)
def _long_date(day: date, lang: str) -> str:
    """Babel takes ~70 us a date; a site has far fewer days than dates shown (3 a page)."""
    from babel.dates import format_date

    text = format_date(day, format="long", locale=lang)
    if day.day == 1 and lang.split("_")[0].lower() == "fr" and text.startswith("1 "):
        text = "1er" + text[1:]
    return text
