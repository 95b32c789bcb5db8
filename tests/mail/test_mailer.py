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
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.cli import main
from publisher.config import Config, Mail
from publisher.mail.message import compose
from publisher.mail.smtp import SmtpSettings
from publisher.mail.transport import Outbox
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


@pytest.fixture(params=[True, False], ids=["pipelining", "lock-step"])
def offering_server(request):
    """The same server offering PIPELINING, then not: both paths must answer alike."""
    from delivery_fixtures import PipeliningServer

    server = PipeliningServer(pipelining=request.param).start()
    yield server
    server.stop()


def test_smtp_refusals_name_their_stage_and_the_connection_goes_on(offering_server):
    from publisher.errors import DeliveryError
    from publisher.mail.smtp import SmtpConnection

    server = offering_server
    server.reject, server.defer = {"gone@example.org"}, {"grey@example.org"}
    conn = SmtpConnection(SmtpSettings("127.0.0.1", server.port))
    message = b"Subject: hi\r\n\r\nbody\r\n"

    def refusal(recipient: str) -> DeliveryError:
        with pytest.raises(DeliveryError) as caught:
            conn.send("news@example.org", recipient, message)
        return caught.value

    gone = refusal("gone@example.org")
    assert (gone.stage, gone.code, gone.permanent) == ("rcpt", 550, True)
    assert "no such user" in str(gone)
    grey = refusal("grey@example.org")
    assert (grey.stage, grey.code, grey.permanent) == ("rcpt", 451, False)
    conn.send("news@example.org", "grey@example.org", message)  # the retry goes through
    server.mail = "550 5.7.1 sender not allowed"
    refused = refusal("a@example.org")
    assert (refused.stage, refused.code) == ("mail", 550) and "not allowed" in str(refused)
    server.mail, server.data = "", "554 5.7.1 message refused by policy"
    rejected = refusal("a@example.org")
    assert (rejected.stage, rejected.code) == ("data", 554) and "by policy" in str(rejected)
    server.data = ""
    conn.send("news@example.org", "a@example.org", message)  # RSET left the session clean
    conn.close()
    assert [r for r, _ in server.messages] == ["grey@example.org", "a@example.org"]
    assert server.messages[1][1] == message
    assert (server.groups > 0) == server.pipelining


def test_smtp_dot_stuffing_survives_the_trip(offering_server):
    from publisher.mail.smtp import SmtpConnection

    messages = [b".starts with a dot\r\n..two\r\nmiddle\r\n.\r\n.. \r\nend", b".", b"a\r\n.\r\n"]
    conn = SmtpConnection(SmtpSettings("127.0.0.1", offering_server.port))
    for data in messages:
        conn.send("news@example.org", "a@example.org", data)
    conn.close()
    got = [data for _, data in offering_server.messages]
    assert got == [m if m.endswith(b"\r\n") else m + b"\r\n" for m in messages]


def test_a_hang_up_after_a_refusal_reports_the_refusal(offering_server):
    from publisher.errors import DeliveryError
    from publisher.mail.smtp import SmtpConnection

    offering_server.mail = "421 4.3.2 shutting down"
    conn = SmtpConnection(SmtpSettings("127.0.0.1", offering_server.port))
    with pytest.raises(DeliveryError) as caught:
        conn.send("news@example.org", "a@example.org", b"x\r\n")
    assert (caught.value.stage, caught.value.code, caught.value.permanent) == ("mail", 421, False)
    conn.close()


@pytest.fixture(scope="module")
def dotted_issue(tmp_path_factory):
    """A compiled issue whose text has lines that begin with a dot."""
    from publisher.config import load_config
    from publisher.content import load_articles
    from publisher.newsletter.issue import plan_issue, render_issue
    from publisher.newsletter.personalise import compile_issue

    root = tmp_path_factory.mktemp("dots")
    write_articles(root / "content", NOW)
    (root / "content" / "dots.md").write_text(
        f"---\ntitle: \".NET 9\"\ndate: {NOW.replace(microsecond=0).isoformat()}\n"
        "category: Tech\nsummary: \"..et après ?\"\n---\n\n. un point\n", encoding="utf-8")
    (root / "config.yaml").write_text(
        "site:\n  url: https://news.example.org/\n  title: Example News\n"
        f"  email: news@example.org\npaths:\n  content: {root / 'content'}\n", encoding="utf-8")
    config = load_config(root / "config.yaml", env={})
    plan = plan_issue(load_articles(config).published(NOW), None, 1, NOW, config)
    return compile_issue(render_issue(plan, config), config)


@settings(max_examples=60, deadline=None)
@given(name=st.text(st.characters(blacklist_categories=("Cs",)), max_size=80),
       token=st.text("ab.=-_", min_size=1, max_size=300))
def test_a_prepared_message_carries_exactly_its_dot_stuffed_data(dotted_issue, name, token):
    from publisher.mail.message import Prepared, dot_stuffed
    from publisher.newsletter.personalise import Recipient

    r = Recipient("a@example.org", name, f"https://e.org/u?t={token}", f".{token}")
    prepared = dotted_issue.prepared(r)
    message = bytes(prepared)
    assert isinstance(prepared, Prepared) and b"\r\n.NET 9\r\n" in message
    assert message == dotted_issue.message_bytes(r) and len(prepared) == len(message)
    assert b"".join(prepared.smtp_pieces) == dot_stuffed(message) + b".\r\n"


def test_send_pieces_writes_everything_in_order_through_partial_writes():
    import socket
    import threading

    from publisher.mail.smtp import send_pieces

    pieces = [bytes([65 + i % 26]) * (i * 7919 % 100_000) for i in range(60)] + [b"", b".\r\n"]
    left, right = socket.socketpair()
    left.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    left.settimeout(10)
    got = bytearray()

    def read() -> None:
        while chunk := right.recv(3000):
            got.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    send_pieces(left, pieces)
    left.close()
    reader.join(10)
    right.close()
    assert bytes(got) == b"".join(pieces)
