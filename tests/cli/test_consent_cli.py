"""`subscribers unsubscribe`, `export --one`, `remove --forget` and the one secret key,
through the CLI's entry point."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

from click.testing import CliRunner

from publisher.cli import main
from publisher.store import open_store


def run(*args: str):
    return CliRunner().invoke(main, ["subscribers", *args])


def test_unsubscribe_from_the_command_line_is_what_the_link_does(project):
    assert run("add", "a@example.org").exit_code == 0
    assert run("add", "b@example.org").exit_code == 0
    done = run("unsubscribe", "A@example.org", "b@example.org")
    assert done.exit_code == 0 and "2 unsubscribed" in done.output
    store = open_store(project.config())
    assert {s.status for s in store.list_subscribers()} == {"unsubscribed"}
    unknown = run("unsubscribe", "nobody@example.org")
    assert unknown.exit_code == 1 and "nobody@example.org" in unknown.output
    assert "Traceback" not in unknown.output


def test_export_one_prints_one_persons_data_as_json(project):
    run("add", "zoe@example.org", "--name", "Zoë", "--category", "Tech")
    out = run("export", "--one", "Zoe@Example.org")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["email"] == "zoe@example.org" and data["name"] == "Zoë"
    assert data["categories"] == ["Tech"] and data["status"] == "active"
    assert data["optin_source"] == "cli" and data["deliveries"] == [] and data["bounces"] == []
    missing = run("export", "--one", "x@example.org")
    assert missing.exit_code == 1 and "not a subscriber" in missing.output


def test_a_forgotten_address_cannot_be_imported_or_added_back_without_force(project):
    run("add", "gone@example.org", "--name", "Gone")
    done = run("remove", "--forget", "gone@example.org")
    assert done.exit_code == 0 and "forgotten" in done.output
    store = open_store(project.config())
    assert store.get_subscriber("gone@example.org") is None
    with store.engine.begin() as conn:  # only a keyed hash is left, never the address
        dump = "\n".join(str(r) for t in ("subscribers", "suppressions", "settings")
                         for r in conn.exec_driver_sql(f"SELECT * FROM {t}"))
    assert "gone@example.org" not in dump and "Gone" not in dump
    csv = project.root / "people.csv"
    csv.write_text("email,name\ngone@example.org,Gone\nnew@example.org,New\n", encoding="utf-8")
    imported = run("import", str(csv))
    assert imported.exit_code == 0 and "1 imported" in imported.output
    assert "asked to be forgotten" in imported.output
    assert store.get_subscriber("gone@example.org") is None
    assert store.get_subscriber("new@example.org").optin_source == "import"
    refused = run("add", "gone@example.org")
    assert refused.exit_code == 1 and "asked to be forgotten" in refused.output
    forced = run("add", "gone@example.org", "--force")
    assert forced.exit_code == 0 and store.get_subscriber("gone@example.org").status == "active"


def test_a_second_secret_key_is_refused_in_one_line_naming_both(project):
    env = {**os.environ, "PUBLISHER_CONFIG": str(project.path)}
    cmd = [sys.executable, "-m", "publisher", "subscribers", "add", "a@example.org"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr  # the test key, from the environment
    without = {k: v for k, v in env.items() if k != "PUBLISHER_SECRET_KEY"}
    refused = subprocess.run(cmd, env=without, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "PUBLISHER_SECRET_KEY" in refused.stderr and "Traceback" not in refused.stderr
    assert not (project.root / "var" / "secret.key").exists()  # no second key made
    key = project.root / "var" / "secret.key"
    key.parent.mkdir(parents=True, exist_ok=True)  # on PostgreSQL nothing made var/ yet
    key.write_text("another-key-0123456789abcdefghijklmnopqrstuvwxyz\n")
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    other = subprocess.run(cmd, env=without, capture_output=True, text=True, timeout=60)
    assert other.returncode == 1 and len(other.stderr.strip().splitlines()) == 1
    assert str(key) in other.stderr and "environment variable PUBLISHER_SECRET_KEY" in other.stderr
    assert "another-key" not in other.stderr and "test-secret" not in other.stderr
