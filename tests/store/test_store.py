"""The store suite, run over SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, text

from publisher.models import Issue
from publisher.store import Store
from publisher.store.engine import HEAD, make_engine, migrate

NOW = datetime(2024, 11, 18, 8, 0, tzinfo=timezone.utc)
LEASE = timedelta(minutes=5)


def make_issue(period="2024-11-18", number=0, categories=("tech",), subject="Subject"):
    return Issue(number=number, created=NOW, subject=subject, article_ids=("a1", "a2"),
                 html="<p>hi</p>", text="hi", categories=categories, period=period)


def _issue(store: Store, period="2024-11-18", categories=("tech",)):
    issue, _ = store.save_issue(make_issue(period, categories=categories))
    return issue


def test_migrations_create_every_table_and_are_idempotent(store: Store):
    tables = set(inspect(store.engine).get_table_names())
    assert {"subscribers", "issues", "deliveries", "bounces", "alembic_version"} <= tables
    migrate(store.engine)  # already current: nothing happens
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD


def test_existing_database_survives_an_upgrade(database_url):
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from publisher.store.engine import MIGRATIONS

    engine = make_engine(database_url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:  # a database made by the first release
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("INSERT INTO subscribers (email, name, status, categories, created,"
                          " hard_bounces) VALUES ('kept@example.org', 'Kept', 'active', '[]',"
                          " '2024-01-01 00:00:00', 0)"))
    migrate(engine)
    store = Store(engine)
    assert store.get_subscriber("kept@example.org").name == "Kept"
    cols = {c["name"] for c in inspect(engine).get_columns("deliveries")}
    assert "claimed_by" in cols
    engine.dispose()


def test_subscriber_roundtrip_and_states(store: Store):
    added = store.add_subscriber("a@example.org", "Ann", ["tech", "art", "tech"], "pending", NOW)
    assert added.status == "pending" and added.categories == ("art", "tech")
    assert added.created == NOW and added.created.tzinfo is not None
    with pytest.raises(KeyError):
        store.add_subscriber("a@example.org", "Again", [], "active", NOW)
    changed = store.update_subscriber("a@example.org", status="active", confirmed=NOW)
    assert changed.status == "active" and changed.confirmed == NOW
    assert store.update_subscriber("nobody@example.org", status="active") is None
    store.add_subscriber("b@example.org", "", [], "active", NOW)
    assert [s.email for s in store.list_subscribers()] == ["a@example.org", "b@example.org"]
    assert store.count_subscribers() == {"active": 2}
    assert store.remove_subscriber("b@example.org") and not store.remove_subscriber("b@example.org")


def test_list_subscribers_streams_past_one_page(store: Store):
    with store.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO subscribers (email, name, status, categories, created, hard_bounces)"
                 " VALUES (:e, '', 'active', '[]', :c, 0)"),
            [{"e": f"u{i:05}@example.org", "c": NOW.replace(tzinfo=None)} for i in range(2500)],
        )
    emails = [s.email for s in store.list_subscribers("active")]
    assert len(emails) == 2500 and emails == sorted(emails)


def test_save_issue_is_idempotent_per_period(store: Store):
    first, new = store.save_issue(make_issue("2024-W47", 1, subject="One"))
    again, new_again = store.save_issue(make_issue("2024-W47", 1, subject="Other"))
    assert new and not new_again and again == first and first.number == 1
    assert first.subject == "One" and first.id is not None and first.created == NOW
    raced, new_raced = store.save_issue(make_issue("2024-W48", 1))  # a racer made issue 1
    assert raced == first and not new_raced
    second, _ = store.save_issue(make_issue("2024-W48", 0))  # no number: the next free one
    assert second.number == 2
    assert store.last_issue() == second
    assert [i.number for i in store.list_issues()] == [2, 1]
    assert store.get_issue(1).article_ids == ("a1", "a2")
    assert not store.issue_queued(first.id)


def test_queue_is_idempotent_and_follows_categories(store: Store):
    store.add_subscriber("all@example.org", "", [], "active", NOW)
    store.add_subscriber("tech@example.org", "", ["tech"], "active", NOW)
    store.add_subscriber("art@example.org", "", ["art"], "active", NOW)
    store.add_subscriber("wait@example.org", "", [], "pending", NOW)
    issue = _issue(store)
    assert store.queue_deliveries(issue, NOW) == 2
    assert store.queue_deliveries(issue, NOW) == 0
    assert store.delivery_counts(issue.id) == {"queued": 2}
    assert store.issue_queued(issue.id)


def test_claim_lease_settle_and_retry(store: Store):
    for i in range(5):
        store.add_subscriber(f"s{i}@example.org", f"S{i}", [], "active", NOW)
    issue = _issue(store)
    store.queue_deliveries(issue, NOW)
    batch = store.claim_deliveries(issue.id, 3, LEASE, NOW)
    assert [d.email for d in batch] == ["s0@example.org", "s1@example.org", "s2@example.org"]
    assert all(d.status == "claimed" and d.attempts == 1 for d in batch)
    rest = store.claim_deliveries(issue.id, 10, LEASE, NOW, owner="host:2")
    assert len(rest) == 2 and store.claim_owners(issue.id) == {"", "host:2"}
    assert store.claim_deliveries(issue.id, 10, LEASE, NOW) == []  # all leased
    later = NOW + timedelta(seconds=30)
    store.settle_deliveries([batch[0].id], [(batch[1].id, "451 try later", later)],
                            [(batch[2].id, "550 no such user")], NOW)
    assert store.claim_deliveries(issue.id, 10, LEASE, NOW) == []  # retry not yet due
    assert store.next_delivery_time(issue.id, NOW) == later
    retried = store.claim_deliveries(issue.id, 10, LEASE, later)
    assert [d.id for d in retried] == [batch[1].id] and retried[0].attempts == 2
    # the sender holding `rest` died: after the lease, they can be claimed again
    stolen = store.claim_deliveries(issue.id, 10, LEASE, NOW + LEASE + timedelta(seconds=1))
    assert sorted(d.id for d in stolen) == sorted(d.id for d in rest)
    failed = store.list_deliveries(issue.id, "failed")
    assert failed[0].error == "550 no such user"
    assert store.delivery_counts(issue.id) == {"sent": 1, "failed": 1, "claimed": 3}


def test_unsubscribed_are_never_claimed_and_get_skipped(store: Store):
    store.add_subscriber("stay@example.org", "", [], "active", NOW)
    store.add_subscriber("leave@example.org", "", [], "active", NOW)
    issue = _issue(store)
    store.queue_deliveries(issue, NOW)
    store.update_subscriber("leave@example.org", status="unsubscribed", unsubscribed=NOW)
    claimed = store.claim_deliveries(issue.id, 10, LEASE, NOW)
    assert [d.email for d in claimed] == ["stay@example.org"]
    # a claim that finds fewer than it asked for settles those who left: nothing stays due
    assert store.delivery_counts(issue.id) == {"claimed": 1, "skipped": 1}
    assert store.skip_inactive_deliveries(issue.id) == 0


def test_deliveries_of_those_who_left_are_not_due(store: Store):
    """The idle send loop asks when the next delivery is due: those of people who left must
    not count, or a send polls for ever (they are settled skipped instead)."""
    store.add_subscriber("leave@example.org", "", [], "active", NOW)
    issue = _issue(store)
    store.queue_deliveries(issue, NOW)
    store.update_subscriber("leave@example.org", status="unsubscribed", unsubscribed=NOW)
    assert store.next_delivery_time(issue.id, NOW) is None
    assert store.delivery_counts(issue.id) == {"skipped": 1}


def test_release_gives_back_a_claim(store: Store):
    store.add_subscriber("r@example.org", "", [], "active", NOW)
    issue = _issue(store)
    store.queue_deliveries(issue, NOW)
    [d] = store.claim_deliveries(issue.id, 10, LEASE, NOW)
    store.release_deliveries([d.id])
    [again] = store.claim_deliveries(issue.id, 10, LEASE, NOW)
    assert again.attempts == 1


def test_hard_bounces_count_once_per_report_and_bounce_at_threshold(store: Store):
    store.add_subscriber("b@example.org", "", [], "active", NOW)
    assert store.record_bounce("b@example.org", "hard", "5.1.1", "dsn-1", NOW, 2).status == "active"
    assert store.record_bounce("b@example.org", "hard", "5.1.1", "dsn-1", NOW, 2).hard_bounces == 1
    assert store.record_bounce("b@example.org", "soft", "4.2.2", "dsn-2", NOW, 2).status == "active"
    after = store.record_bounce("b@example.org", "hard", "5.1.1", "dsn-3", NOW, 2)
    assert after.status == "bounced" and after.hard_bounces == 2
    assert store.record_bounce("nobody@example.org", "hard", "", "dsn-4", NOW, 2) is None


def test_claims_of_a_dead_sender_come_back_at_once(store: Store):
    store.add_subscriber("d@example.org", "", [], "active", NOW)
    issue = _issue(store)
    store.queue_deliveries(issue, NOW)
    store.claim_deliveries(issue.id, 10, LEASE, NOW, owner="host:99")
    assert store.release_claims_of(issue.id, "host:99") == 1
    [again] = store.claim_deliveries(issue.id, 10, LEASE, NOW, owner="host:100")
    assert again.attempts == 2


def test_settle_skipped_and_queue_with_a_predicate(store: Store):
    store.add_subscriber("x@example.org", "", ["X"], "active", NOW)
    store.add_subscriber("y@example.org", "", [], "active", NOW)
    issue = _issue(store, categories=("x",))
    assert store.queue_deliveries(issue, NOW, wants=lambda s: True) == 2
    claimed = store.claim_deliveries(issue.id, 10, LEASE, NOW)
    store.settle_deliveries([], [], [], NOW, skipped=[claimed[0].id])
    assert store.delivery_counts(issue.id) == {"skipped": 1, "claimed": 1}


def test_upgrade_to_rhythms_keeps_issues_and_numbers_them_per_rhythm(database_url):
    """0008: existing subscribers get the default rhythm (""), existing issues the one
    digest's; numbers are unique per rhythm, no longer overall."""
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy.exc import IntegrityError

    from publisher.models import Issue
    from publisher.store.engine import MIGRATIONS

    engine = make_engine(database_url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:  # a database of the release before rhythms
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0007")
        conn.execute(text("INSERT INTO subscribers (email, name, status, categories, created,"
                          " hard_bounces) VALUES ('kept@example.org', 'Kept', 'active', '[]',"
                          " '2024-01-01 00:00:00', 0)"))
        conn.execute(text("INSERT INTO issues (number, period, subject, html, text, created)"
                          " VALUES (1, 'p', 'One', '<p>1</p>', '1', '2024-01-02 00:00:00')"))
    migrate(engine)
    store = Store(engine)
    assert store.get_subscriber("kept@example.org").rhythm == ""
    assert store.last_issue().subject == "One" and store.last_issue("daily") is None
    daily, new = store.save_issue(Issue(1, NOW, "Daily one", (), "<p>d</p>", "d",
                                        period="daily:1", rhythm="daily"))
    assert new and daily.number == 1 and daily.rhythm == "daily"
    assert store.get_issue(1).subject == "One" and store.get_issue(1, "daily").subject == "Daily one"
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("INSERT INTO issues (rhythm, number, period, subject, html, text, created)"
                          " VALUES ('daily', 1, 'q', 'Two', '', '', '2024-01-03 00:00:00')"))
    engine.dispose()
