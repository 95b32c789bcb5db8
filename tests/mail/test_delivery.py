"""`publisher newsletter send` against a real aiosmtpd server on loopback."""

from __future__ import annotations

import email
import os
import signal
import socket
import time
from datetime import datetime, timezone
from email import policy

import pytest
from click.testing import CliRunner
from delivery_fixtures import write_articles

from publisher.cli import main
from publisher.store import open_store

NOW = datetime.now(timezone.utc)


def configure(project, port: int, extra: str = "", batch_size: int | None = 50) -> None:
    """`batch_size=None`: the default (200)."""
    write_articles(project.root / "content", NOW)
    batch = f"  batch_size: {batch_size}\n" if batch_size else ""
    project.write(
        f"paths:\n  content: {project.root / 'content'}\n"
        f"mail:\n  transport: smtp\n  host: 127.0.0.1\n  port: {port}\n  retry_backoff: 0.02\n"
        f"  connections: 4\n{batch}{extra}"
    )


def subscribe(project, count: int, **kw) -> list[str]:
    store = open_store(project.config())
    emails = [f"user{i:04}@example.org" for i in range(count)]
    for address in emails:
        store.add_subscriber(address, kw.get("name", "Zoë"), kw.get("categories", []), "active", NOW)
    store.close()
    return emails


def send(*args: str):
    return CliRunner().invoke(main, ["newsletter", "send", *args], catch_exceptions=False)


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_full_send_arrives_once_each_with_the_bulk_sender_headers(project, smtp_server):
    configure(project, smtp_server.port)
    emails = subscribe(project, 300)
    result = send()
    assert result.exit_code == 0, result.output
    assert smtp_server.by_recipient() == {e: 1 for e in emails}
    assert "300 sent via smtp" in result.output
    ids = set()
    for rcpt, data in smtp_server.messages:
        msg = parse(data)
        assert msg["To"].addresses[0].addr_spec == rcpt
        for header in ("From", "Subject", "Date", "List-Id"):
            assert msg[header], header
        ids.add(msg["Message-ID"])
        unsub = msg["List-Unsubscribe"]
        assert "<https://news.example.org/unsubscribe?token=" in unsub
        assert "<mailto:" not in unsub  # no mailbox is read for it (mail.bounce_source)
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg["X-Publisher-Test"] is None and not msg["Subject"].startswith("[")
        assert msg.get_content_type() == "multipart/alternative"
        plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
        assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
        assert "Zoë" in plain.get_content() and "Article 0 é" in html.get_content()
    assert len(ids) == 300
    again = send()
    assert "nothing new" in again.output and len(smtp_server.messages) == 300


def test_temporary_failures_and_dropped_connections_still_reach_everyone_once(project, smtp_server):
    configure(project, smtp_server.port)
    emails = subscribe(project, 200)
    smtp_server.fail_every, smtp_server.drop_every = 7, 11
    result = send()
    assert result.exit_code == 0, result.output
    assert smtp_server.by_recipient() == {e: 1 for e in emails}
    retried = int(next(line for line in result.output.splitlines() if "retried" in line).split()[-2])
    assert retried >= 200 // 11


def test_a_550_recipient_is_marked_failed_and_counts_as_a_bounce(project, smtp_server):
    configure(project, smtp_server.port)
    emails = subscribe(project, 20)
    smtp_server.reject = {emails[3]}
    result = send()
    assert f"failed {emails[3]}: 550 5.1.1 no such user here" in result.output
    assert len(smtp_server.messages) == 19
    store = open_store(project.config())
    issue = store.last_issue()
    [failed] = store.list_deliveries(issue.id, "failed")
    assert failed.email == emails[3] and failed.error.startswith("550")
    assert store.get_subscriber(emails[3]).hard_bounces == 1
    assert issue.sent is not None


