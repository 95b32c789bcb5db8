"""Personal data is not world-readable: the SQLite database (and its WAL) 0600 in a 0700 var/,
the outbox's mails (they carry tokens) 0600 in a 0700 folder."""

from __future__ import annotations

import stat
from datetime import datetime, timezone

from publisher.config import load_config
from publisher.mail.transport import Outbox
from publisher.store import open_store


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_and_var_are_private(tmp_path):
    (tmp_path / "config.yaml").write_text("", encoding="utf-8")
    config = load_config(tmp_path / "config.yaml", env={})
    store = open_store(config)
    store.add_subscriber("a@example.org", "", [], "active", datetime.now(timezone.utc))
    var = tmp_path / "var"
    assert mode(var) == 0o700
    for name in ("publisher.db", "publisher.db-wal"):
        assert mode(var / name) == 0o600, name
    store.close()


def test_an_existing_readable_database_is_tightened(tmp_path):
    (tmp_path / "var").mkdir(mode=0o755)  # made by a build before the database
    (tmp_path / "var" / "publisher.db").touch(mode=0o644)
    (tmp_path / "config.yaml").write_text("", encoding="utf-8")
    open_store(load_config(tmp_path / "config.yaml", env={})).close()
    assert mode(tmp_path / "var" / "publisher.db") == 0o600 and mode(tmp_path / "var") == 0o700


def test_outbox_mails_are_private(tmp_path):
    outbox = Outbox(tmp_path / "var" / "outbox")
    conn = outbox.connect()
    conn.send("a@example.org", "b@example.org", b"Message-ID: <x@y>\r\n\r\nhello")
    assert mode(tmp_path / "var" / "outbox") == 0o700
    [mail] = (tmp_path / "var" / "outbox").glob("*.eml")
    assert mode(mail) == 0o600
