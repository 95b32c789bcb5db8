"""The ledger under races: a stateful hypothesis test that interleaves queueing, claims,
sends, unsubscribes, bounces, crashes (claims dropped) and the resumption of a send by the
real send loop over SMTP, and checks the promise: the send ends, nobody is mailed after
leaving, no active subscriber is lost, duplicates stay within the messages in flight.

SQLite by default; PostgreSQL with PUBLISHER_TEST_DATABASE=postgresql."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from delivery_fixtures import TEST_DATABASE, RecordingHandler, throwaway_database_url
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from publisher.mail.delivery import send_deliveries
from publisher.mail.sending import SendSettings
from publisher.mail.smtp import SmtpSettings, SmtpTransport
from publisher.models import Issue
from publisher.store import Store
from publisher.store.engine import make_engine, migrate

PEOPLE = 6
HOST = socket.gethostname()
DEAD_PID = 2 ** 22 + 100  # above any pid_max: a sender known dead (os.kill answers ESRCH)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def server():
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


def compose(d) -> bytes:
    return (f"From: news@example.org\r\nTo: {d.email}\r\nSubject: issue\r\n"
            f"Message-ID: <{d.id}@example.org>\r\n\r\nhello\r\n").encode()


class LedgerRaces(RuleBasedStateMachine):
    """A hand-driven sender (the steps of the send loop, one at a time) racing the people,
    then the real send loop resuming what is left."""

    server: RecordingHandler
    folder = None

    @initialize()
    def start(self):
        self.engine = make_engine(throwaway_database_url(self.folder, "races"))
        migrate(self.engine)
        self.store = Store(self.engine)
        self.emails = [f"p{i}@example.org" for i in range(PEOPLE)]
        for e in self.emails:
            self.store.add_subscriber(e, "", [], "active", utcnow())
        issue, _ = self.store.save_issue(Issue(1, utcnow(), "s", (), "<p>h</p>", "h",
                                               period="p1"))
        self.issue_id = issue.id
        self.store.queue_deliveries(issue, utcnow())
        self.server.messages.clear()
        self.mailed: Counter = Counter()  # address -> messages out, by the hand-driven sender
        self.left: set[str] = set()
        self.held: dict = {}  # delivery id -> Delivery claimed by the live hand-driven sender
        self.wire: dict = {}  # sent, reply not yet recorded: may be sent again after a crash
        self.at_risk = 0  # messages on the wire when a crash dropped them
        self.owner = 0
        self.resumed = False

    def owner_name(self) -> str:
        return f"{HOST}:{DEAD_PID + self.owner}"

    @rule(k=st.integers(1, 4))
    def claim(self, k):
        for d in self.store.claim_deliveries(self.issue_id, k, timedelta(minutes=5), utcnow(),
                                             self.owner_name()):
            assert d.email not in self.left, "a claim picked someone who left"
            self.held[d.id] = d

    @precondition(lambda self: self.held)
    @rule(data=st.data(), retry=st.booleans())
    def send(self, data, retry):
        """Just before MAIL, the sender asks who left (as the send loop does)."""
        d = self.held.pop(data.draw(st.sampled_from(sorted(self.held))))
        if d.subscriber_id in self.store.inactive_subscribers([d.subscriber_id]):
            self.store.settle_deliveries([], [], [], utcnow(), skipped=[d.id])
        elif retry:  # a 451: again a moment later
            self.store.settle_deliveries([], [(d.id, "451", utcnow())], [], utcnow())
        else:
            self.mailed[d.email] += 1
            self.wire[d.id] = d

    @precondition(lambda self: self.wire)
    @rule()
    def reply(self):
        """The server's 250 for the oldest message on the wire is recorded."""
        ident = next(iter(self.wire))
        del self.wire[ident]
        self.store.settle_deliveries([ident], [], [], utcnow())

    @rule(i=st.integers(0, PEOPLE - 1))
    def unsubscribe(self, i):
        self.store.update_subscriber(self.emails[i], status="unsubscribed",
                                     unsubscribed=utcnow())
        self.left.add(self.emails[i])

    @rule(i=st.integers(0, PEOPLE - 1))
    def bounce(self, i):
        found = self.store.record_bounce(self.emails[i], "hard", "550", f"r{i}", utcnow(), 1)
        if found.status != "active":
            self.left.add(self.emails[i])

    @rule()
    def crash(self):
        """kill -9: what was held stays claimed by a dead sender; what was on the wire
        without its reply recorded may go out again."""
        self.at_risk += len(self.wire)
        self.held.clear()
        self.wire.clear()
        self.owner += 1

    def teardown(self):
        if not hasattr(self, "store"):
            return
        try:
            self.crash()
            self.resume()
        finally:
            self.engine.dispose()

    def resume(self):
        """The real send loop takes what is left: it must end."""
        self.server.messages.clear()
        transport = SmtpTransport(SmtpSettings("127.0.0.1", self.server.port, timeout=5))
        box: list = []
        thread = threading.Thread(target=lambda: box.append(send_deliveries(
            self.store, self.issue_id, compose, transport, "news@example.org",
            SendSettings(connections=2, batch_size=3, backoff=0.01, max_attempts=50))),
            daemon=True)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the send never ended"
        assert box, "the send raised"
        again = Counter(r for r, _ in self.server.messages)
        assert not set(again) & self.left, "mailed after leaving"
        counts = self.store.delivery_counts(self.issue_id)
        assert not counts.get("queued") and not counts.get("claimed"), counts
        total = self.mailed + again
        active = {s.email for s in self.store.list_subscribers("active")}
        assert all(total[e] >= 1 for e in active), "an active subscriber was lost"
        duplicates = sum(n - 1 for n in total.values() if n > 1)
        assert duplicates <= self.at_risk, (duplicates, self.at_risk)


@pytest.mark.slow
def test_a_send_racing_unsubscribes_bounces_and_crashes_ends_and_keeps_its_promise(
        server, tmp_path):
    LedgerRaces.server = server
    LedgerRaces.folder = tmp_path
    runner = LedgerRaces.TestCase
    runner.settings = settings(max_examples=25 if TEST_DATABASE == "postgresql" else 35,
                               stateful_step_count=25, deadline=None,
                               suppress_health_check=list(HealthCheck))
    runner("runTest").runTest()
