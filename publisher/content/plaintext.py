"""Reader for the seed's plain-text layout: category, title, date, then the body.

The body comes from a scrape that lost paragraph breaks: `ukrainien.En plus` is two paragraphs
glued together, and `militaires.Les enjeux de cette alliance` is a paragraph with the next
section's heading glued to its end. `split_body` repairs both without breaking decimals,
times, initials, abbreviations or URLs.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from publisher.content.source import Source
from publisher.errors import ContentError

SENTENCE_END = ".!?…"
CLOSING = SENTENCE_END + ":;,»\"')]”’"
HEADING_MAX_WORDS = 16
HEADING_MAX_CHARS = 120
# Words that end with a period but do not end a sentence (French and English).
ABBREVIATIONS = {
    "m", "mm", "mme", "mmes", "mlle", "mlles", "mgr", "me", "dr", "pr", "st", "ste", "mr", "mrs",
    "ms", "jr", "sr", "cf", "p", "pp", "vol", "no", "n°", "fig", "av", "apr", "j.-c", "éd", "ed",
    "ex", "env", "vs", "art", "chap", "coll", "dir", "op", "cit", "ibid",
}
# A sentence end glued to the next capitalised word: ".En", "?Le", "…Mais".
GLUE = re.compile(rf"(?<=[{SENTENCE_END}])(?=[A-ZÀ-ÖØ-ÞŒ])")


@dataclass(frozen=True, slots=True)
class Block:
    kind: str  # "p", "h2" or "h3"
    text: str


def split_body(lines: list[str]) -> list[Block]:
    """Paragraphs and headings of a body, one block per repaired line segment."""
    blocks: list[Block] = []
    for raw in lines:
        line = " ".join(raw.split())
        if not line:
            continue
        segments = _segments(line)
        for i, segment in enumerate(segments):
            last = i == len(segments) - 1
            kind = "h2" if last and _looks_like_heading(segment) else "p"
            blocks.append(Block(kind, segment))
    return _nest_headings(blocks)


def _nest_headings(blocks: list[Block]) -> list[Block]:
    """A heading directly followed by another one opens a part: it stays h2 and the section
    headings under it become h3, as in the seed (a part title, then its sections)."""
    parts = {
        i for i, (a, b) in enumerate(zip(blocks, blocks[1:])) if a.kind == b.kind == "h2"
    }
    if not parts:
        return blocks
    return [
        Block("h3", b.text) if b.kind == "h2" and i not in parts else b
        for i, b in enumerate(blocks)
    ]


def _segments(line: str) -> list[str]:
    cuts = [0]
    for m in GLUE.finditer(line):
        if _is_sentence_glue(line, m.start(), cuts[-1]):
            cuts.append(m.start())
    bounds = [*cuts, len(line)]
    return [line[a:b].strip() for a, b in zip(bounds, bounds[1:]) if line[a:b].strip()]


def _is_sentence_glue(line: str, pos: int, segment_start: int) -> bool:
    """True when the capital at `pos` starts a new sentence rather than continuing a token.

    The token is looked at only from the current segment's start, so that a line and the
    segments cut from it are judged alike (the reader is idempotent on its own output).
    """
    start = max(line.rfind(" ", 0, pos) + 1, segment_start)
    end = line.find(" ", pos)
    token = line[start : end if end != -1 else len(line)]
    if "://" in token or "@" in token or token.lower().startswith("www."):
        return False
    word = line[start : pos - 1]
    if line[pos - 1] == "." and word:
        bare = word.lstrip("(«\"'“‘")
        if len(bare) == 1 and bare.isupper():  # initials: J.R.R. Tolkien, U.S.A.
            return False
        if "." in bare and all(len(p) <= 2 for p in bare.split(".")):  # U.S.Army, J.-C.
            return False
        if bare.lower() in ABBREVIATIONS:  # M.Dupont
            return False
    return True


def _looks_like_heading(text: str) -> bool:
    return (
        text[-1] not in CLOSING
        and len(text) <= HEADING_MAX_CHARS
        and len(text.split()) <= HEADING_MAX_WORDS
        and (text[0].isupper() or text[0].isdigit())
    )


def blocks_to_html(blocks: list[Block]) -> str:
    return "\n".join(f"<{b.kind}>{html.escape(b.text, quote=False)}</{b.kind}>" for b in blocks)


def blocks_to_text(blocks: list[Block]) -> str:
    """The repaired body in the same layout, one block per line (what `split_body` reads)."""
    return "\n".join(b.text for b in blocks)


def read_plaintext(text: str, path: str) -> Source:
    lines = text.splitlines()
    header = [line.strip() for line in lines[:3]]
    names = ("category", "title", "date")
    for number, (name, value) in enumerate(zip(names, header + [""] * 3), start=1):
        if not value:
            raise ContentError(path, number, f"line {number} must hold the {name}, it is empty")
    category, title, date = header
    blocks = split_body(lines[3:])
    if not blocks:
        raise ContentError(path, 4, "the article has no body")
    lead = next((b.text for b in blocks if b.kind == "p"), "")
    return Source(
        title=title,
        date=date,
        date_line=3,
        categories=(category,),
        html=blocks_to_html(blocks),
        lead=lead,
    )
