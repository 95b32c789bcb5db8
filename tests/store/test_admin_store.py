"""The dashboard's queries over SQLite and PostgreSQL: keyset pages, prefix search, filters,
weekly sign-ups, an issue's outcomes and those who left after it, settings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from publisher.models import Issue

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)


def test_keyset_pages_search_and_filters(store):
    store.insert_subscribers([(f"a{i:03d}@example.org", f"Ann {i}", ["Tech"] if i % 2 else [])
                              for i in range(120)], "active", NOW)
    store.insert_subscribers([("zoe@example.org", "Zoé Durand", ["Économie"])], "pending", NOW)
    seen, after = [], None
    while True:
        page, more = store.subscriber_page(after=after, limit=50)
        seen += [s.email for s in page]
        if not more:
            break
        after = page[-1].id
    assert len(seen) == len(set(seen)) == 121 and seen[0] == "zoe@example.org"  # newest first
    found, more = store.subscriber_page(q="A017@Example.org")
    assert [s.email for s in found] == ["a017@example.org"] and not more
    assert [s.email for s in store.subscriber_page(q="ZOÉ d")[0]] == ["zoe@example.org"]
    assert [s.email for s in store.subscriber_page(q="zo")[0]] == ["zoe@example.org"]
    assert len(store.subscriber_page(q="ann 1", limit=200)[0]) == 31  # 1, 10-19, 100-119
    assert [s.email for s in store.subscriber_page(status="pending")[0]] == ["zoe@example.org"]
    assert [s.email for s in store.subscriber_page(category="Économie")[0]] == ["zoe@example.org"]
    assert len(store.subscriber_page(category="Tech", limit=500)[0]) == 60
    assert store.subscriber_page(q="%")[0] == [] and store.subscriber_page(category="_")[0] == []


def test_weekly_signups_and_settings(store):
    for week in range(3):
        store.insert_subscribers([(f"w{week}-{i}@example.org", "", []) for i in range(week + 1)],
                                 "active", NOW - timedelta(weeks=week))
    bounds = [NOW - timedelta(weeks=3, days=1) + timedelta(weeks=k) for k in range(4)] + \
        [NOW + timedelta(seconds=1)]
    assert store.signups_between(bounds) == [0, 3, 2, 1]
    assert store.get_setting("admin_password") is None
    store.set_setting("admin_password", "scrypt$x")
    store.set_setting("admin_password", "scrypt$y")
    assert store.get_setting("admin_password") == "scrypt$y"
    store.set_setting("admin_password", None)
    assert store.get_setting("admin_password") is None


def test_issue_outcomes(store):
    store.insert_subscribers([(f"r{i}@example.org", "", []) for i in range(5)], "active",
                             NOW - timedelta(days=9))
    issue, _ = store.save_issue(Issue(number=1, created=NOW - timedelta(days=7), subject="One",
                                      article_ids=("a",), html="<p>1</p>", text="1", period="p1"))
    store.queue_deliveries(issue, NOW - timedelta(days=7))
    claimed = store.claim_deliveries(issue.id, 10, timedelta(minutes=5), NOW - timedelta(days=7))
    by_email = {d.email: d for d in claimed}
    store.settle_deliveries([by_email[f"r{i}@example.org"].id for i in range(3)], [],
                            [(by_email["r3@example.org"].id, "550 no such user")],
                            NOW - timedelta(days=7))
    store.record_bounce("r3@example.org", "hard", "550 no such user", f"smtp:{issue.id}:1",
                        NOW - timedelta(days=7), 3)
    store.update_subscriber("r0@example.org", status="unsubscribed",
                            unsubscribed=NOW - timedelta(days=6))
    store.update_subscriber("r4@example.org", status="unsubscribed",  # never received it
                            unsubscribed=NOW - timedelta(days=6))
    store.save_issue(Issue(number=2, created=NOW - timedelta(days=1), subject="Two",
                           article_ids=("b",), html="<p>2</p>", text="2", period="p2"))
    store.update_subscriber("r1@example.org", status="unsubscribed", unsubscribed=NOW)  # after 2
    [two, one] = store.issue_stats(limit=5)
    assert one.number == 1 and one.counts == {"sent": 3, "failed": 1, "claimed": 1}
    assert one.bounced == 1 and one.unsubscribed_after == 1 and one.total == 5
    assert two.total == 0 and two.unsubscribed_after == 0
    assert store.issue_failures(issue.id) == [("r3@example.org", "550 no such user", 1)]
    lines = store.subscriber_deliveries(by_email["r3@example.org"].subscriber_id)
    assert [(d.issue_number, d.status) for d in lines] == [(1, "failed")]
    bounced = store.subscriber_bounces(by_email["r3@example.org"].subscriber_id)
    assert [b.kind for b in bounced] == ["hard"]
