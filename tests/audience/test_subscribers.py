"""Subscriber use cases and the `publisher subscribers` commands, through the entry point."""

from __future__ import annotations

import email
import os
import stat
from email import policy

import pytest
from click.testing import CliRunner

from publisher.audience.tokens import TokenError, Tokens, secret_key
from publisher.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def outbox(project) -> list[email.message.EmailMessage]:
    folder = project.root / "var" / "outbox"
    files = sorted(folder.glob("*.eml")) if folder.exists() else []
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in files]


def test_add_list_remove(project):
    result = run("subscribers", "add", "Ann@Example.ORG", "--name", "Ann", "--category", "tech")
    assert result.exit_code == 0 and "ann@example.org is active" in result.output
    assert "already active" in run("subscribers", "add", "ann@example.org").output
    run("subscribers", "add", "bob@example.org")
    listed = run("subscribers", "list").output.splitlines()
    assert listed == ["ann@example.org\tactive\ttech", "bob@example.org\tactive\t*"]
    assert run("subscribers", "remove", "bob@example.org").exit_code == 0
    assert run("subscribers", "list", "--status", "active").output.count("\n") == 1
    gone = CliRunner().invoke(main, ["subscribers", "remove", "bob@example.org"])
    assert gone.exit_code == 1 and "bob@example.org is not a subscriber" in gone.output


def test_bad_address_is_one_clear_line(project):
    result = CliRunner().invoke(main, ["subscribers", "add", "not-an-address"])
    assert result.exit_code == 1
    assert "'not-an-address' is not a valid address" in result.output
    assert "Traceback" not in result.output


def test_import_reports_bad_rows_by_line_and_keeps_the_rest(project, tmp_path):
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "email,name,categories\n"
        "ann@example.org,Ann,\"tech,art\"\n"
        "broken@,Nobody,\n"
        "\n"
        "cid@example.org,Cid,tech,science\n"
        "ann@example.org,Ann again,\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["subscribers", "import", str(csv_file)])
    assert result.exit_code == 0
    assert f"{csv_file}:3: 'broken@' is not a valid address" in result.output
    assert "2 imported, 1 already there, 1 skipped" in result.output
    listed = run("subscribers", "list").output.splitlines()
    assert listed == ["ann@example.org\tactive\tart,tech", "cid@example.org\tactive\tscience,tech"]


def test_export_then_import_roundtrips(project, tmp_path):
    run("subscribers", "add", "zoe@example.org", "--name", "Zoé Ünïcode", "--category", "Économie")
    run("subscribers", "add", "x@example.org")
    out = tmp_path / "out.csv"
    assert "2 subscribers written" in run("subscribers", "export", str(out)).output
    run("subscribers", "remove", "zoe@example.org")
    run("subscribers", "remove", "x@example.org")
    assert "2 imported" in run("subscribers", "import", str(out)).output
    assert "zoe@example.org\tactive\tÉconomie" in run("subscribers", "list").output


def _states(project) -> dict[str, str]:
    from publisher.store import open_store

    return {s.email: s.status for s in open_store(project.config()).list_subscribers()}


def _leave(project, email: str, status: str) -> None:
    from publisher.store import open_store

    open_store(project.config()).update_subscriber(email, status=status)


