"""The pipelined SMTP worker (publisher.mail.pipelining) on its own, against a PIPELINING server."""

from __future__ import annotations

import queue
import threading

import pytest
from delivery_fixtures import PipeliningServer

from publisher.mail.pipelining import pipelined_connection, pipelined_worker
from publisher.mail.sending import RateLimiter
from publisher.mail.smtp import SmtpSettings, SmtpTransport


class Item:
    def __init__(self, email: str):
        self.email = email


def run_worker(server, items, connections=2, timeout=30.0) -> list:
    transport = SmtpTransport(SmtpSettings("127.0.0.1", server.port, timeout=timeout))
    first = pipelined_connection(transport)
    assert first is not None
    work: queue.Queue = queue.Queue()
    results: queue.Queue = queue.Queue()
    message = b"Subject: hi\r\n\r\n.a line with a dot\r\nbody\r\n"
    thread = threading.Thread(target=pipelined_worker, args=(
        transport, first, "news@example.org", lambda item: message, work, results,
        RateLimiter(0), connections))
    thread.start()
    work.put(items)
    outcomes: list = []
    while len(outcomes) < len(items):
        outcomes += results.get(timeout=20)
    work.put(None)
    thread.join(10)
    assert not thread.is_alive()
    return outcomes


def test_every_message_is_sent_once_with_its_dots_and_commands_pipelined():
    server = PipeliningServer().start()
    try:
        items = [Item(f"u{i}@example.org") for i in range(50)]
        outcomes = run_worker(server, items)
    finally:
        server.stop()
    assert sorted(kind for kind, _, _ in outcomes) == ["sent"] * 50
    assert server.by_recipient() == {item.email: 1 for item in items}
    assert all(data == b"Subject: hi\r\n\r\n.a line with a dot\r\nbody\r\n"
               for _, data in server.messages)
    assert server.groups > 0


def test_a_silent_server_times_out_one_message_and_the_rest_go_on_another_connection():
    server = PipeliningServer().start()
    server.silent = {"slow@example.org"}
    try:
        items = [Item(f"u{i}@example.org") for i in range(10)]
        items.insert(3, Item("slow@example.org"))
        outcomes = run_worker(server, items, timeout=0.5)
    finally:
        server.stop()
    kinds = {item.email: (kind, str(error or "")) for kind, item, error in outcomes}
    assert kinds.pop("slow@example.org") == ("retry", "SMTP 127.0.0.1:%d: timed out" % server.port)
    assert all(kind == "sent" for kind, _ in kinds.values())
    assert server.by_recipient() == {item.email: 1 for item in items
                                     if item.email != "slow@example.org"}


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_bug_in_the_pipelined_worker_stops_the_send_instead_of_hanging_it(
        project, pipelining_server, monkeypatch):
    from test_delivery import configure, send, subscribe

    from publisher.mail.pipelined_engine import Engine as _Engine
    from publisher.store import open_store

    def broken(self, link, code):
        raise RuntimeError("a bug")

    configure(project, pipelining_server.port)
    subscribe(project, 20)
    with monkeypatch.context() as patch:
        patch.setattr(_Engine, "_opened", broken)
        result = send()
    assert result.exit_code == 1 and "sending thread stopped" in result.output
    assert send().exit_code == 0  # what it held went back to the queue: the next send ends it
    store = open_store(project.config())
    assert store.delivery_counts(store.last_issue().id) == {"sent": 20}
    assert pipelining_server.by_recipient() == {e: 1 for e in pipelining_server.by_recipient()}
    assert len(pipelining_server.by_recipient()) == 20