def test_a_pipelining_server_gets_everyone_once_through_refusals_and_drops(project,
                                                                          pipelining_server):
    server = pipelining_server
    configure(project, server.port)
    (project.root / "content" / "dots.md").write_text(
        f"---\ntitle: \".NET 9 est sorti\"\ndate: {NOW.replace(microsecond=0).isoformat()}\n"
        "category: Tech\nsummary: \"..et après ?\"\n---\n\n. un point\n", encoding="utf-8")
    emails = subscribe(project, 200)
    gone, grey = emails[3], set(emails[10:20])
    server.reject, server.defer = {gone}, grey
    server.fail_every, server.drop_every = 7, 11
    result = send()
    assert result.exit_code == 0, result.output
    assert server.groups > 0  # MAIL, RCPT and DATA did go out together
    assert server.by_recipient() == {e: 1 for e in emails if e != gone}
    assert server.deferred == grey  # 451 to RCPT: tried again later, then delivered
    assert f"failed {gone}: 550 5.1.1 no such user here" in result.output
    store = open_store(project.config())
    issue = store.last_issue()
    assert store.delivery_counts(issue.id) == {"sent": 199, "failed": 1}
    assert store.get_subscriber(gone).hard_bounces == 1
    assert all(store.get_subscriber(e).hard_bounces == 0 for e in grey)
    for rcpt, data in server.messages:
        msg = parse(data)
        assert msg["To"].addresses[0].addr_spec == rcpt
        plain = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert "\n.NET 9 est sorti\n" in plain and "\n..et après\u202f?" in plain  # French typography
        assert ".NET 9 est sorti" in msg.get_body(("html",)).get_content()


@pytest.fixture(params=["aiosmtpd", "pipelining"])
def refusing_server(request):
    """A server that answers `mail` at MAIL FROM and `data` at DATA: aiosmtpd (lock-step),
    and one that offers PIPELINING."""
    from aiosmtpd.controller import Controller
    from delivery_fixtures import PipeliningServer, RecordingHandler

    if request.param == "pipelining":
        server = PipeliningServer().start()
        yield server
        server.stop()
        return

    class Refusing(RecordingHandler):
        mail = data = ""

        async def handle_MAIL(self, server, session, envelope, address, mail_options):
            if self.mail:
                return self.mail
            envelope.mail_from = address
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            if self.data:
                with self.lock:
                    self.count += 1
                return self.data
            return await super().handle_DATA(server, session, envelope)

    handler = Refusing()
    handler.port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    yield handler
    controller.stop()


def test_a_550_to_mail_from_stops_the_send_with_no_bounce_and_nothing_failed(project,
                                                                            refusing_server):
    configure(project, refusing_server.port)
    emails = subscribe(project, 30)
    refusing_server.mail = "550 5.7.1 sender not allowed"
    for _ in range(4):  # more sends than the bounce threshold: still nobody bounced
        result = CliRunner().invoke(main, ["newsletter", "send"])
        assert result.exit_code == 1 and "Traceback" not in result.output
        [line] = [x for x in result.output.splitlines() if "550" in x]
        assert f"127.0.0.1:{refusing_server.port}" in line and "sender not allowed" in line
        assert "rest stays queued" in line
    store = open_store(project.config())
    issue = store.last_issue()
    assert store.delivery_counts(issue.id) == {"queued": 30} and issue.sent is None
    assert all(store.get_subscriber(e).hard_bounces == 0 for e in emails)
    assert all(store.get_subscriber(e).status == "active" for e in emails)
    refusing_server.mail = ""
    assert send().exit_code == 0
    assert refusing_server.by_recipient() == {e: 1 for e in emails}
    assert open_store(project.config()).last_issue().sent is not None


