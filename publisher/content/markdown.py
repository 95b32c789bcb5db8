"""Reader for Markdown with front matter in the keys Pelican and Hugo users already write.

Front matter may be YAML (`---`, Hugo and Pelican's yaml_metadata), TOML (`+++`, Hugo) or
Pelican's own `Key: value` lines. Unknown keys are kept in `extra`, never turned into fields.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pyromark
import yaml

from publisher.content.meta import source_from_meta
from publisher.content.source import Source
from publisher.errors import ContentError


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML (libyaml when present: ~10x faster) that leaves dates as text, so an
    impossible date is reported by our date parser with its line, not by a YAML crash."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
PELICAN_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):\s*(.*)$")
FENCE = re.compile(r"^(\S)\1\1+\s*$")  # '---', '+++', ';;;' ...


# pulldown-cmark, compiled (pyromark): CommonMark with GitHub's tables and strikethrough, about
# 20x faster than markdown-it-py, which it replaced (issue 20). Raw HTML is let through here,
# as before: the sanitiser (content/sanitize.py) decides what of it stays.
# tests/content/test_markdown_renderer.py compares the two on Markdown edge cases.
MARKDOWN_OPTIONS = pyromark.Options.ENABLE_TABLES | pyromark.Options.ENABLE_STRIKETHROUGH


def render_markdown(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\0" in text:  # CommonMark: NUL is replaced (markdown-it-py did it; pulldown-cmark not)
        text = text.replace("\0", "\ufffd")
    if not text.endswith("\n"):  # else pulldown-cmark ends a last code block without one
        text += "\n"
    return pyromark.html(text, options=MARKDOWN_OPTIONS)


def split_front_matter(text: str, path: str) -> tuple[dict[str, Any], str, int]:
    """(metadata, body, line where the body starts)."""
    lines = text.split("\n")
    first = lines[0].strip() if lines else ""
    if first in ("---", "+++"):
        closers = ("---", "...") if first == "---" else ("+++",)
        end = next((i for i, ln in enumerate(lines[1:], 1) if ln.strip() in closers), None)
        if end is None:
            raise ContentError(path, 1, f"front matter opened with '{first}' is never closed")
        raw = "\n".join(lines[1:end])
        meta = _parse_yaml(raw, path) if first == "---" else _parse_toml(raw, path)
        return meta, "\n".join(lines[end + 1 :]), end + 2
    if FENCE.match(first):
        raise ContentError(
            path, 1, f"unknown front matter type '{first}' (use '---' for YAML or '+++' for TOML)"
        )
    if PELICAN_LINE.match(first):
        meta: dict[str, Any] = {}
        key = ""
        for i, line in enumerate(lines):
            m = PELICAN_LINE.match(line)
            if not line.strip():
                return meta, "\n".join(lines[i + 1 :]), i + 2
            if line[0] in " \t" and key:  # a continued value (Python-Markdown's meta)
                meta[key] = f"{meta[key]} {line.strip()}".strip()
                continue
            if not m:
                return meta, "\n".join(lines[i:]), i + 1
            key = m.group(1).lower()
            meta[key] = m.group(2).strip()
        return meta, "", len(lines) + 1
    raise ContentError(path, 1, "no front matter: start the file with a '---' YAML block")


SIMPLE_LINE = re.compile(r"([A-Za-z_][\w-]*):(?:[ \t]+(.*?))?[ \t]*")
PLAIN = re.compile(r"[^\s'\"\[\]{}#&*!|>%@`,?:~-](?:[^#:\[\]{},]|:(?! )|#(?<! #))*")
NOT_TEXT = re.compile(  # what YAML would read as something else than text
    r"=|<<|y|n|yes|no|true|false|on|off|null|[-+]?(\.?\d[\d_.:e+-]*|\.inf|\.nan|0[xob][\da-f_]+)",
    re.IGNORECASE,
)


DATE = re.compile(r"\d{4}-\d\d-\d\d(?:[ T]\d\d:\d\d(?::\d\d)?)?")  # text here: no timestamps
# What YAML refuses to read at all (outside its printable set: YAML 1.1, 5.1): left to YAML,
# which names the line.
NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _simple_scalar(value: str) -> str | None:
    if DATE.fullmatch(value):
        return value
    if len(value) >= 2 and value[0] == value[-1] == '"' and not any(c in value[1:-1] for c in '"\\'):
        return value[1:-1]
    if PLAIN.fullmatch(value) and not NOT_TEXT.fullmatch(value) and not value.endswith(":"):
        return value
    return None


def _simple_yaml(raw: str) -> dict[str, Any] | None:
    """Front matter made only of `key: text` and `key: [a, b]` lines, parsed ~10x faster than
    by YAML; None (parse it as YAML) at the first line that is anything else. A property test
    checks that whatever this returns equals what the YAML parser gives."""
    if NOT_PRINTABLE.search(raw):
        return None
    meta: dict[str, Any] = {}
    for line in raw.split("\n"):
        if not line.strip():
            continue
        m = SIMPLE_LINE.fullmatch(line)
        if not m or m.group(2) is None or m.group(1).lower() in meta:
            return None
        value = m.group(2)
        if value.startswith("[") and value.endswith("]"):
            items = [v.strip() for v in value[1:-1].split(",")] if value[1:-1].strip() else []
            parsed = [None if ":" in v or "?" in v else _simple_scalar(v) for v in items]
            if any(v is None for v in parsed):
                return None
            meta[m.group(1).lower()] = parsed
        elif (scalar := _simple_scalar(value)) is not None:
            meta[m.group(1).lower()] = scalar
        else:
            return None
    return meta


def _parse_yaml(raw: str, path: str) -> dict[str, Any]:
    simple = _simple_yaml(raw)
    if simple is not None:
        return simple
    try:
        meta = yaml.load(raw, Loader=_Loader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark else 1
        raise ContentError(path, line, f"front matter is not valid YAML: {exc.problem}") from None
    if not isinstance(meta, dict):
        raise ContentError(path, 2, "front matter must be a mapping of keys to values")
    return {str(k).lower(): v for k, v in meta.items()}


def _parse_toml(raw: str, path: str) -> dict[str, Any]:
    try:
        meta = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        line = int(found.group(1)) if found else raw.count("\n") + 1
        message = re.sub(r"\s*\(at [^)]*\)", "", str(exc))
        raise ContentError(path, line + 1, f"front matter is not valid TOML: {message}") from None
    return {k.lower(): v for k, v in meta.items()}


def read_markdown(text: str, path: str) -> Source:
    meta, body, body_line = split_front_matter(text, path)
    key_line = _key_lines(text, body_line)
    html = render_markdown(body)
    return source_from_meta(meta, html, _lead(html), path, lambda key: key_line.get(key, 1))


def _key_lines(text: str, body_line: int) -> dict[str, int]:
    """Line of each top-level front-matter key, so errors point at the right line."""
    found = {}
    for number, line in enumerate(text.split("\n")[: body_line - 1], start=1):
        m = re.match(r"^([A-Za-z][\w-]*)\s*[:=]", line)
        if m:
            found.setdefault(m.group(1).lower(), number)
    return found


def _lead(html: str) -> str:
    """First paragraph of the rendered body, as plain text."""
    start = html.find("<p>")
    if start == -1:
        return ""
    end = html.find("</p>", start)
    from publisher.content.sanitize import plain_text

    return plain_text(html[start + 3 : end if end != -1 else len(html)])
