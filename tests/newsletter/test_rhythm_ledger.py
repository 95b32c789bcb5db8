"""Nothing missed, nothing repeated (issue 17): a stateful hypothesis test that interleaves
publishing articles, rhythm and category switches and sends of each rhythm for a few
subscribers, and checks that each got every article in their categories exactly once,
whatever rhythm they had when it was published.

SQLite by default; PostgreSQL with PUBLISHER_TEST_DATABASE=postgresql."""

from __future__ import annotations

import email
import re
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.policy import default

from delivery_fixtures import throwaway_database_url
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from newsletter_fixtures import make_config

from publisher.audience.tokens import Tokens
from publisher.content import read_article
from publisher.newsletter.rhythms import send_rhythm
from publisher.store import Store
from publisher.store.engine import make_engine, migrate

RHYTHMS = ("instant", "daily", "weekly", "monthly")
CATEGORIES = ("Tech", "Art", "Sport")
PEOPLE = (  # (address, categories followed: () is all)
    ("all@example.org", ()), ("tech@example.org", ("Tech",)),
    ("art@example.org", ("Art", "Sport")), ("late@example.org", ()),
)
TITLE = re.compile(r"Story \d{3}")
CONFIG = make_config(extra="""newsletter:
  rhythms:
    instant: on-publish
    daily: "0 7 * * *"
    weekly: "0 8 * * mon"
    monthly: "0 8 1 * *"
  max_age_days: 365
""")


class Recorder:
    """A transport that keeps (recipient, titles of the articles in the text part)."""

    name = "recorder"

    def __init__(self):
        self.mails: list[tuple[str, tuple[str, ...]]] = []
        self.lock = threading.Lock()

    def connect(self):
        return self

    def send(self, sender, recipient, data):
        msg = email.message_from_bytes(bytes(data), policy=default)
        text = msg.get_body(("plain",)).get_content()
        with self.lock:
            self.mails.append((recipient, tuple(sorted(set(TITLE.findall(text))))))

    def close(self):
        pass


class RhythmLedger(RuleBasedStateMachine):
    folder = None

    @initialize()
    def start(self):
        self.engine = make_engine(throwaway_database_url(self.folder, "rhythms"))
        migrate(self.engine)
        self.store = Store(self.engine)
        self.clock = datetime(2026, 11, 2, 6, 0, tzinfo=timezone.utc)
        self.articles = []
        self.transport = Recorder()
        self.tokens = Tokens("k" * 32)
        for i, (address, categories) in enumerate(PEOPLE[:-1]):
            self.store.add_subscriber(address, "", categories, "active", self.clock,
                                      rhythm=RHYTHMS[i % len(RHYTHMS)])
        self.joined = {address: self.clock for address, _ in PEOPLE[:-1]}
        self.follows = dict(PEOPLE)
        self.away: set[str] = set()  # unsubscribed now
        self.returned: set[str] = set()  # came back after leaving: no backlog
        self.gaps: list[tuple[str, datetime, datetime]] = []  # (address, left, came back)
        self.left: dict[str, datetime] = {}

    def teardown(self):
        if hasattr(self, "engine"):
            self.engine.dispose()

    @rule(category=st.sampled_from(CATEGORIES), minutes=st.integers(1, 3 * 24 * 60))
    def publish(self, category, minutes):
        self.clock += timedelta(minutes=minutes)
        n = len(self.articles)
        raw = (f"---\ntitle: \"Story {n:03d}\"\ndate: {self.clock.isoformat()}\n"
               f"category: {category}\nsummary: \"Summary {n}\"\n---\n\nBody {n}.\n").encode()
        self.articles.append(read_article(raw, f"story-{n}.md", CONFIG))

    @rule(person=st.integers(0, len(PEOPLE) - 2), rhythm=st.sampled_from(RHYTHMS))
    def switch(self, person, rhythm):
        self.store.update_subscriber(PEOPLE[person][0], rhythm=rhythm)

    @rule(person=st.integers(0, len(PEOPLE) - 2),
          categories=st.lists(st.sampled_from(CATEGORIES), max_size=2, unique=True))
    def change_categories(self, person, categories):
        self.store.update_subscriber(PEOPLE[person][0], categories=categories)
        self.follows[PEOPLE[person][0]] = tuple(categories)

    @rule(rhythm=st.sampled_from(RHYTHMS), minutes=st.integers(0, 2 * 24 * 60))
    def send(self, rhythm, minutes):
        self.clock += timedelta(minutes=minutes)
        send_rhythm(CONFIG, self.store, self.transport, self.tokens, self.articles, self.clock,
                    rhythm)

    @rule(person=st.integers(0, len(PEOPLE) - 2))
    def leaves(self, person):
        address = PEOPLE[person][0]
        if address not in self.away:
            self.store.update_subscriber(address, status="unsubscribed", unsubscribed=self.clock)
            self.away.add(address)
            self.left[address] = self.clock

    @rule(person=st.integers(0, len(PEOPLE) - 2), minutes=st.integers(1, 3 * 24 * 60))
    def comes_back(self, person, minutes):
        address = PEOPLE[person][0]
        if address in self.away:
            self.clock += timedelta(minutes=minutes)
            self.store.update_subscriber(address, status="active", confirmed=self.clock,
                                         unsubscribed=None)
            self.away.discard(address)
            self.returned.add(address)
            self.joined[address] = self.clock
            self.gaps.append((address, self.left[address], self.clock))

    @rule(rhythm=st.sampled_from(RHYTHMS))
    def someone_joins(self, rhythm):
        address, categories = PEOPLE[-1]
        if address not in self.joined:
            self.store.add_subscriber(address, "", categories, "active", self.clock, rhythm=rhythm)
            self.joined[address] = self.clock

    @invariant()
    def nobody_gets_an_article_twice(self):
        if not hasattr(self, "transport"):
            return
        got = Counter((to, title) for to, titles in self.transport.mails for title in titles)
        assert not [k for k, n in got.items() if n > 1], got

    def check_everything_arrived(self):
        """After every rhythm sent once more: each got each article of the categories they
        follow now exactly once (those of categories they left: once, or never)."""
        self.clock += timedelta(minutes=1)
        for rhythm in RHYTHMS:
            send_rhythm(CONFIG, self.store, self.transport, self.tokens, self.articles,
                        self.clock, rhythm)
        got = Counter((to, title) for to, titles in self.transport.mails for title in titles)
        for address, left, back in self.gaps:  # published while they were away: never theirs
            for a in self.articles:
                if left < a.date < back:
                    assert got[(address, a.title)] == 0, (address, a.title, "while away")
        for address, _ in PEOPLE:
            if address not in self.joined:
                continue
            categories = self.follows[address]
            for a in self.articles:
                mine = not categories or a.category in categories
                if address in self.away:  # nothing since they left; before: at most once
                    assert got[(address, a.title)] <= 1, (address, a.title)
                elif a.date < self.joined[address]:  # before they (re)joined
                    assert got[(address, a.title)] <= int(address in self.returned), (address, a.title)
                elif mine:
                    assert got[(address, a.title)] == 1, (address, a.title, a.category)
                else:
                    assert got[(address, a.title)] <= 1, (address, a.title)


class Machine(RhythmLedger):
    @rule()
    def every_rhythm_catches_up(self):
        self.check_everything_arrived()


def test_every_article_exactly_once_whatever_the_rhythms(tmp_path):
    Machine.folder = tmp_path
    Machine.TestCase.settings = settings(
        max_examples=25, stateful_step_count=16, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    Machine.TestCase().runTest()