def test_a_rate_limit_slower_than_the_timeout_times_nothing_out():
    """The content of a message waits for the next message's slot (one write): that wait is
    ours, not the server's, and must not count as the server being silent."""
    server = PipeliningServer().start()
    try:
        transport = SmtpTransport(SmtpSettings("127.0.0.1", server.port, timeout=0.3))
        first = pipelined_connection(transport)
        work: queue.Queue = queue.Queue()
        results: queue.Queue = queue.Queue()
        items = [Item(f"u{i}@example.org") for i in range(3)]
        thread = threading.Thread(target=pipelined_worker, args=(
            transport, first, "news@example.org", lambda item: b"Subject: hi\r\n\r\nbody\r\n",
            work, results, RateLimiter(2.0), 1))  # 0.5 s between messages > 0.3 s timeout
        thread.start()
        work.put(items)
        outcomes: list = []
        while len(outcomes) < len(items):
            outcomes += results.get(timeout=20)
        work.put(None)
        thread.join(10)
    finally:
        server.stop()
    assert [(kind, str(error or "")) for kind, _, error in outcomes] == [("sent", "")] * 3
    assert server.by_recipient() == {item.email: 1 for item in items}


def test_a_server_that_takes_no_more_connections_gets_everything_over_those_open():
    """A 421 to a new connection (a per-client connection limit) while others are open: send
    over those, do not fail (and pause the send for) a message per refused connection."""
    server = PipeliningServer().start()
    server.max_sessions = 1
    try:
        items = [Item(f"u{i}@example.org") for i in range(20)]
        outcomes = run_worker(server, items, connections=4)
    finally:
        server.stop()
    assert sorted(kind for kind, _, _ in outcomes) == ["sent"] * 20
    assert server.by_recipient() == {item.email: 1 for item in items}


def test_a_server_gone_silent_costs_one_connection_timeout_not_one_a_message():
    """The connection dies and new ones are never greeted: the messages waiting are given
    back as 'down' after one attempt to connect, not one attempt (one timeout) each."""
    import time

    server = PipeliningServer().start()
    server.silent = {"slow@example.org"}
    try:
        transport = SmtpTransport(SmtpSettings("127.0.0.1", server.port, timeout=0.3))
        first = pipelined_connection(transport)
        server.greeting = None
        work: queue.Queue = queue.Queue()
        results: queue.Queue = queue.Queue()
        items = [Item("slow@example.org")] + [Item(f"u{i}@example.org") for i in range(15)]
        thread = threading.Thread(target=pipelined_worker, args=(
            transport, first, "news@example.org", lambda item: b"Subject: hi\r\n\r\nbody\r\n",
            work, results, RateLimiter(0), 1))
        started = time.monotonic()
        thread.start()
        work.put(items)
        outcomes: list = []
        while len(outcomes) < len(items):
            outcomes += results.get(timeout=20)
        elapsed = time.monotonic() - started
        work.put(None)
        thread.join(10)
    finally:
        server.stop()
    kinds = {item.email: kind for kind, item, _ in outcomes}
    assert kinds.pop("slow@example.org") == "retry"
    assert set(kinds.values()) == {"down"} and len(kinds) == 15
    assert elapsed < 2.5, elapsed  # ~0.3 s for the first, ~0.3 s for one connect; not 15 x 0.3 s


def test_the_switch_interval_comes_back_when_two_workers_overlap():
    """Two sends at once in one process (the runner's jobs): the GIL's switch interval is
    lowered while either runs and comes back to what it was when the last one ends, whatever
    the order they end in."""
    import sys
    import time

    before = sys.getswitchinterval()
    server = PipeliningServer().start()
    try:
        transport = SmtpTransport(SmtpSettings("127.0.0.1", server.port, timeout=5))
        workers = []
        for _ in range(2):
            work: queue.Queue = queue.Queue()
            thread = threading.Thread(target=pipelined_worker, args=(
                transport, pipelined_connection(transport), "news@example.org",
                lambda item: b"Subject: hi\r\n\r\nbody\r\n", work, queue.Queue(), RateLimiter(0), 1))
            thread.start()
            time.sleep(0.05)
            workers.append((thread, work))
        assert sys.getswitchinterval() < before
        for thread, work in workers:  # the first started ends first
            work.put(None)
            thread.join(10)
            assert not thread.is_alive()
    finally:
        server.stop()
        after = sys.getswitchinterval()
        sys.setswitchinterval(before)
    assert after == before


