"""Past one machine: streamed imports, the shared rate limit and leases over both backends;
real `publisher worker` processes draining one queue on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from delivery_fixtures import write_articles
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from publisher.audience.subscribers import _plain, import_csv
from publisher.cli import main
from publisher.store import Store, open_store

NOW = datetime.now(timezone.utc)

# -- the fast path of address normalisation -----------------------------------------------------

_chars = st.sampled_from("abcXYZ019.-_+'@!#~éü" + "-" * 3 + "." * 3)
_domains = st.sampled_from(["example.org", "EXAMPLE.com", "mail.example.co.uk", "x.test",
                            "xn--bcher-kva.example", "a-b.io", "1.2.3.4", "b.c0", "local",
                            "foo.arpa", "-a.org", "a-.org", "a..org", "x.y", "x.onion"])


def _full(address: str) -> str | None:
    try:
        return validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.text(_chars, max_size=30),
                 st.tuples(st.text(_chars, min_size=1, max_size=70), _domains).map("@".join)))
@example("A.B+c@Example.ORG")
@example("a" * 64 + "@example.org")
@example("a" * 65 + "@example.org")
@example("x@" + "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 58 + ".org")
@example(".a@example.org")
@example("a.@example.org")
def test_the_fast_path_agrees_with_email_validator(address):
    fast = _plain(address)
    if fast is not None:
        assert fast == _full(address)


def test_most_everyday_addresses_take_the_fast_path():
    assert _plain("Jean.Dupont+news@Example.FR") == "jean.dupont+news@example.fr"
    assert _plain("zoë@example.org") is None  # the full validator decides


# -- the streamed import ------------------------------------------------------------------------


def test_import_in_chunks_counts_like_one_by_one(store: Store, tmp_path):
    store.add_subscriber("active@example.org", "", [], "active", NOW)
    store.add_subscriber("left@example.org", "Left", [], "unsubscribed", NOW)
    rows = ["email,name,categories", "new0@example.org,Zero,Tech", "NEW0@example.org,Again,",
            "not an address,,", "active@example.org,,", "left@example.org,Back,Art"]
    rows += [f"user{i}@example.org,User {i},Tech;Art" for i in range(20)]
    (tmp_path / "people.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = import_csv(store, tmp_path / "people.csv", NOW, chunk=3)
    assert (report.added, report.unchanged) == (21, 2)
    assert report.problems == [f"{tmp_path / 'people.csv'}:4: 'not an address' is not a valid "
                               "address: An email address must have an @-sign.",
                               f"{tmp_path / 'people.csv'}:6: left@example.org is unsubscribed: "
                               "left as is, only they can subscribe again"]
    assert store.get_subscriber("new0@example.org").name == "Zero"
    assert store.get_subscriber("left@example.org").status == "unsubscribed"  # final until they act
    assert store.get_subscriber("user7@example.org").categories == ("Art", "Tech")
    assert store.count_subscribers() == {"active": 22, "unsubscribed": 1}


def test_merge_and_insert_subscribers_leave_known_ones_alone(store: Store):
    store.add_subscriber("k@example.org", "K", [], "bounced", NOW)
    added, known = store.merge_subscribers([("n@example.org", "N", ["x", "x"]),
                                            ("k@example.org", "", [])], "pending", NOW)
    assert (added, known) == (["n@example.org"], {"k@example.org": "bounced"})
    new = store.get_subscriber("n@example.org")
    assert (new.status, new.categories, new.created, new.confirmed) == ("pending", ("x",), NOW, None)
    store.add_subscriber("b@example.org", "B", [], "unsubscribed", NOW)
    added = store.insert_subscribers([("a@example.org", "A", ["x"]), ("b@example.org", "", [])],
                                     "active", NOW)
    assert added == ["a@example.org"]
    assert store.subscriber_states(["a@example.org", "b@example.org", "c@example.org"]) == {
        "a@example.org": "active", "b@example.org": "unsubscribed"}


# -- coordination: the shared rate limit and leases -------------------------------------------


def test_rate_limit_slots_are_shared_by_every_caller(store: Store):
    # 10 a second: slots a second apart, so a loaded machine's delays between calls
    # (tenths of a second) do not blur them
    assert store.reserve_sends("mail", 10, 10.0) == pytest.approx(0, abs=0.5)
    other = Store(store.engine)  # another worker: the same budget
    assert other.reserve_sends("mail", 10, 10.0) == pytest.approx(1.0, abs=0.5)
    assert store.reserve_sends("mail", 1, 10.0) == pytest.approx(2.0, abs=0.5)
    assert store.reserve_sends("bulk", 1, 10.0) == pytest.approx(0, abs=0.5)


def test_rate_limiter_holds_over_threads_and_stores(store: Store):
    from publisher.mail.sending import RateLimiter

    limiters = [RateLimiter(200.0, Store(store.engine)) for _ in range(2)]
    start = time.monotonic()
    threads = [threading.Thread(target=lambda lim=lim: [lim.wait() for _ in range(50)])
               for lim in limiters for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - start >= 199 / 200 - 0.05  # 200 sends at 200/s: about a second


def test_a_lease_has_one_holder_until_it_runs_out_or_is_dropped(store: Store):
    assert store.take_lease("scheduler", "a:1", 0.5)
    assert not store.take_lease("scheduler", "b:2", 0.5)
    assert store.take_lease("scheduler", "a:1", 0.5)  # renewed
    assert store.lease_holder("scheduler")[0] == "a:1"
    time.sleep(0.6)
    assert store.lease_holder("scheduler") is None
    assert store.take_lease("scheduler", "b:2", 30)
    assert not store.take_lease("scheduler", "a:1", 30)
    store.drop_lease("scheduler", "b:2")
    assert store.take_lease("scheduler", "a:1", 30)


# -- the commands -------------------------------------------------------------------------------


def test_db_upgrade_prints_the_revision_and_an_idle_worker_drains_nothing(project):
    from publisher.store.engine import HEAD

    result = CliRunner().invoke(main, ["db", "upgrade"], catch_exceptions=False)
    assert result.exit_code == 0 and result.output.endswith(f"at revision {HEAD}\n"), result.output
    result = CliRunner().invoke(main, ["worker", "--drain"], catch_exceptions=False)
    assert result.exit_code == 0 and result.output == "0 sent\n", result.output
    result = CliRunner().invoke(main, ["newsletter", "send", "--queue-only"],
                                catch_exceptions=False)
    assert "no new issue" in result.output


# -- real worker processes on PostgreSQL ------------------------------------------------------


def _queue(project, port: int, count: int, extra: str = "") -> list[str]:
    write_articles(project.root / "content", NOW)
    project.write(f"paths:\n  content: {project.root / 'content'}\n"
                  f"mail:\n  transport: smtp\n  host: 127.0.0.1\n  port: {port}\n"
                  f"  retry_backoff: 0.05\n{extra}")
    store = open_store(project.config())
    emails = [f"reader{i:05}@example.org" for i in range(count)]
    store.insert_subscribers([(e, "", []) for e in emails], "active", NOW)
    store.close()
    result = CliRunner().invoke(main, ["newsletter", "send", "--queue-only"],
                                catch_exceptions=False)
    assert result.exit_code == 0 and f"{count} queued" in result.output, result.output
    return emails


def _workers(project, n: int) -> list[subprocess.Popen]:
    env = {**os.environ, "PUBLISHER_CONFIG": str(project.path),
           "PUBLISHER_SECRET_KEY": "test-secret-0123456789abcdefghijklmnopqrstuvwxyz"}
    return [subprocess.Popen([sys.executable, "-m", "publisher", "worker", "--drain",
                              "--poll", "0.2"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE) for _ in range(n)]


def _finish(procs: list[subprocess.Popen], timeout: float = 90) -> list[str]:
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        outputs.append(out.decode())
        assert proc.returncode in (0, -signal.SIGKILL), err.decode()
    return outputs


@pytest.mark.postgres
@pytest.mark.slow
def test_four_workers_deliver_each_message_exactly_once(project, smtp_server):
    emails = _queue(project, smtp_server.port, 5000, "  connections: 4\n  batch_size: 100\n")
    outputs = _finish(_workers(project, 4))
    assert smtp_server.by_recipient() == {e: 1 for e in emails}
    sent = [int(o.split()[0]) for o in outputs]
    assert sum(sent) == 5000 and sum(1 for n in sent if n) >= 2, sent  # they shared the work
    store = open_store(project.config())
    issue = store.last_issue()
    assert store.delivery_counts(issue.id) == {"sent": 5000} and issue.sent is not None
    store.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_nothing(project, smtp_server):
    emails = _queue(project, smtp_server.port, 1200,
                    "  connections: 2\n  batch_size: 40\n  lease: 2\n")
    smtp_server.delay = 0.005
    victim, *others = _workers(project, 3)
    deadline = time.monotonic() + 60
    while len(smtp_server.messages) < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert victim.poll() is None and len(smtp_server.messages) < 1200  # mid-send
    victim.send_signal(signal.SIGKILL)
    _finish([victim, *others])
    counts = smtp_server.by_recipient()
    assert set(counts) == set(emails)  # nobody lost
    twice = [e for e, n in counts.items() if n > 1]
    assert max(counts.values()) <= 2 and len(twice) <= 3 * 40  # only the victim's in flight
    store = open_store(project.config())
    assert store.delivery_counts(store.last_issue().id) == {"sent": 1200}
    store.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_a_standby_scheduler_takes_over_when_the_active_one_dies(project):
    project.write('schedule:\n  build: "* * * * * *"\n  newsletter: null\n  takeover: 2s\n'
                  f"paths:\n  content: {project.root / 'content'}\n")
    (project.root / "content").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    logs = [project.root / f"run-{i}.log" for i in range(3)]

    def start(i: int) -> subprocess.Popen:
        with open(logs[i], "w") as err:
            return subprocess.Popen([sys.executable, "-m", "publisher", "--config",
                                     str(project.path), "run", "--no-web"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=err)

    def wait_log(i: int, text: str, timeout: float = 20) -> float:
        deadline = time.monotonic() + timeout
        while text not in logs[i].read_text():
            assert time.monotonic() < deadline, f"no {text!r} in run {i}:\n{logs[i].read_text()}"
            time.sleep(0.05)
        return time.monotonic()

    procs = [start(0)]
    try:
        wait_log(0, "running:")
        procs += [start(1), start(2)]
        wait_log(1, "standing by")
        wait_log(2, "standing by")
        time.sleep(1)
        procs[0].send_signal(signal.SIGKILL)  # no clean hand-over: the lease runs out
        killed = time.monotonic()
        deadline = time.monotonic() + 10
        while not any("taking over" in logs[i].read_text() for i in (1, 2)):
            assert time.monotonic() < deadline, logs[1].read_text() + logs[2].read_text()
            time.sleep(0.05)
        taken = time.monotonic() - killed
        leader, standby = (1, 2) if "taking over" in logs[1].read_text() else (2, 1)
        wait_log(leader, "running:")
        time.sleep(2.5)  # longer than a lease: still one scheduler
        assert "taking over" not in logs[standby].read_text()
        assert taken <= 3.5, taken  # schedule.takeover (2 s), plus process start and load
        procs[leader].send_signal(signal.SIGTERM)  # a clean stop hands over at once
        assert procs[leader].wait(timeout=10) == 0
        wait_log(standby, "running:", 5)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=10)
    store = open_store(project.config())
    owners = [r.owner for r in sorted(store.job_history("build", 1000), key=lambda r: r.started)]
    store.close()
    turns = [o for i, o in enumerate(owners) if i == 0 or owners[i - 1] != o]
    assert len(turns) == len(set(turns)) == 3  # one scheduler at a time, each in turn
