"""Consent over time: the people who asked to be forgotten stay out (a suppression list of
keyed hashes), a person's data on request (GDPR access), unsubscribing from the command line.

    guard = Suppressions(store, tokens.digest)   # given to `subscribers.add` / `import_csv`
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Callable, Iterable

from publisher.audience.subscribers import SubscriberError, normalise, unsubscribe
from publisher.store import Store


class Suppressions:
    """Which addresses were forgotten at their owner's request."""

    def __init__(self, store: Store, digest: Callable[[str], str]):
        self.store, self.digest = store, digest

    def blocked(self, emails: Iterable[str]) -> set[str]:
        """Those of these (normalised) addresses on the suppression list."""
        by_digest = {self.digest(e): e for e in emails}
        return {by_digest[d] for d in self.store.suppressed(by_digest)}

    def lift(self, email: str) -> None:
        """They asked again (an `add --force`): off the list."""
        self.store.unsuppress([self.digest(email)])


def client_record(policy: str, digest: Callable[[str], str], client: str) -> str:
    """What the opt-in record keeps of the client address (web.keep_client_address): the
    address ("kept"), a keyed hash of it ("hashed": proves a claim, tells nothing), or ""."""
    if policy == "kept":
        return client
    if policy == "hashed" and client:
        return "hmac:" + digest(client)[:32]
    return ""


def forget(store: Store, guard: Suppressions, email: str, now: datetime) -> str:
    """Erase a person (their row, deliveries and bounces) but keep a keyed hash of their
    address, so no import or `add` brings them back without --force."""
    address = normalise(email)
    guard.store.suppress(guard.digest(address), now)
    store.remove_subscriber(address)
    return address


def export_one(store: Store, email: str) -> dict:
    """Everything kept about one person, as JSON-ready data (their right of access)."""
    address = normalise(email)
    sub = store.get_subscriber(address)
    if sub is None:
        raise SubscriberError(f"{address} is not a subscriber")
    data = asdict(sub)
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
    data["categories"] = list(sub.categories)
    data["deliveries"] = store.deliveries_of(sub.id)
    data["bounces"] = store.bounces_of(sub.id)
    return data


def unsubscribe_many(store: Store, emails: Iterable[str], now: datetime) -> list[str]:
    """What the one-click link does, for each address; SubscriberError names an unknown one
    (the others are still unsubscribed)."""
    done, unknown = [], []
    for email in emails:
        address = normalise(email)
        (done if unsubscribe(store, address, now) is not None else unknown).append(address)
    if unknown:
        raise SubscriberError(f"not subscribers: {', '.join(unknown)} "
                              f"({len(done)} unsubscribed)")
    return done
