"""A real `publisher newsletter send` process killed with SIGKILL mid-send, then run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from test_delivery import configure, subscribe

from publisher.mail.delivery import COMMIT_EVERY
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
    # at most the messages in flight (one per connection) plus those sent but not yet
    # committed: under COMMIT_EVERY, or a quarter second's worth (~250 here), whichever is less
    print(f"sent twice: {len(twice)}")
    assert len(twice) <= (4 + COMMIT_EVERY + 10) * processes
    assert store.delivery_counts(issue.id) == {"sent": 400}
    assert store.last_issue().sent is not None
    assert "nothing new" in done.stdout
