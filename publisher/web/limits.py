"""Who is asking, and how often: the client address (X-Forwarded-For believed only from
`web.trusted_proxies`), a sliding-window limiter with bounded memory, and the mailbox an
address reaches (so `victim+1@` and `v.ictim@gmail.com` count as the victim)."""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict, deque

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(entries) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(str(e), strict=False) for e in entries)


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(scope, trusted: tuple[Network, ...]) -> str:
    """The peer; when the peer is a trusted proxy, the right-most X-Forwarded-For hop that is
    not one of ours (hops left of it were written by the client and prove nothing)."""
    peer = scope["client"][0] if scope.get("client") else "?"
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"
            for h in v.decode("latin-1").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return peer


class RateLimit:
    """At most `limit` hits per key in any sliding `window` seconds, remembering at most
    `max_keys` keys (the least recently seen are forgotten first)."""

    def __init__(self, limit: int, window: float = 60, max_keys: int = 10_000):
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self.hits: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        hits = self.hits.pop(key, None) or deque(maxlen=self.limit)
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        self.hits[key] = hits  # most recent last
        while len(self.hits) > self.max_keys:
            self.hits.popitem(last=False)
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True


DOTLESS = {"gmail.com", "googlemail.com"}  # providers that ignore dots in the local part


def mailbox(email: str) -> str:
    """The mailbox a (normalised) address delivers to: lower case, without a +tag, without
    dots at the providers that ignore them, googlemail.com as gmail.com."""
    local, _, domain = email.lower().rpartition("@")
    local = local.split("+", 1)[0] or local
    if domain in DOTLESS:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"