def test_a_550_to_data_fails_without_a_bounce_and_five_in_a_row_stop_the_send(project,
                                                                              refusing_server):
    configure(project, refusing_server.port, "  connections: 1\n")
    emails = subscribe(project, 30)
    refusing_server.data = "554 5.7.1 message refused by policy"
    result = CliRunner().invoke(main, ["newsletter", "send"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "refused the message 5 times in a row" in result.output
    store = open_store(project.config())
    issue = store.last_issue()
    counts = store.delivery_counts(issue.id)
    assert counts["failed"] == 5 and counts["queued"] == 25 and issue.sent is None
    failed = store.list_deliveries(issue.id, "failed")
    assert all(d.error.startswith("554 5.7.1 message refused") for d in failed)
    assert all(store.get_subscriber(e).hard_bounces == 0 for e in emails)
    refusing_server.data = ""
    assert send().exit_code == 0
    assert len(refusing_server.by_recipient()) == 25
    assert open_store(project.config()).last_issue().sent is not None


def test_unsubscribed_before_the_send_get_nothing(project, smtp_server):
    configure(project, smtp_server.port)
    emails = subscribe(project, 10)
    store = open_store(project.config())
    store.update_subscriber(emails[0], status="unsubscribed", unsubscribed=NOW)
    send()
    assert emails[0] not in smtp_server.by_recipient() and len(smtp_server.messages) == 9


def test_a_name_with_a_newline_injects_no_header(project, smtp_server):
    configure(project, smtp_server.port)
    store = open_store(project.config())
    store.add_subscriber("eve@example.org", "Eve\r\nBcc: victim@example.org", [], "active", NOW)
    send()
    [(rcpt, data)] = smtp_server.messages
    msg = parse(data)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert msg["Bcc"] is None and b"\r\nBcc:" not in head and b"\nBcc:" not in head
    assert rcpt == "eve@example.org"


def test_server_down_stops_cleanly_then_resumes(project, smtp_server):
    port = free_port()
    configure(project, port, "  max_attempts: 2\n")
    emails = subscribe(project, 30)
    down = CliRunner().invoke(main, ["newsletter", "send"])
    assert down.exit_code == 1 and "Traceback" not in down.output
    assert f"127.0.0.1:{port}" in down.output and "run the send again" in down.output
    store = open_store(project.config())
    assert store.delivery_counts(store.last_issue().id) == {"queued": 30}
    configure(project, smtp_server.port)
    assert send().exit_code == 0
    assert smtp_server.by_recipient() == {e: 1 for e in emails}


def test_categories_narrow_the_digest_and_an_empty_one_is_not_sent(project, smtp_server):
    configure(project, smtp_server.port)
    store = open_store(project.config())
    store.add_subscriber("tech@example.org", "", ["Tech"], "active", NOW)
    store.add_subscriber("sport@example.org", "", ["Sport"], "active", NOW)
    store.add_subscriber("all@example.org", "", [], "active", NOW)
    send()
    got = {rcpt: parse(data).get_body(("plain",)).get_content() for rcpt, data in smtp_server.messages}
    assert set(got) == {"tech@example.org", "all@example.org"}
    assert "Article 0" in got["tech@example.org"] and "Article 1" not in got["tech@example.org"]
    assert "Article 1" in got["all@example.org"]


def test_test_copy_and_dry_run_leave_the_ledger_alone(project, smtp_server):
    configure(project, smtp_server.port)
    subscribe(project, 5)
    dry = send("--dry-run")
    assert "issue 1:" in dry.output and "to 5 subscribers" in dry.output
    copy = send("--to", "Editor@Example.org")
    assert "sent to editor@example.org" in copy.output
    assert [r for r, _ in smtp_server.messages] == ["editor@example.org"]
    test_copy = parse(smtp_server.messages[0][1])  # marked, in the site's language (fr)
    assert test_copy["Subject"].startswith("[Essai] Article 0 é") and test_copy["X-Publisher-Test"] == "yes"
    assert open_store(project.config()).last_issue() is None


def test_an_issue_over_the_size_limit_is_refused_unless_forced(project, smtp_server):
    configure(project, smtp_server.port, "  max_html_bytes: 2000\n")
    subscribe(project, 2)
    refused = CliRunner().invoke(main, ["newsletter", "send"])
    assert refused.exit_code == 1 and "Gmail" in refused.output and "--force" in refused.output
    assert smtp_server.messages == []
    assert send("--force").exit_code == 0 and len(smtp_server.messages) == 2


def test_the_default_outbox_needs_no_server(project):
    write_articles(project.root / "content", NOW)
    project.write(f"paths:\n  content: {project.root / 'content'}\n")
    subscribe(project, 3)
    assert "3 sent via outbox" in send().output
    files = sorted((project.root / "var" / "outbox").glob("*.eml"))
    assert len(files) == 3
    assert parse(files[0].read_bytes())["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize("extra", ["", "mail:\n  list_id: letters.example.net\n"])
def test_a_welcome_and_a_digest_carry_the_same_list_headers(project, extra):
    from publisher.audience.notices import Notices
    from publisher.audience.tokens import tokens_for
    from publisher.mail.transport import Outbox

    write_articles(project.root / "content", NOW)
    (project.root / "inbox").mkdir()  # a mailbox read for unsubscribe requests: a mailto:
    read = f"mail:\n  bounce_source: {project.root / 'inbox'}\n" if not extra else ""
    extra = extra.replace("mail:\n", f"mail:\n  bounce_source: {project.root / 'inbox'}\n")
    project.write(f"paths:\n  content: {project.root / 'content'}\n{extra}{read}")
    subscribe(project, 1)
    outbox = project.root / "var" / "outbox"
    assert send().exit_code == 0
    [digest] = [parse(f.read_bytes()) for f in outbox.glob("*.eml")]
    for f in outbox.glob("*.eml"):
        f.unlink()
    config = project.config()
    store = open_store(config)
    Notices(config, Outbox(outbox), tokens_for(config)).welcome(
        store.get_subscriber("user0000@example.org"), 1)
    [welcome] = [parse(f.read_bytes()) for f in outbox.glob("*.eml")]
    names = ("List-Id", "List-Unsubscribe", "List-Unsubscribe-Post")
    assert {h: str(welcome[h]) for h in names} == {h: str(digest[h]) for h in names}
    assert "<mailto:news@example.org?subject=unsubscribe>" in digest["List-Unsubscribe"]
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    list_id = "letters.example.net" if extra else "newsletter."
    assert f"<{list_id}" in digest["List-Id"]


def test_mail_processes_share_the_send_between_forked_senders(project, pipelining_server):
    server = pipelining_server
    configure(project, server.port, extra="  processes: 2\n")
    emails = subscribe(project, 300)
    server.fail_every, server.drop_every = 13, 17
    result = send()
    assert result.exit_code == 0, result.output
    assert server.by_recipient() == {e: 1 for e in emails}
    assert "300 sent via smtp" in result.output  # the children's reports merged
    store = open_store(project.config())
    issue = store.last_issue()
    assert store.delivery_counts(issue.id) == {"sent": 300} and issue.sent is not None
    from sqlalchemy import select

    from publisher.store.tables import deliveries

    with store.engine.begin() as conn:
        owners = set(conn.execute(select(deliveries.c.claimed_by).distinct()
                                  .where(deliveries.c.issue_id == issue.id)).scalars())
    assert len(owners) == 2 and f"{socket.gethostname()}:{os.getpid()}" in owners


def test_a_forked_sender_that_dies_leaves_its_claims_to_the_parent(project, pipelining_server):
    from publisher.content import load_articles
    from publisher.mail.processes import send_in_processes
    from publisher.mail.sending import SendSettings
    from publisher.mail.transport import make_transport
    from publisher.newsletter import campaign

    configure(project, pipelining_server.port)
    emails = subscribe(project, 200)
    config, parent = project.config(), os.getpid()
    store = open_store(config)
    issue, _ = campaign.next_issue(config, store, load_articles(config).published(NOW), NOW)
    store.queue_deliveries(issue, NOW)

    composed = []

    def compose(d):
        composed.append(d.email)
        if os.getpid() == parent:
            time.sleep(0.002)  # the child gets its share
        elif len(composed) == 10:
            os.kill(os.getpid(), signal.SIGKILL)  # the child dies with claims in hand
        return f"Subject: hi\r\nTo: {d.email}\r\n\r\nhello\r\n".encode()

    report = send_in_processes(store, issue.id, compose, make_transport(config),
                               "news@example.org", SendSettings(connections=2, batch_size=50),
                               processes=2)
    counts = pipelining_server.by_recipient()
    assert set(counts) == set(emails) and all(n <= 2 for n in counts.values())
    assert store.delivery_counts(issue.id) == {"sent": 200}
    # the child sent 9 and died before committing them: the parent took its claims back at
    # once (its pid is gone) and sent them again; the report counts what went out again
    twice = [e for e, n in counts.items() if n == 2]
    assert 1 <= len(twice) <= 9 and report.sent == 200


@pytest.mark.parametrize("server", ["pipelining_server", "smtp_server"])
def test_an_unsubscribe_during_the_send_stops_the_claimed_delivery_not_yet_on_the_wire(
        project, request, server):
    """Claimed (in flight in this sender) when the subscriber leaves: skipped, not sent."""
    import threading

    from publisher.audience.subscribers import unsubscribe

    server = request.getfixturevalue(server)
    configure(project, server.port, "  rate_limit: 20\n", batch_size=None)
    emails = subscribe(project, 60)
    leaving = emails[-1]
    results: list = []
    sending = threading.Thread(target=lambda: results.append(send()))
    sending.start()
    store = open_store(project.config())
    deadline = time.monotonic() + 20
    while len(server.messages) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    issue = store.last_issue()
    status = {d.email: d.status for d in store.list_deliveries(issue.id)}
    assert status[leaving] == "claimed"  # claimed already: the claim cannot filter it out
    unsubscribe(store, leaving, datetime.now(timezone.utc))
    sending.join(60)
    assert results and results[0].exit_code == 0, results and results[0].output
    assert leaving not in server.by_recipient()
    assert server.by_recipient() == {e: 1 for e in emails[:-1]}
    assert store.delivery_counts(issue.id) == {"sent": 59, "skipped": 1}


def test_a_server_that_never_greets_costs_one_connection_a_pause(project, pipelining_server):
    """Up but silent (no greeting): each pause of the send is one connection attempt, one
    timeout; not a probe then one attempt (one timeout) per claimed message."""
    server = pipelining_server
    server.greeting = None
    configure(project, server.port, "  max_attempts: 2\n  timeout: 0.3\n")
    emails = subscribe(project, 30)
    result = send()
    assert result.exit_code == 1 and "gave up after 2 tries" in result.output, result.output
    assert "timed out" in result.output
    assert server.connections == 3  # the first try and the two after a pause
    store = open_store(project.config())
    assert store.delivery_counts(store.last_issue().id) == {"queued": len(emails)}


def test_auth_not_offered_stops_the_send_at_once_in_one_line(project, smtp_server):
    """A configuration error (a login set, no AUTH offered) is not retried as if temporary."""
    configure(project, smtp_server.port, extra="  username: news\n  password: secret\n")
    subscribe(project, 5)
    started = time.monotonic()
    result = CliRunner().invoke(main, ["newsletter", "send"])
    assert result.exit_code == 1 and time.monotonic() - started < 10
    [line] = result.output.strip().splitlines()
    assert "AUTH" in line and "mail.username" in line and "secret" not in line
    assert smtp_server.messages == []


def test_a_cli_send_ends_its_first_pass_and_says_what_waits_for_a_retry(project, smtp_server):
    configure(project, smtp_server.port)
    project.write(project.path.read_text().replace("retry_backoff: 0.02", "retry_backoff: 600"))
    emails = subscribe(project, 30)
    smtp_server.fail_every = 4  # a 451 to every 4th message
    started = time.monotonic()
    result = send()
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 30
    waiting = 30 - len(smtp_server.messages)
    assert waiting > 0 and f"{waiting} wait for a retry, the next at " in result.output
    store = open_store(project.config())
    assert store.last_issue().sent is None
    assert set(smtp_server.by_recipient()) < set(emails)


def test_temporary_failures_are_retried_for_mail_retry_for_then_fail(project, smtp_server):
    """Retries by time, as an MTA does: a server that answers 451 to everything is tried
    again (backoff capped at retry_max_backoff) until mail.retry_for after the first try."""
    configure(project, smtp_server.port,
              "  retry_backoff: 0.1\n  retry_max_backoff: 0.2\n  retry_for: 1.5s\n")
    emails = subscribe(project, 3)
    smtp_server.fail_every = 1
    started = time.monotonic()
    result = send()
    took = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert 1.0 < took < 20, took
    store = open_store(project.config())
    failed = store.list_deliveries(store.last_issue().id, "failed")
    assert {d.email for d in failed} == set(emails)
    assert all(d.attempts >= 5 and "in 0:00:01.5" in d.error for d in failed), failed


def test_a_stop_under_a_rate_limit_leaves_the_rest_queued_and_the_next_send_finishes(
        project, smtp_server):
    """What a sending thread has taken goes out after a stop; under a rate limit that must be
    a moment's worth, not a chunk of 25 at 4 a second. The rest waits, and goes once."""
    import threading

    from publisher.audience.tokens import tokens_for
    from publisher.content import load_articles
    from publisher.mail.transport import make_transport
    from publisher.newsletter.campaign import send_newsletter

    configure(project, smtp_server.port, "  rate_limit: 4\n", batch_size=None)
    emails = subscribe(project, 40)
    config = project.config()
    store = open_store(config)
    stop = threading.Event()
    outcome = send_newsletter(config, store, make_transport(config), tokens_for(config, store),
                              load_articles(config).published(NOW), NOW,
                              progress=lambda done, total: done and stop.set(), stop=stop)
    (issue, report), = outcome.reports
    counts = store.delivery_counts(issue.id)
    assert 1 <= report.sent <= 5 and counts == {"sent": report.sent, "queued": 40 - report.sent}
    assert len(smtp_server.messages) == report.sent and store.last_issue().sent is None
    store.close()
    result = send()
    assert result.exit_code == 0, result.output
    assert smtp_server.by_recipient() == {e: 1 for e in emails}
