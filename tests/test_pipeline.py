"""The pipelined SMTP worker (publisher.pipeline) on its own, against a PIPELINING server."""

from __future__ import annotations

import queue
import threading

from delivery_fixtures import PipeliningServer
from publisher.delivery import RateLimiter
from publisher.mailer import SmtpSettings, SmtpTransport
from publisher.pipeline import pipelined_connection, pipelined_worker


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
