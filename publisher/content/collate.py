"""Sorting names as a reader of the language expects: 'Économie' before 'Science'.

Python's str order is code point order (É after every ASCII letter) and `locale.strxfrm`
depends on the locales installed on the machine. Babel has no collation; PyICU would be a
C++ dependency for one sort. The key here is the first level of the Unicode Collation
Algorithm for the Latin, Greek and Cyrillic scripts: letters without their accents, case
folded; ties are then broken by the accents and case (the second and third levels, roughly),
so the order is total and stable.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=4096)
def sort_key(text: str) -> tuple[str, str]:
    """'Économie' -> ('economie', 'Économie'); ligatures spelt out (œ -> oe, ß -> ss)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    base = base.replace("œ", "oe").replace("æ", "ae").replace("ø", "o").replace("ł", "l")
    return base, text


def collated(names, key=None) -> list:
    """`names` sorted by sort_key (of `key(name)` when given)."""
    return sorted(names, key=(lambda n: sort_key(key(n))) if key else sort_key)
