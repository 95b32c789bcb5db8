"""A site overrides the default theme file by file; what it lacks comes from the default."""

from __future__ import annotations

from datetime import datetime, timezone

from conftest import ROOT, write_config

from publisher.site.build import build
from publisher.site.theme import BUILTIN_TEMPLATES, template_folders, theme_files

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_a_site_with_no_templates_builds_with_the_default_theme(tmp_path, load):
    cfg = write_config(tmp_path, content=ROOT / "content")
    text = cfg.read_text(encoding="utf-8").replace(str(ROOT / "templates"), str(tmp_path / "none"))
    cfg.write_text(text, encoding="utf-8")
    config = load(cfg)
    report = build(config, NOW)
    out = config.path("output")
    assert report.articles == 5 and not report.warnings
    assert (out / "index.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert (out / "static" / "style.css").is_file() and (out / "feeds" / "feed.xsl").is_file()


def test_one_overridden_template_and_stylesheet_win_and_the_rest_is_the_default(tmp_path, load):
    own = tmp_path / "theme"
    (own / "static").mkdir(parents=True)
    (own / "static" / "style.css").write_text("body { color: teal }\n", encoding="utf-8")
    article = (BUILTIN_TEMPLATES / "article.html").read_text(encoding="utf-8")
    (own / "article.html").write_text(article.replace("{% block content %}",
                                                      "{% block content %}<p>MON THÈME</p>", 1),
                                      encoding="utf-8")
    cfg = write_config(tmp_path, content=ROOT / "content")
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(str(ROOT / "templates"), str(own)),
                   encoding="utf-8")
    config = load(cfg)
    build(config, NOW)
    out = config.path("output")
    page = next(out.glob("2024/11/*/index.html")).read_text(encoding="utf-8")
    assert "MON THÈME" in page
    assert "MON THÈME" not in (out / "index.html").read_text(encoding="utf-8")
    assert (out / "static" / "style.css").read_text(encoding="utf-8") == "body { color: teal }\n"
    assert (out / "static" / "favicon.svg").is_file()  # not overridden: the default's
    # Editing the override is a change the next build sees.
    (own / "static" / "style.css").write_text("body { color: navy }\n", encoding="utf-8")
    assert build(config, NOW).written >= 1
    assert "navy" in (out / "static" / "style.css").read_text(encoding="utf-8")


def test_the_default_folder_itself_is_looked_up_once():
    assert template_folders(BUILTIN_TEMPLATES) == [BUILTIN_TEMPLATES]
    assert theme_files(BUILTIN_TEMPLATES)["article.html"] == BUILTIN_TEMPLATES / "article.html"
