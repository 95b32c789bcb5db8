"""Transports and DKIM: a signature that covers both List-Unsubscribe headers and verifies."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from delivery_fixtures import write_articles
from publisher.cli import main
from publisher.config import Config, Mail
from publisher.mailer import Outbox, SmtpSettings, compose
from publisher.store import open_store

NOW = datetime.now(timezone.utc)


def test_smtp_url_from_the_environment(load, tmp_path):
    (tmp_path / "config.yaml").write_text("", encoding="utf-8")
    config = load(env={"PUBLISHER_SMTP_URL": "smtps://ann%40x.org@mail.example.net",
                       "PUBLISHER_SMTP_PASSWORD": "s3cret"})
    s = SmtpSettings.from_config(config.mail)
    assert (s.host, s.port, s.security, s.username, s.password) == (
        "mail.example.net", 465, "tls", "ann@x.org", "s3cret")
    s = SmtpSettings.from_config(Mail(smtp_url="smtp://relay:2525?starttls=true"))
    assert (s.host, s.port, s.security, s.username) == ("relay", 2525, "starttls", None)


def test_compose_refuses_header_injection_and_outbox_overwrites_a_resend(tmp_path):
    config = Config()
    data = compose(config, "a@example.org", "Hi\r\nBcc: evil@example.org", "text", "<p>html</p>",
                   name="Ann\nX-Evil: 1")
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in head and b"\r\nX-Evil:" not in head
    box = Outbox(tmp_path).connect()
    box.send("n@example.org", "a@example.org", data)
    box.send("n@example.org", "a@example.org", data)
    assert len(list(tmp_path.glob("*.eml"))) == 1


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is needed to make a test key")
def test_dkim_signs_the_list_unsubscribe_headers(project, tmp_path):
    import dkim

    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    write_articles(project.root / "content", NOW)
    project.write(f"paths:\n  content: {project.root / 'content'}\n"
                  f"mail:\n  dkim_key: {key}\n  dkim_selector: s1\n")
    open_store(project.config()).add_subscriber("a@example.org", "Ann", [], "active", NOW)
    assert CliRunner().invoke(main, ["newsletter", "send"]).exit_code == 0
    [eml] = (project.root / "var" / "outbox").glob("*.eml")
    data = eml.read_bytes()
    signature = data.split(b"\r\n\r\n")[0].split(b"DKIM-Signature:")[1]
    signed = re.search(rb"h=([^;]+);", signature.replace(b"\r\n", b"").replace(b" ", b"")).group(1)
    assert b"list-unsubscribe" in signed.split(b":") and b"list-unsubscribe-post" in signed.split(b":")
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
    assert dkim.verify(data, dnsfunc=lambda name, timeout=5: record)
