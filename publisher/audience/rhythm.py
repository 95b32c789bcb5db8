"""A subscriber's rhythm (newsletter.rhythms): chosen by them on the forms, or set by
`publisher subscribers add|set --rhythm` and the CSV import."""

from __future__ import annotations

from typing import Iterable

from publisher.audience.subscribers import SubscriberError, clean_categories, normalise
from publisher.models import Subscriber
from publisher.store import Store


def chosen_rhythm(config, rhythm: str | None) -> str:
    """A rhythm named by a person or a command, checked against newsletter.rhythms; "" (the
    default) for none."""
    if not rhythm:
        return ""
    rhythms = config.newsletter.rhythms
    if rhythm not in rhythms:
        known = ", ".join(rhythms) or "none: newsletter.rhythms is not set in config.yaml"
        raise SubscriberError(f"no rhythm {rhythm!r} (there are: {known})")
    return rhythm


def change(store: Store, email: str, *, rhythm: str | None = None,
           categories: Iterable[str] | None = None) -> Subscriber:
    """Set a subscriber's rhythm and/or categories. A new rhythm takes over at once: the
    ledger says what they received, so the old rhythm's unsent articles come with the new."""
    email = normalise(email)
    changes: dict = {}
    if rhythm is not None:
        changes["rhythm"] = rhythm
    if categories is not None:
        changes["categories"] = clean_categories(categories)
    sub = store.update_subscriber(email, **changes) if changes else store.get_subscriber(email)
    if sub is None:
        raise SubscriberError(f"{email} is not a subscriber")
    return sub
