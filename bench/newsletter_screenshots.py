#!/usr/bin/env python3
"""Screenshot the digest of the sample content at phone and desktop widths.

    python bench/newsletter_screenshots.py [OUT]     # default bench/out/newsletter/

Renders the sample content's issue (personalised for a made-up reader), then runs headless
Chromium at 375 px and 600 px wide; prints the PNG paths. Look at them.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def render_sample(out: Path) -> Path:
    from publisher.config import parse_config
    from publisher.content import load_articles
    from publisher.newsletter.issue import plan_issue, render_issue

    config = parse_config(
        f'site: {{url: "https://lefil.example.org/", title: "Le Fil", '
        f'postal_address: "Le Fil, 1 rue de l\'Exemple, 75001 Paris"}}\n'
        f'paths: {{content: "{ROOT / "content"}", templates: "{ROOT / "templates"}"}}\n',
        "screenshots", ROOT, {})
    now = datetime(2024, 11, 25, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))
    plan = plan_issue(load_articles(config).published(now), datetime(2024, 1, 1, tzinfo=now.tzinfo), 7, now, config)
    html, _ = render_issue(plan, config).personal(
        "Zoë", "https://lefil.example.org/unsubscribe?token=x", "https://lefil.example.org/preferences?token=x")
    out.mkdir(parents=True, exist_ok=True)
    page = out / "issue.html"
    page.write_text(html, encoding="utf-8")
    return page


def screenshot(page: Path, width: int, out: Path, height: int = 2000) -> Path:
    png = out / f"issue-{width}.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--screenshot={png}", f"--window-size={width},{height}",
                    page.as_uri()], check=True, capture_output=True, timeout=120)
    return png


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "out" / "newsletter"
    page = render_sample(out)
    for width in (375, 600):
        print(screenshot(page, width, out))


if __name__ == "__main__":
    main()
