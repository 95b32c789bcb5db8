"""A subscriber export opened in a spreadsheet runs nothing, and is not world-readable."""

from __future__ import annotations

import csv
import stat
from datetime import datetime, timezone

from publisher.audience import subscribers as uc

NOW = datetime.now(timezone.utc)


def test_formula_cells_and_control_characters_are_neutralised(store, tmp_path):
    store.add_subscriber("a@example.org", '=HYPERLINK("http://evil.example","click")', [],
                         "active", NOW)
    store.add_subscriber("b@example.org", "+1 call\x07me", ["-rm", "@home"], "active", NOW)
    store.add_subscriber("c@example.org", "Ève", ["Tech"], "active", NOW)
    out = tmp_path / "people.csv"
    out.write_text("old", encoding="utf-8")
    out.chmod(0o644)
    assert uc.export_csv(store, out) == 3
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.reader(out.open(encoding="utf-8")))[1:]
    assert rows[0][1] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert rows[1][1] == "'+1 callme" and rows[1][2] == "'-rm,@home"
    assert rows[2][1:3] == ["Ève", "Tech"]
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)


def test_the_import_reads_an_export_back(store, tmp_path):
    store.add_subscriber("a@example.org", "=1+2", [], "active", NOW)
    out = tmp_path / "people.csv"
    uc.export_csv(store, out)
    store.remove_subscriber("a@example.org")
    uc.import_csv(store, out, NOW)
    assert store.get_subscriber("a@example.org").name == "=1+2"
