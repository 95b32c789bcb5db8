"""The limiter's parts: who the client is, which mailbox an address reaches, bounded memory."""

from __future__ import annotations

from publisher.web.limits import RateLimit, client_address, mailbox, networks


def scope(peer: str, forwarded: str | None = None) -> dict:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"client": (peer, 1234), "headers": headers}


def test_x_forwarded_for_only_from_a_trusted_proxy():
    assert client_address(scope("203.0.113.9", "1.2.3.4"), ()) == "203.0.113.9"
    assert client_address(scope("127.0.0.1", "1.2.3.4"), ()) == "127.0.0.1"  # empty by default
    proxies = networks(["127.0.0.1", "10.0.0.0/8"])
    assert client_address(scope("203.0.113.9", "1.2.3.4"), proxies) == "203.0.113.9"
    assert client_address(scope("127.0.0.1", "1.2.3.4"), proxies) == "1.2.3.4"
    # the client wrote "6.6.6.6"; our proxies added the rest: the first hop not ours counts
    assert client_address(scope("127.0.0.1", "6.6.6.6, 198.51.100.2, 10.1.1.1"), proxies) \
        == "198.51.100.2"
    assert client_address(scope("127.0.0.1", "garbage, 10.1.1.1"), proxies) == "garbage"
    assert client_address(scope("127.0.0.1", "10.1.1.1"), proxies) == "127.0.0.1"


def test_mailbox_folds_tags_case_and_gmail_dots():
    assert mailbox("Victim+1@Example.org") == mailbox("victim@example.org") == "victim@example.org"
    assert mailbox("v.i.c.tim+x@googlemail.com") == "victim@gmail.com"
    assert mailbox("first.last@example.org") == "first.last@example.org"  # dots count there
    assert mailbox("+only@example.org") == "+only@example.org"


def test_rate_limit_slides_and_its_memory_is_bounded():
    limit = RateLimit(3, window=60, max_keys=100)
    assert [limit.allow("a", now=t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert limit.allow("a", now=61) is True  # the first hit left the window
    for i in range(10_000):
        limit.allow(f"client{i}", now=100)
    assert len(limit.hits) == 100
    assert all(len(hits) <= 3 for hits in limit.hits.values())
