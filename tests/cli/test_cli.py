"""The CLI through its entry point: exit codes, one-line errors, the summary line."""

from __future__ import annotations

import subprocess
import sys
import time

from click.testing import CliRunner

from publisher.cli import main


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env or {}, catch_exceptions=False)


def test_build_prints_a_one_line_summary_and_strict_fails_on_warnings(site):
    cfg, content = site
    result = run("--config", str(cfg), "build")
    assert result.exit_code == 0, result.output
    assert "5 articles, 2 draft or scheduled, 48 feeds" in result.output
    (content / "broken.md").write_text("---\ntitle: x\n---\n", encoding="utf-8")
    result = run("--config", str(cfg), "build")
    assert result.exit_code == 0 and "broken.md:1: front matter has no 'date'" in result.output
    assert run("--config", str(cfg), "build", "--strict").exit_code == 1


def test_check_reports_problems_and_changes_nothing(site):
    cfg, content = site
    (content / "bad.txt").write_text("Cat\nTitre\n2024-02-31\nCorps.\n", encoding="utf-8")
    result = run("--config", str(cfg), "check")
    assert result.exit_code == 1
    assert "bad.txt:3: '2024-02-31' is not a valid date" in result.output
    assert not (cfg.parent / "public").exists()


def test_config_errors_name_the_key_and_line(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("site:\n  titel: x\nfeeds:\n  limit: beaucoup\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(cfg), "check"], env={})
    assert result.exit_code == 2
    assert "config.yaml:2: unknown key 'site.titel'" in result.output
    assert "config.yaml:4: key 'feeds.limit'" in result.output and "beaucoup" in result.output
    assert "Traceback" not in result.output


def test_missing_config_named_by_env_is_an_error(tmp_path):
    result = CliRunner().invoke(main, ["check"], env={"PUBLISHER_CONFIG": str(tmp_path / "nope.yaml")})
    assert result.exit_code == 2 and "nope.yaml: no such config file" in result.output


def test_site_url_from_environment(site, load):
    config = load(site[0], env={"PUBLISHER_SITE_URL": "https://exemple.fr/blog"})
    assert config.site.url == "https://exemple.fr/blog/"


def test_help_is_fast():
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "publisher", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "build" in done.stdout
    assert time.perf_counter() - start < 3  # generous here; bench/ measures the real figure


def test_config_values_are_checked_before_they_can_hurt(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "site:\n  lang: tlh_XX\n  email: \"Le Fil <nl@example.org>\"\n"
        "paths:\n  article: \"{year}/{nope}/\"\n  category: \"../../out/{slug}/\"\n",
        encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(cfg), "check"],
                                env={"PUBLISHER_SITE_URL": "foo"})
    assert result.exit_code == 2 and "Traceback" not in result.output
    out = result.output
    assert "config.yaml:2: key 'site.lang': unknown language 'tlh_XX'" in out
    assert "config.yaml:3: key 'site.email': must be a bare address" in out
    assert "config.yaml:5: key 'paths.article': unknown or broken placeholder 'nope'" in out
    assert "config.yaml:6: key 'paths.category': must be a relative path" in out
    assert "environment variable PUBLISHER_SITE_URL: key 'site.url'" in out


def test_colliding_slugs_with_a_flat_url_pattern_and_markup_in_warnings(site):
    cfg, content = site
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("paths:\n", "paths:\n  article: \"{slug}.html\"\n"),
                   encoding="utf-8")
    for name in ("a.md", "b.md"):
        (content / name).write_text("---\ntitle: Same\ndate: 2024-01-01\n---\nx\n", encoding="utf-8")
    (content / "c.md").write_text("---\ntitle: C\ndate: \"[/x]\"\n---\nx\n", encoding="utf-8")
    (content / "d.md").write_text("---\ntitle: D\ndate: 2024-01-01\nlang: zz\n---\nx\n", encoding="utf-8")
    result = run("--config", str(cfg), "build")
    assert result.exit_code == 0, result.output
    assert "published as 'same-2'" in result.output and "[/x]" in result.output
    assert "d.md:1: 'lang: zz' is not a language" in result.output
    assert (cfg.parent / "public" / "same-2.html").is_file()
