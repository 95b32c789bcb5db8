"""A real `publisher newsletter send` process killed with SIGKILL mid-send, then run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from test_delivery import configure, subscribe

from publisher.store import open_store

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("processes", [1, 2])
def test_killed_mid_send_then_restarted_completes_the_issue_once(project, smtp_server, processes):
    # the default batch_size: 200 claimed at a time; with 2 processes, the parent is killed
    # and its forked child stops by itself (it reads EOF on the parent's pipe)
    configure(project, smtp_server.port, batch_size=None, extra=f"  processes: {processes}\n")
    emails = subscribe(project, 400)
    smtp_server.delay = 0.004  # about 1,000 messages/s over 4 connections: time to kill it
    env = {**os.environ, "PUBLISHER_CONFIG": str(project.path), "PUBLISHER_SECRET_KEY": "test-secret-0123456789abcdefghijklmnopqrstuvwxyz"}
    cmd = [sys.executable, "-m", "publisher", "newsletter", "send"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(smtp_server.messages) < 120 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    proc.stderr.close()
    # a forked child finishes its messages in flight, then stops: wait for the count to hold
    # still for half a second (a loaded machine makes that slower), then it must stay still
    before, still_since, give_up = -1, time.monotonic(), time.monotonic() + 10
    while time.monotonic() < give_up and time.monotonic() - still_since < 0.5:
        time.sleep(0.05)
        if len(smtp_server.messages) != before:
            before, still_since = len(smtp_server.messages), time.monotonic()
    time.sleep(0.5)
    assert len(smtp_server.messages) == before  # no sender left behind
    assert 120 <= before < 400
    store = open_store(project.config())
    issue = store.last_issue()
    assert issue.sent is None and store.delivery_counts(issue.id).get("claimed")

    smtp_server.delay = 0
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    counts = smtp_server.by_recipient()
    assert set(counts) == set(emails)  # nobody lost
    twice = [e for e, n in counts.items() if n > 1]
    assert all(n <= 2 for n in counts.values())
    # at most the messages in flight (one per connection): each accepted one is in the
    # journal before the next goes out on its connection, whatever the ledger committed
    print(f"sent twice: {len(twice)}")
    assert len(twice) <= 8 * processes
    assert store.delivery_counts(issue.id) == {"sent": 400}
    assert store.last_issue().sent is not None
    assert "nothing new" in done.stdout


@pytest.mark.parametrize("seed", [1, 2])
def test_kill_9_of_a_pipelined_send_at_a_random_instant_sends_twice_only_what_was_in_flight(
        project, pipelining_server, seed):
    """500 subscribers, 4 pipelined connections, a 451 to every 7th message: killed at a
    random instant, then sent again: nobody missing, at most 8 sent twice (2 a connection)."""
    import random

    server = pipelining_server
    server.fail_every = 7
    configure(project, server.port, batch_size=None, extra="  rate_limit: 800\n")
    emails = subscribe(project, 500)
    env = {**os.environ, "PUBLISHER_CONFIG": str(project.path),
           "PUBLISHER_SECRET_KEY": "test-secret-0123456789abcdefghijklmnopqrstuvwxyz"}
    cmd = [sys.executable, "-m", "publisher", "newsletter", "send"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_at = random.Random(seed).randrange(20, 480)
    deadline = time.monotonic() + 60
    while len(server.messages) < kill_at and time.monotonic() < deadline:
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    killed_at = len(server.messages)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    counts = server.by_recipient()
    assert set(counts) == set(emails)  # nobody lost
    twice = sum(n - 1 for n in counts.values())
    print(f"killed after {killed_at} messages; sent twice: {twice}")
    assert twice <= 8
    store = open_store(project.config())
    assert store.delivery_counts(store.last_issue().id) == {"sent": 500}
    assert not list((project.root / "var" / "journal").glob("*.log"))  # replayed, removed


@pytest.mark.postgres
def test_a_database_gone_mid_send_stops_it_in_one_line_and_nothing_goes_twice(
        project, pipelining_server):
    """The database refuses every connection in the middle of a send: the send stops with
    one line; what went out meanwhile is in the journal, recorded by the next send."""
    import psycopg
    from sqlalchemy.engine import make_url

    server = pipelining_server
    configure(project, server.port, batch_size=None, extra="  rate_limit: 800\n")
    emails = subscribe(project, 400)
    url = make_url(project.config().database_url)
    name = url.database

    def admin(sql: str) -> None:
        with psycopg.connect(host=url.host, port=url.port or 5432, user=url.username,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(sql)

    env = {**os.environ, "PUBLISHER_CONFIG": str(project.path),
           "PUBLISHER_SECRET_KEY": "test-secret-0123456789abcdefghijklmnopqrstuvwxyz"}
    cmd = [sys.executable, "-m", "publisher", "newsletter", "send"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 60
    while len(server.messages) < 100 and time.monotonic() < deadline:
        time.sleep(0.001)
    admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert proc.returncode == 1
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "the send is stopped" in err or "database" in err, err
    assert len(server.messages) < 400
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    counts = server.by_recipient()
    assert set(counts) == set(emails)
    assert sum(n - 1 for n in counts.values()) <= 8