# Replies in awkward shapes (the server's replies rewritten by patching PipeliningServer's
# session): each must still be matched with its own command and delivery.
import delivery_fixtures as F  # noqa: E402


def _patched(mode):
    orig = F._PipeliningSession.reply
    def reply(self, text):
        if mode == "multiline" and text[:3] in ("250", "354", "550", "451") and "\r\n" not in text:
            text = f"{text[:3]}-first line\r\n{text[:3]}-second\r\n{text}"
        if mode == "split":
            data = text.encode() + b"\r\n"
            for i in range(len(data)):
                self.transport.write(data[i:i+1])
            if text.startswith("421"):
                self.transport.close()
                self.closed = True
            return
        if (mode == "mail421" and text.startswith("250 OK") and self.sender and not self.rcpts
                and self.server.count == 5 and not getattr(self.server, "did", 0)):
            self.server.did = 1  # the 6th message's MAIL FROM, once
            text = "421 4.3.2 shutting down"
        return orig(self, text)
    return reply


def _run(mode, mp, **knobs):
    mp.setattr(F._PipeliningSession, "reply", _patched(mode))
    server = F.PipeliningServer().start()
    for knob, value in knobs.items():
        setattr(server, knob, value)
    try:
        items = [Item(f"u{i}@example.org") for i in range(30)]
        out = run_worker(server, items)
    finally:
        server.stop()
    return server, items, out


def test_replies_of_many_lines_stay_with_their_command(monkeypatch):
    server, items, out = _run("multiline", monkeypatch, reject={"u3@example.org"}, fail_every=7)
    kinds = {i.email: k for k, i, _ in out}
    assert kinds["u3@example.org"] == "bounced"
    assert sum(k == "retry" for k in kinds.values()) >= 3
    assert all(server.by_recipient().get(e, 0) == 1 for e, k in kinds.items() if k == "sent")
    assert len(server.messages) == sum(k == "sent" for k in kinds.values())


def test_replies_cut_into_single_bytes_stay_with_their_command(monkeypatch):
    server, items, out = _run("split", monkeypatch, reject={"u3@example.org"}, drop_every=9)
    kinds = {i.email: k for k, i, _ in out}
    assert kinds["u3@example.org"] == "bounced"
    assert len(server.messages) == sum(k == "sent" for k in kinds.values())
    assert all(v == 1 for v in server.by_recipient().values())


def test_a_421_to_mail_from_mid_pipeline_fails_one_and_the_rest_go_once(monkeypatch):
    server, items, out = _run("mail421", monkeypatch)
    kinds = {i.email: k for k, i, _ in out}
    assert sorted(kinds.values()) == ["retry"] + ["sent"] * 29
    assert len(out) == 30 and len(server.messages) == sum(k == "sent" for k in kinds.values())
    assert all(v == 1 for v in server.by_recipient().values())


def test_a_354_after_a_refused_rcpt_gets_a_lone_dot_not_the_content(monkeypatch):
    orig = F._PipeliningSession.command
    seen = []
    def command(self, line):
        if line[:4].upper() == b"DATA" and self.sender is not None and not self.rcpts:
            self.in_data = True
            self.reply("354 go ahead anyway")
            return
        return orig(self, line)
    orig_msg = F._PipeliningSession.message
    def message(self, data):
        seen.append((list(self.rcpts), data))
        return orig_msg(self, data)
    monkeypatch.setattr(F._PipeliningSession, "command", command)
    monkeypatch.setattr(F._PipeliningSession, "message", message)
    server = F.PipeliningServer().start()
    server.reject = {"u3@example.org", "u4@example.org"}
    try:
        items = [Item(f"u{i}@example.org") for i in range(12)]
        out = run_worker(server, items, connections=1)
    finally:
        server.stop()
    kinds = {i.email: k for k, i, _ in out}
    assert kinds["u3@example.org"] == kinds["u4@example.org"] == "bounced"
    assert sum(k == "sent" for k in kinds.values()) == 10
    assert [d for r, d in seen if not r] == [b"", b""]  # only the lone dot, no content
    assert all(v == 1 for v in server.by_recipient().values()) and len(server.messages) == 10
