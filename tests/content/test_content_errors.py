"""A bad file gives one line naming the file and line, and the rest of the folder builds."""

from __future__ import annotations

from datetime import datetime, timezone

from publisher.content import load_articles
from publisher.site.build import build

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
BAD = {
    "no-date.txt": "Nouvelles\nUn titre\n\nDu texte.\n".encode(),
    "impossible-date.txt": "Nouvelles\nUn titre\n2024-13-45\nDu texte.\n".encode(),
    "empty.md": b"",
    "binary.md": b"\x89PNG\r\n\x1a\n\x00\x00\x00",
    "latin1.txt": "Nouvelles\nUn titre\n2024-01-01\nD\xe9j\xe0 vu.\n".encode("latin-1"),
    "toml-broken.md": b'+++\ntitle = "x\n+++\nbody\n',
}
EXPECTED_LINES = {"no-date.txt": 3, "impossible-date.txt": 3, "empty.md": 1, "binary.md": 1,
                  "latin1.txt": 4, "toml-broken.md": 2}


def test_each_bad_file_is_reported_once_with_its_line_and_the_rest_builds(site, load):
    cfg_path, content = site
    for name, data in BAD.items():
        (content / name).write_bytes(data)
    config = load(cfg_path)
    loaded = load_articles(config)
    reported = {p.path: p for p in loaded.problems}
    assert set(reported) == set(BAD)
    for name, problem in reported.items():
        assert problem.line == EXPECTED_LINES[name], str(problem)
        assert str(problem).startswith(f"{name}:{problem.line}: ") and "\n" not in str(problem)
    report = build(config, NOW)
    assert report.articles == 5 and len(report.warnings) == len(BAD)
    assert (config.path("output") / "feeds" / "all.atom.xml").exists()
