"""`publisher init` and `publisher new`: a new publication, in English or French, that builds
and serves its own language; nothing is ever overwritten."""

from __future__ import annotations

import re
from datetime import date, datetime

import httpx
import yaml
from click.testing import CliRunner
from delivery_fixtures import LiveServer

from publisher.cli import main
from publisher.config import load_config
from publisher.site.build import build

NB = "\u00a0"


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_an_english_site_reads_english_pages_and_subscribe_page(tmp_path):
    folder = tmp_path / "mine"
    result = run("init", str(folder), "--language", "en", "--title", "Field Notes")
    assert result.exit_code == 0, result.output
    assert (folder / "templates" / "README.md").is_file()
    assert (folder / ".gitignore").read_text() == "var/\npublic/\n"
    config = load_config(folder / "config.yaml")
    assert config.site.lang == "en" and config.site.title == "Field Notes"
    assert config.newsletter.greeting == "Hello {{ name }},"
    build(config, datetime.now(config.site.tz))
    index = (folder / "public" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in index and "Front page" in index and "Read more" in index
    assert "Get the newsletter by email" in index and "À la une" not in index
    assert "Welcome to Field Notes" in index and re.search(r"[A-Z][a-z]+ \d{1,2}, \d{4}", index)

    from publisher.store import open_store
    from publisher.web.app import create_app

    store = open_store(config)
    try:
        with LiveServer(create_app(config, store=store)) as server:
            page = httpx.get(server.url + "/subscribe")
            bad = httpx.post(server.url + "/subscribe", data={"email": "nope"})
            sent = httpx.post(server.url + "/subscribe", data={"email": "ann@example.org"})
    finally:
        store.close()
    assert "Get the newsletter by email" in page.text and ">Subscribe</button>" in page.text
    assert "abonner" not in page.text
    assert bad.status_code == 400 and "“nope” is not a valid email address." in bad.text
    assert "Check your inbox" in sent.text and "valid for 48 hours" in sent.text
    import email
    from email import policy

    (mail,) = (folder / "var" / "outbox").glob("*.eml")
    msg = email.message_from_bytes(mail.read_bytes(), policy=policy.default)
    assert msg["Subject"] == "Field Notes · confirm your subscription to the newsletter"
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Hello,\n\nSomeone (you, we hope) asked to receive the Field Notes")
    assert "open this link within 48 hours:" in text
    assert "Confirm my subscription" in msg.get_body(("html",)).get_content()


def test_a_french_site_gets_french_typography_and_the_first(tmp_path):
    folder = tmp_path / "fr"
    assert run("init", str(folder), "--language", "fr", "--title", "Le Carnet").exit_code == 0
    cfg = str(folder / "config.yaml")
    result = run("--config", cfg, "new", "L'été : 8 000 visiteurs", "--date", "2024-06-01",
                 "--category", "Été")
    assert result.exit_code == 0, result.output
    path = folder / "content" / "2024-06-01-l-ete-8-000-visiteurs.md"
    assert result.output.strip() == str(path)
    front = yaml.safe_load(path.read_text(encoding="utf-8").split("---")[1])
    assert front == {"title": "L'été : 8 000 visiteurs", "date": date(2024, 6, 1),
                     "category": "Été", "tags": [], "summary": ""}
    assert run("--config", cfg, "build").exit_code == 0
    page = next((folder / "public" / "2024" / "06").rglob("index.html")).read_text(encoding="utf-8")
    assert f"L’été{NB}: 8{NB}000 visiteurs" in page and "1er juin 2024" in page
    assert "À la une" in page and "Par <a href=\"http://127.0.0.1:8000/author/la-redaction/\" rel=\"author\">La rédaction</a>" in page


def test_init_and_new_never_overwrite(tmp_path):
    folder = tmp_path / "site"
    assert run("init", str(folder), "--language", "en", "--title", "T").exit_code == 0
    before = (folder / "config.yaml").read_text()
    result = run("init", str(folder), "--language", "fr", "--title", "Autre")
    assert result.exit_code == 1 and "already exists; nothing was written" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert (folder / "config.yaml").read_text() == before
    cfg = str(folder / "config.yaml")
    assert run("--config", cfg, "new", "Same", "--date", "2024-01-02", "--draft").exit_code == 0
    drafted = folder / "content" / "2024-01-02-same.md"
    assert "draft: true" in drafted.read_text()
    again = run("--config", cfg, "new", "Same", "--date", "2024-01-02")
    assert again.exit_code == 1 and "already exists" in again.output
    assert run("--config", cfg, "new", "x", "--date", "2024-13-01").exit_code == 2


def test_what_init_and_new_write_is_on_the_site_at_once_even_at_night(tmp_path):
    """A date alone means site.default_time (08:00): an article made at night and dated by
    its day alone would wait for the morning. init and new date it to the minute."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from publisher.cli.init import scaffold

    night = datetime(2024, 12, 4, 0, 5, 42, tzinfo=ZoneInfo("UTC"))
    files = scaffold("en", "Night", "http://127.0.0.1:8000/", night)
    [(rel, text)] = [(r, t) for r, t in files.items() if r.startswith("content/")]
    assert rel == "content/2024-12-04-welcome.md" and "\ndate: 2024-12-04 00:05\n" in text
    folder = tmp_path / "site"
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    config = load_config(folder / "config.yaml")
    assert build(config, night + timedelta(minutes=1)).articles == 1

    # `new` without --date, on a site whose articles dated by day go out at 23:59: now.
    cfg = folder / "config.yaml"
    cfg.write_text(cfg.read_text().replace("site:\n", 'site:\n  default_time: "23:59"\n', 1))
    path = run("--config", str(cfg), "new", "Late", "--category", "Notes").output.strip()
    assert re.search(r"\ndate: \d{4}-\d\d-\d\d \d\d:\d\d\n", open(path).read())
    config = load_config(cfg)
    report = build(config, datetime.now(config.site.tz) + timedelta(seconds=1))
    assert report.articles == 2 and report.drafts_or_scheduled == 0
