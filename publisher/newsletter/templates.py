"""Jinja2 and MJML for emails: the template environment (the user's templates first, then the
shipped ones), rendering with errors that name the template and line, and the MJML compile."""

from __future__ import annotations

import re
import traceback
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from publisher import i18n
from publisher.errors import TemplateError
from publisher.site.theme import template_folders


@lru_cache(maxsize=8)
def template_env(folder: str, lang: str | None = None) -> jinja2.Environment:
    """The user's templates first, then the ones shipped with publisher; `_()` speaks `lang`."""
    loader = jinja2.FileSystemLoader([str(f) for f in template_folders(folder)])
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html", "mjml", "xml", "html.j2", "mjml.j2", "xml.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    i18n.install(env, lang)
    return env


@lru_cache(maxsize=8)
def _string_env(lang: str | None) -> jinja2.Environment:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    i18n.install(env, lang)
    return env


@lru_cache(maxsize=64)
def _string_template(source: str, lang: str | None) -> jinja2.Template:
    return _string_env(lang).from_string(source)


def render_string(source: str, name: str, ctx: dict[str, Any], lang: str | None = None) -> str:
    """A one-line template from config.yaml, named by its key in error messages; `_()` and
    `ngettext()` speak `lang`."""
    try:
        return _string_template(source, lang).render(ctx)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"config.yaml {name}", _error_line(exc, "<template>"), _describe(exc)) from None


def render_file(env: jinja2.Environment, name: str, ctx: dict[str, Any]) -> tuple[str, str]:
    """(output, template file) of a template, or a TemplateError naming file and line."""
    try:
        template = env.get_template(name)
    except jinja2.TemplateNotFound:
        raise TemplateError(name, None, "template not found in paths.templates") from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(exc.filename or name, exc.lineno, _describe(exc)) from None
    filename = template.filename or name
    try:
        return template.render(ctx), filename
    except jinja2.TemplateError as exc:
        raise TemplateError(filename, _error_line(exc, filename), _describe(exc)) from None


def _error_line(exc: jinja2.TemplateError, filename: str) -> int | None:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return exc.lineno
    # Jinja2 rewrites tracebacks so that template frames carry the template's own line.
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return lines[-1] if lines else None


def _describe(exc: jinja2.TemplateError) -> str:
    return f"{type(exc).__name__}: {exc.message or exc}"


# ---------------------------------------------------------------------------- MJML

MJML_TAG = re.compile(r"<(/?)(mj(?:ml|-[a-z-]+))\b[^>]*?(/?)>")


def compile_mjml(source: str, template: str) -> str:
    """MJML -> HTML; a failure names the template and the line of the offending tag."""
    from mjml import mjml2html

    try:
        return mjml2html(source, disable_comments=True, fonts={})  # no web fonts: no external assets
    except ValueError as exc:
        message = str(exc)
        offset = re.search(r"at position (\d+):", message)
        pos = int(offset.group(1)) if offset else _unbalanced_tag(source)
        where = ""
        if pos is not None:
            line_no = source.count("\n", 0, pos) + 1
            line = source.splitlines()[line_no - 1].strip() if source else ""
            found = _template_line(template, line)
            where = f" (rendered MJML line {line_no}: {line[:80]!r})"
            if found:
                raise TemplateError(template, found, f"MJML does not compile: {message}{where}") from None
        raise TemplateError(template, None, f"MJML does not compile: {message}{where}") from None


def _unbalanced_tag(source: str) -> int | None:
    """Offset of the first MJML tag left open or closed out of order."""
    stack: list[tuple[str, int]] = []
    for m in MJML_TAG.finditer(source):
        closing, name, selfclosing = m.groups()
        if selfclosing:
            continue
        if not closing:
            stack.append((name, m.start()))
        elif stack and stack[-1][0] == name:
            stack.pop()
        else:
            return stack[-1][1] if stack else m.start()
    return stack[-1][1] if stack else None


def _template_line(template: str, rendered_line: str) -> int | None:
    """Line of the template that produced a rendered line, when the line is literal there."""
    tag = MJML_TAG.search(rendered_line)
    if not tag:
        return None
    path = Path(template)
    if not path.is_file():
        return None
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if tag.group(0) in line:
            return i
    return None
