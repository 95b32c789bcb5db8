"""Typography by language, on the text readers see: titles, summaries and article bodies.

French: ’ for the apostrophe, « » with no-break spaces inside, a narrow no-break space (U+202F)
before ; ! ? and a no-break space (U+00A0) before : and %, no-break thousands separators
("8 000"). English: curly quotes and apostrophes. Other languages are left as written.

In HTML only text is touched: never tags or their attributes (so never URLs in href or src),
never what is inside code, pre, kbd, samp, script or style. A bare URL in text keeps its
characters: the rules only act on quotes and on spaces that are already there.
"""

from __future__ import annotations

import re
from html import escape, unescape

NBSP, NNBSP = "\u00a0", "\u202f"

# Raw text elements and literal ones: their content is never changed.
VERBATIM = ("code", "pre", "kbd", "samp", "script", "style", "tt", "var")
TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*>|<!--.*?-->", re.S)
TAG_SPLIT = re.compile(r"(<(?:/?[a-zA-Z][a-zA-Z0-9]*)[^>]*>|<!--.*?-->)", re.S)  # TAG, one group
VERBATIM_OPEN = re.compile(r"<(?:%s)\b" % "|".join(VERBATIM), re.I)

SPACES_BEFORE_TIGHT = re.compile(r"[ \u00a0\u202f]+(?=[;!?])")
SPACES_BEFORE_COLON = re.compile(r"[ \u00a0\u202f]+(?=[:%])")
THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3})((?: \d{3})+)(?![\d.,]?\d)")
OPEN_GUILLEMET = re.compile(r"«[ \u00a0\u202f]*")
CLOSE_GUILLEMET = re.compile(r"[ \u00a0\u202f]*»")
# A quote opens when nothing that ends a word is before it and a word follows; else it closes.
OPENING_DOUBLE = re.compile(r"(?<![\w.,;:!?%…)\]’])\"(?=\S)")
# An apostrophe or closing single quote: after a letter, digit or punctuation.
CLOSING_SINGLE = re.compile(r"(?<=[\w.,;:!?)\]%…])'")
HAS_GROUPS = re.compile(r"\d \d")  # what THOUSANDS needs, found at C speed
# Between text chunks while the rules run over all of a page's text at once: whitespace to
# every rule (as the end of a chunk was), never a word character, never in sanitised HTML.
SEPARATOR = "\x1f"


def _french(text: str) -> str:
    # Each rule runs only when its character is there: most text chunks have none of them,
    # and a regex scan that finds nothing still costs a pass over the text.
    if "'" in text:
        text = text.replace("'", "’")
    if '"' in text:
        text = OPENING_DOUBLE.sub("«", text).replace('"', "»")
    if "«" in text or "»" in text:
        text = OPEN_GUILLEMET.sub("«" + NBSP, text)
        text = CLOSE_GUILLEMET.sub(NBSP + "»", text)
    if ";" in text or "!" in text or "?" in text:
        text = SPACES_BEFORE_TIGHT.sub(NNBSP, text)
    if ":" in text or "%" in text:
        text = SPACES_BEFORE_COLON.sub(NBSP, text)
    return THOUSANDS.sub(_thousands, text) if HAS_GROUPS.search(text) else text


def _thousands(m: re.Match) -> str:
    return m[1] + m[2].replace(" ", NBSP)


def _english(text: str) -> str:
    text = CLOSING_SINGLE.sub("’", text).replace("'", "‘")
    return OPENING_DOUBLE.sub("“", text).replace('"', "”")


RULES = {"fr": _french, "en": _english}


def _rule(lang: str | None):
    return RULES.get((lang or "").replace("_", "-").split("-")[0].lower())


def typeset_text(text: str, lang: str | None) -> str:
    """Plain text (a title, a summary) with the typography of `lang`."""
    rule = _rule(lang)
    return rule(text) if rule and text else text


def typeset_html(html: str, lang: str | None) -> str:
    """Sanitised HTML with the typography of `lang` in its text, outside verbatim elements.

    Text is unescaped before the rules run (so `&quot;` counts as a quote) and escaped again
    (& < > only: the text between tags needs no more)."""
    rule = _rule(lang)
    if rule is None or not html:
        return html
    parts = TAG_SPLIT.split(html)  # text, tag, text, tag... text
    texts = parts[0::2]
    # The chunks the rules run on: "" for whitespace and for text inside code, pre...
    work = ["" if not t or t.isspace() else t for t in texts]
    if VERBATIM_OPEN.search(html):  # most bodies have none: no depth to follow
        verbatim = 0
        for i, tag in enumerate(parts[1::2], start=1):
            m = TAG.match(tag)
            name = (m[2] or "").lower()
            if name in VERBATIM:
                verbatim = max(0, verbatim + (-1 if m[1] else 1))
            if verbatim:
                work[i] = ""
    # One pass of each rule over all the text, rather than one per chunk (a page has hundreds).
    done = [] if SEPARATOR in html else rule(unescape(SEPARATOR.join(work))).split(SEPARATOR)
    if len(done) != len(work):  # the separator was in the text after all: chunk by chunk
        done = [rule(unescape(t)) if t else t for t in work]
    parts[0::2] = [_escaped(d) if w else t for d, w, t in zip(done, work, texts)]
    return "".join(parts)


def _escaped(text: str) -> str:
    return escape(text, quote=False) if text else text
