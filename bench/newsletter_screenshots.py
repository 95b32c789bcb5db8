#!/usr/bin/env python3
"""Screenshot the digest of the sample content, and the newsletter archive, as readers see them.

    python bench/newsletter_screenshots.py [OUT]     # default bench/out/newsletter/

Renders the sample content's issue (personalised for a made-up reader) in French and in
English, and the archive page of two issues, then has headless Chromium (Playwright) take
full-page shots at 375 px and 600 px wide (the archive at 375 and 1024), in light and dark
colour schemes; prints the PNG paths. Look at them.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
NOW = datetime(2024, 11, 25, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))


def _config(lang: str, extra: str = ""):
    from publisher.config import parse_config

    return parse_config(
        f'site: {{url: "https://lefil.example.org/", title: "Le Fil", lang: "{lang}", '
        f'postal_address: "Le Fil, 1 rue de l\'Exemple, 75001 Paris"}}\n'
        f'paths: {{content: "{ROOT / "content"}", templates: "{ROOT / "templates"}"}}\n' + extra,
        "screenshots", ROOT, {})


def render_sample(out: Path, lang: str, content: str = "summary") -> tuple[Path, object]:
    from publisher.content import load_articles
    from publisher.newsletter.issue import plan_issue, render_issue

    config = _config(lang, f"newsletter: {{content: {content}}}\n")
    articles = load_articles(config).published(NOW)
    plan = plan_issue(articles, datetime(2024, 1, 1, tzinfo=NOW.tzinfo), 7, NOW, config)
    rendered = render_issue(plan, config)
    html, _ = rendered.personal(
        "Zoë", "https://lefil.example.org/unsubscribe?token=x", "https://lefil.example.org/preferences?token=x")
    out.mkdir(parents=True, exist_ok=True)
    page = out / f"issue-{lang}-{content}.html"
    page.write_text(html, encoding="utf-8")
    return page, (rendered, articles, config)


def render_archive_page(out: Path, rendered, articles, config) -> Path:
    from publisher.newsletter.archive import INDEX, render_archive

    first = replace(rendered.issue(), number=6, created=NOW - timedelta(days=7), id=1)
    second = replace(rendered.issue(), id=2, sent=NOW)
    files = render_archive([first, second], config, {a.id: a for a in articles})
    page = out / f"archive-{config.site.lang}.html"
    page.write_bytes(files[INDEX])
    return page


def main() -> None:
    from playwright.sync_api import sync_playwright

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "out" / "newsletter"
    shots = []
    for lang in ("fr", "en"):
        page, (rendered, articles, config) = render_sample(out, lang)
        shots += [(page, w) for w in (375, 600)]
        shots.append((render_archive_page(out, rendered, articles, config), 375))
        shots.append((render_archive_page(out, rendered, articles, config), 1024))
    shots.append((render_sample(out, "fr", "full")[0], 600))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        static = ROOT / "publisher" / "site" / "default_theme"
        content = ROOT / "content"

        def serve(route) -> None:  # the site's stylesheet and images, as `publisher serve` would
            rel = route.request.url.removeprefix("https://lefil.example.org/")
            local = static / rel if rel.startswith("static/") else content / rel
            if local.is_file():
                route.fulfill(path=str(local))
            else:
                route.abort()
        for scheme in ("light", "dark"):
            for path, width in shots:
                tab = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
                tab.route("https://lefil.example.org/**", serve)
                tab.goto(path.as_uri())
                png = out / f"{path.stem}-{width}-{scheme}.png"
                tab.screenshot(path=str(png), full_page=True)
                tab.close()
                print(png)
        browser.close()


if __name__ == "__main__":
    main()