def test_export_import_keeps_unsubscribed_and_bounced(project, tmp_path):
    for who in ("a", "u", "b", "p"):
        run("subscribers", "add", f"{who}@example.org")
    _leave(project, "u@example.org", "unsubscribed")
    _leave(project, "b@example.org", "bounced")
    _leave(project, "p@example.org", "pending")
    states = _states(project)
    out = tmp_path / "out.csv"
    run("subscribers", "export", str(out))
    result = run("subscribers", "import", str(out))  # into the same list: nothing changes
    assert "0 imported, 4 already there, 0 skipped" in result.output
    assert _states(project) == states
    for who in ("a", "u", "b", "p"):  # into an empty list: the same states come back
        run("subscribers", "remove", f"{who}@example.org")
    assert "4 imported" in run("subscribers", "import", str(out)).output
    assert _states(project) == states
    plain = tmp_path / "plain.csv"  # a file without states never revives those who left
    plain.write_text("u@example.org\nb@example.org\nnew@example.org\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["subscribers", "import", str(plain)])
    assert f"{plain}:1: u@example.org is unsubscribed: left as is" in result.output
    assert f"{plain}:2: b@example.org is bounced: left as is" in result.output
    assert "1 imported, 0 already there, 2 skipped" in result.output
    assert _states(project) == {**states, "new@example.org": "active"}


def test_add_refuses_those_who_left_unless_forced(project):
    from datetime import datetime, timezone

    from publisher.audience import subscribers as uc
    from publisher.store import open_store

    run("subscribers", "add", "u@example.org")
    _leave(project, "u@example.org", "unsubscribed")
    result = CliRunner().invoke(main, ["subscribers", "add", "u@example.org"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "u@example.org is unsubscribed: not added again" in result.output
    assert _states(project)["u@example.org"] == "unsubscribed"
    store = open_store(project.config())
    sub, changed = uc.add(store, "u@example.org", "", [], datetime.now(timezone.utc), force=True)
    assert changed and sub.status == "active"


def test_non_ascii_local_parts_are_refused_idn_domains_kept_in_ascii(project):
    from publisher.audience.subscribers import SubscriberError, normalise

    result = CliRunner().invoke(main, ["subscribers", "add", "noé@exemple.fr", "--pending"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "'noé@exemple.fr' is not a valid address: non-ASCII characters before the @" in result.output
    try:
        normalise("zoë@exemple.fr")
        raise AssertionError("accepted a non-ASCII local part")
    except SubscriberError:
        pass
    assert normalise("Zoe@Exémple.fr") == "zoe@xn--exmple-cva.fr"
    run("subscribers", "add", "zoe@exémple.fr", "--pending")
    [msg] = outbox(project)
    assert msg["To"] == "zoe@xn--exmple-cva.fr"


def test_pending_sends_a_confirmation_with_a_working_link(project):
    result = run("subscribers", "add", "pat@example.org", "--name", "Pat", "--pending")
    assert "pending: a confirmation email was sent" in result.output
    [msg] = outbox(project)
    assert msg["To"] == "Pat <pat@example.org>"
    assert msg["Subject"] == "Example News · confirmez votre inscription à la lettre"
    text = msg.get_body(("plain",)).get_content()
    link = next(w for w in text.split() if w.startswith("https://news.example.org/confirm?token="))
    token = link.split("token=")[1]
    assert Tokens("test-secret-0123456789abcdefghijklmnopqrstuvwxyz").read("confirm", token, max_age=3600) == "pat@example.org"
    assert "Confirmer mon inscription" in msg.get_body(("html",)).get_content()
    assert "pat@example.org\tpending" in run("subscribers", "list").output


def test_tokens_reject_forgery_other_purposes_and_expiry():
    tokens = Tokens("k1")
    good = tokens.make("unsubscribe", "a@example.org")
    assert tokens.read("unsubscribe", good) == "a@example.org"
    for bad in (good[:-2] + "xx", Tokens("k2").make("unsubscribe", "a@example.org"), "", "a.b.c",
                "!!!.???"):
        try:
            tokens.read("unsubscribe", bad)
            raise AssertionError("accepted a forged token")
        except TokenError as exc:
            assert not exc.expired
    try:
        tokens.read("preferences", good)
        raise AssertionError("accepted a token made for another purpose")
    except TokenError:
        pass
    timed = tokens.make("confirm", "a@example.org", expires=True)
    try:
        tokens.read("confirm", timed, max_age=-1)
        raise AssertionError("accepted an expired token")
    except TokenError as exc:
        assert exc.expired


def test_secret_key_is_generated_once_with_mode_0600(tmp_path):
    key = secret_key(tmp_path / "var", env={})
    path = tmp_path / "var" / "secret.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert secret_key(tmp_path / "var", env={}) == key and len(key) > 40
    key = "k" * 40
    assert secret_key(tmp_path / "var", env={"PUBLISHER_SECRET_KEY": key}) == key
    with pytest.raises(TokenError):
        secret_key(tmp_path / "var", env={"PUBLISHER_SECRET_KEY": "short"})
