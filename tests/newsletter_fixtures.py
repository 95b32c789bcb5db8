"""The newsletter tests' sample config: the sample content, an issue's `now` and its last issue."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from publisher.config import parse_config
from publisher.site.theme import BUILTIN_TEMPLATES

ROOT = Path(__file__).resolve().parents[1]
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2024, 11, 25, 9, 0, tzinfo=PARIS)
SINCE = datetime(2024, 1, 1, tzinfo=PARIS)  # the previous issue


def make_config(tmp: Path | None = None, extra: str = ""):
    templates = tmp or BUILTIN_TEMPLATES
    text = f"""site:
  url: "https://example.org/blog/"
  title: "Le Fil"
  postal_address: "Le Fil, 1 rue de l'Exemple, 75001 Paris"
paths:
  content: "{ROOT / 'content'}"
  templates: "{templates}"
{extra}"""
    return parse_config(text, "config.yaml", ROOT, {})
