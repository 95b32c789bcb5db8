"""Each rhythm's own job (issue 17): claimed once per slot in job_runs, caught up once after
downtime, an on-publish rhythm after a build; `publisher jobs` lists each."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from conftest import write_config

from publisher.cli import main

RHYTHMS = """newsletter:
  rhythms:
    instant: on-publish
    daily: "*/10 * * * * *"
    weekly: "*/20 * * * * *"
schedule:
  grace: 60
mail:
  doctor: false
"""


@pytest.fixture
def runner(tmp_path, monkeypatch):
    from publisher.config import load_config
    from publisher.schedule.runner import Runner

    monkeypatch.setenv("PUBLISHER_SECRET_KEY", "test-secret-0123456789abcdefghijklmnopqrstuvwxyz")
    write_config(tmp_path, RHYTHMS)
    r = Runner(load_config(tmp_path / "config.yaml", env={}))
    yield r
    r.store.close()


def test_each_rhythm_has_its_job_and_catches_up_once(runner):
    from publisher.schedule.jobs import cron_jobs

    assert [j.name for j in cron_jobs(runner.config)] == ["build", "newsletter:daily",
                                                          "newsletter:weekly"]
    now = datetime(2024, 11, 25, 8, 0, 35, tzinfo=timezone.utc)
    runner.store.claim_run("build", now - timedelta(minutes=5), "start", "x:1", now - timedelta(minutes=5))
    missed = [(job.name, slot) for job, slot in runner.missed(now)]
    assert missed == [("newsletter:daily", now.replace(second=30)),
                      ("newsletter:weekly", now.replace(second=20))]
    assert runner.record("newsletter:daily", now.replace(second=30), "catch-up",
                         lambda: ("ok", "sent")) == "ok"
    assert runner.record("newsletter:daily", now.replace(second=30), "schedule",
                         lambda: ("ok", "twice")) is None  # another process had the slot
    assert [job.name for job, _ in runner.missed(now)] == ["newsletter:weekly"]


def add(store, address, rhythm, when):
    store.add_subscriber(address, "", [], "active", when, rhythm=rhythm)


def outbox(runner) -> list[str]:
    import email

    folder = runner.config.path("var") / "outbox"
    return sorted(str(email.message_from_bytes(p.read_bytes())["To"])
                  for p in folder.glob("*.eml")) if folder.exists() else []


def test_a_rhythm_job_sends_its_rhythm_only_and_on_publish_follows_the_build(runner, tmp_path):
    joined = datetime.now(timezone.utc) - timedelta(hours=3)
    add(runner.store, "d@example.org", "daily", joined)
    add(runner.store, "w@example.org", "weekly", joined)
    add(runner.store, "i@example.org", "instant", joined)
    content = tmp_path / "content"
    content.mkdir()
    when = (joined + timedelta(hours=1)).replace(microsecond=0).isoformat()
    (content / "a.md").write_text(f"---\ntitle: A\ndate: {when}\n---\n\nText.\n")
    slot = datetime.now(timezone.utc).replace(microsecond=0)
    runner.run_job("newsletter:daily", slot, "schedule")
    assert outbox(runner) == ["d@example.org"]
    assert runner.store.last_runs()["newsletter:daily"].summary.startswith("daily issue 1 sent to 1")
    runner.run_job("newsletter:daily", slot, "catch-up")  # the same slot: nothing more
    assert outbox(runner) == ["d@example.org"]
    runner.build("change")  # the build makes the on-publish rhythm send what went live
    assert outbox(runner) == ["d@example.org", "i@example.org"]
    runner.build("change")  # nothing new: nothing sent, no run recorded
    assert outbox(runner) == ["d@example.org", "i@example.org"]
    assert runner.store.last_runs()["newsletter:instant"].summary.startswith("instant issue 1")


def test_two_builds_within_one_second_each_send_what_they_made_go_live(runner, tmp_path,
                                                                     monkeypatch):
    """The on-publish run is claimed to the microsecond: a second build a moment after the
    first (a send's build, then the watcher's) sends its own new article at once."""
    import publisher.schedule.sends as sends

    start = datetime.now(timezone.utc).replace(microsecond=0)
    ticks = itertools.count()

    class Clock(datetime):  # a millisecond a reading: every reading here falls in one second
        @classmethod
        def now(cls, tz=None):
            return (start + timedelta(milliseconds=next(ticks))).astimezone(tz)

    monkeypatch.setattr(sends, "datetime", Clock)
    add(runner.store, "i@example.org", "instant", start - timedelta(hours=3))
    content = tmp_path / "content"
    content.mkdir()
    for sent, name in enumerate(("a", "b"), start=1):  # b is saved after the first build
        when = (start - timedelta(hours=3 - sent)).isoformat()
        (content / f"{name}.md").write_text(f"---\ntitle: {name}\ndate: {when}\n---\n\nText.\n")
        runner.build("change")
        assert outbox(runner) == ["i@example.org"] * sent
    assert runner.store.last_runs()["newsletter:instant"].summary.startswith("instant issue 2")


def test_jobs_lists_each_rhythm_and_its_next_run(tmp_path, monkeypatch):
    cfg = write_config(tmp_path, RHYTHMS.replace('"*/20 * * * * *"', '"0 8 * * mon"'))
    result = CliRunner().invoke(main, ["--config", str(cfg), "jobs"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "*/10 * * * * *" in next(line for line in lines if "newsletter:daily" in line)
    weekly = next(line for line in lines if "newsletter:weekly" in line)
    assert "0 8 * * mon" in weekly and " 08:00:00 CE" in weekly
    assert "on publish" in next(line for line in lines if "newsletter:instant" in line)
    assert not [line for line in lines if "│ newsletter " in line]  # no digest without rhythm


def test_two_processes_running_one_publication_mail_each_subscriber_once(runner, tmp_path,
                                                                         monkeypatch):
    """Two `publisher run` processes that both claim the on-publish run of one publication
    (each its own instant): the ledger, under its lock, gives each subscriber one mail."""
    import threading

    import publisher.newsletter.rhythms as rhythms
    from publisher.config import load_config
    from publisher.schedule.runner import Runner

    joined = datetime.now(timezone.utc) - timedelta(hours=3)
    for i in range(5):
        add(runner.store, f"i{i}@example.org", "instant", joined)
    content = tmp_path / "content"
    content.mkdir()
    when = (joined + timedelta(hours=1)).replace(microsecond=0).isoformat()
    (content / "a.md").write_text(f"---\ntitle: A\ndate: {when}\n---\n\nText.\n")
    both = threading.Barrier(2, timeout=20)
    send_rhythm = rhythms.send_rhythm

    def together(*args, **kwargs):  # both runs claimed, neither has queued yet
        both.wait()
        return send_rhythm(*args, **kwargs)

    monkeypatch.setattr(rhythms, "send_rhythm", together)
    other = Runner(load_config(tmp_path / "config.yaml", env={}))
    failed = []

    def publish(r):
        try:
            r.on_publish()
        except Exception as exc:  # noqa: BLE001 - reported below
            failed.append(exc)

    try:
        threads = [threading.Thread(target=publish, args=(r,)) for r in (runner, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        other.store.close()
    assert not failed
    runs = runner.store.job_history("newsletter:instant")
    # Both ran: the second found the issue sent ("skipped: nothing new") or finished it.
    assert len(runs) == 2 and "ok" in {r.status for r in runs}
    assert {r.status for r in runs} <= {"ok", "skipped"}, [r.summary for r in runs]
    assert outbox(runner) == [f"i{i}@example.org" for i in range(5)]
