"""The French catalogs are complete: every string extracted from the theme and the code (as
`pybabel extract -F babel.cfg` does) has a translation, and each keeps its placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir

from publisher import i18n

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extracted() -> set[str | tuple[str, str]]:
    import configparser

    parser = configparser.ConfigParser()
    parser.read(ROOT / "babel.cfg")
    method_map = [(section.split(":", 1)[1].strip(), section.split(":", 1)[0])
                  for section in parser.sections()]
    options = {pattern: dict(parser[f"{method}: {pattern}"]) for pattern, method in method_map}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options):
        found.add(message)
    return found


def test_every_visible_string_has_a_french_translation_with_the_same_placeholders():
    messages = extracted()
    assert "Subscribe" in messages and "Skip to content" in messages  # the extraction works
    fr = i18n.translations("fr")
    for message in messages:
        if isinstance(message, tuple):
            singular, plural = message[:2]
            assert (singular, 0) in fr._catalog, f"no French for {singular!r}"
            translated = (fr.ngettext(singular, plural, 1), fr.ngettext(singular, plural, 2))
            for text in translated:
                assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(plural))
        else:
            assert message in fr._catalog, f"no French for {message!r}"
            translated = fr.gettext(message)
            assert set(PLACEHOLDER.findall(translated)) == set(PLACEHOLDER.findall(message))
