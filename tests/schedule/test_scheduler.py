"""The schedule: crontab parsing, slots, the job_runs claims, catch-up and recording (no process)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from conftest import write_config

from publisher.cron import cron_trigger, last_slot, parse_duration
from publisher.errors import ConfigError

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2024, 11, 25, 7, 59, 30, tzinfo=PARIS)  # a Monday


def fires(expr: str, start: datetime, count: int) -> list[datetime]:
    trigger, out, prev = cron_trigger(expr, PARIS), [], None
    now = start
    for _ in range(count):
        prev = trigger.get_next_fire_time(prev, now)
        out.append(prev)
        now = prev
    return out


def test_five_fields_are_minute_resolution_in_the_site_zone():
    assert fires("0 8 * * mon", T0, 2) == [datetime(2024, 11, 25, 8, 0, tzinfo=PARIS),
                                          datetime(2024, 12, 2, 8, 0, tzinfo=PARIS)]
    assert fires("*/15 * * * *", T0, 2)[1] == datetime(2024, 11, 25, 8, 15, tzinfo=PARIS)


def test_six_fields_put_seconds_first():
    assert fires("*/20 * * * * *", T0, 3) == [T0.replace(second=40), T0.replace(minute=0, hour=8, second=0),
                                             T0.replace(minute=0, hour=8, second=20)]


@pytest.mark.parametrize("weekday, expected", [
    ("0", "sun"), ("7", "sun"), ("1", "mon"), ("1-5", "mon,tue,wed,thu,fri"),
    ("*/2", "sun,tue,thu,sat"), ("0,6", "sun,sat"), ("sat,sun", "sat,sun"),
])
def test_weekday_numbers_follow_crontab_not_apscheduler(weekday, expected):
    days = {d.strftime("%a").lower() for d in fires(f"0 8 * * {weekday}", T0, 14)}
    assert days == set(expected.split(","))


def test_macros():
    assert fires("@daily", T0, 1) == [datetime(2024, 11, 26, 0, 0, tzinfo=PARIS)]
    assert fires("@weekly", T0, 1)[0].strftime("%a") == "Sun"


@pytest.mark.parametrize("expr, says", [
    ("* * *", "expected 5 fields"),
    ("61 * * * *", "61"),
    ("0 8 * * 9", "weekday '9'"),
    ("0 8 * * x-y", "not a valid crontab"),
])
def test_bad_expressions_say_what_is_wrong(expr, says):
    with pytest.raises(ValueError, match=says):
        cron_trigger(expr)


def test_config_names_the_schedule_key_and_line(tmp_path, load):
    write_config(tmp_path, 'schedule:\n  build: "*/15 * * *"\n  newsletter: "0 25 * * mon"\n'
                           '  grace: soon\n')
    with pytest.raises(ConfigError) as err:
        load()
    text = "\n".join(err.value.problems)
    assert "key 'schedule.build'" in text and "expected 5 fields" in text
    assert "key 'schedule.newsletter'" in text and "25" in text
    assert "key 'schedule.grace'" in text and "duration" in text
    assert ":10:" in text  # the line of schedule.build


def test_config_defaults_and_durations(tmp_path, load):
    write_config(tmp_path)
    schedule = load().schedule
    assert (schedule.build, schedule.newsletter) == ("*/15 * * * *", "0 8 * * mon")
    assert schedule.grace == timedelta(hours=6) and schedule.min_articles == 1
    write_config(tmp_path, "schedule:\n  newsletter: null\n  grace: 1h30m\n  debounce: 250ms\n")
    schedule = load().schedule
    assert schedule.newsletter is None
    assert schedule.grace == timedelta(minutes=90) and schedule.debounce == timedelta(seconds=0.25)


@pytest.mark.parametrize("value, seconds", [("6h", 21600), ("45s", 45), ("2d", 172800), (90, 90),
                                            ("120", 120), ("1h 30m", 5400)])
def test_durations(value, seconds):
    assert parse_duration(value) == timedelta(seconds=seconds)


@pytest.mark.parametrize("expr", ["*/7 * * * * *", "*/15 * * * *", "0 8 * * mon", "13 3 1 * * *",
                                  "0 0 1 1 *"])
def test_last_slot_is_the_latest_fire_time_in_the_window(expr):
    trigger = cron_trigger(expr, PARIS)
    long = timedelta(minutes=10) if len(expr.split()) == 6 else timedelta(days=8)
    for since, now in [(T0 - long, T0), (T0, T0 + long),
                       (T0 - timedelta(seconds=30), T0 + timedelta(microseconds=999))]:
        expected, t = None, trigger.get_next_fire_time(None, since + timedelta(microseconds=1))
        while t is not None and t <= now:  # brute force, one fire time at a time
            expected, t = t, trigger.get_next_fire_time(t, t + timedelta(microseconds=1))
        assert last_slot(trigger, since, now) == expected


def test_last_slot_includes_now_and_excludes_since():
    trigger = cron_trigger("0 8 * * *", PARIS)
    eight = datetime(2024, 11, 25, 8, tzinfo=PARIS)
    assert last_slot(trigger, eight - timedelta(hours=1), eight) == eight
    assert last_slot(trigger, eight, eight + timedelta(hours=1)) is None


# -- the store's job runs: the database decides ---------------------------------------------


def test_a_slot_is_claimed_once(store):
    slot = datetime(2024, 11, 25, 7, tzinfo=timezone.utc)
    first = store.claim_run("newsletter", slot, "schedule", "a:1", slot)
    assert first is not None
    assert store.claim_run("newsletter", slot, "catch-up", "b:2", slot) is None
    assert store.claim_run("build", slot, "schedule", "b:2", slot) is not None
    assert store.has_run("newsletter", slot.astimezone(PARIS))
    store.finish_run(first, "ok", "issue 1 sent to 3 (0 failed)", 0.5, slot)
    last = store.last_runs()
    assert last["newsletter"].status == "ok" and last["newsletter"].owner == "a:1"
    assert last["build"].status == "running"
    assert store.first_run_started() == slot


def test_racing_claims_give_the_slot_to_one_thread(store):
    slot = datetime(2024, 11, 25, 7, tzinfo=timezone.utc)
    won, barrier = [], threading.Barrier(8)

    def claim(i):
        barrier.wait()
        if store.claim_run("newsletter", slot, "schedule", f"t:{i}", slot) is not None:
            won.append(i)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1


# -- the runner without its threads ---------------------------------------------------------


@pytest.fixture
def runner(tmp_path):
    from publisher.config import load_config
    from publisher.schedule.runner import Runner

    write_config(tmp_path, 'schedule:\n  build: "*/15 * * * *"\n  newsletter: "*/10 * * * * *"\n'
                           "  grace: 60\n")
    r = Runner(load_config(tmp_path / "config.yaml", env={}))
    yield r
    r.store.close()


def test_nothing_is_missed_on_a_database_that_never_ran(runner):
    assert runner.missed(datetime.now(timezone.utc)) == []


def test_several_missed_slots_catch_up_once_with_the_latest(runner):
    now = datetime(2024, 11, 25, 8, 0, 35, tzinfo=timezone.utc)
    runner.store.claim_run("build", now - timedelta(minutes=5), "start", "x:1", now - timedelta(minutes=5))
    missed = runner.missed(now)
    assert [(job.name, slot) for job, slot in missed] == [("newsletter", now.replace(second=30))]
    runner.store.claim_run("newsletter", now.replace(second=30), "catch-up", "x:1", now)
    assert runner.missed(now) == []


def test_slots_older_than_grace_or_the_first_run_are_not_missed(runner):
    now = datetime(2024, 11, 25, 8, 0, 35, tzinfo=timezone.utc)
    runner.store.claim_run("build", now - timedelta(seconds=3), "start", "x:1", now - timedelta(seconds=3))
    assert runner.missed(now) == []  # 08:00:30 is before the first run ever
    assert runner.missed(now + timedelta(minutes=5)) != []
    runner.grace = timedelta(seconds=2)
    assert runner.missed(now + timedelta(seconds=58)) == []  # 08:01:30 is 3 s ago: past grace


def test_record_keeps_and_logs_each_outcome_once(runner, caplog):
    caplog.set_level("INFO", logger="publisher.run")
    slot = datetime(2024, 11, 25, 8, tzinfo=timezone.utc)
    assert runner.record("newsletter", slot, "schedule", lambda: ("ok", "issue 4 sent to 120 (0 failed)")) == "ok"
    assert runner.record("newsletter", slot, "catch-up", lambda: ("ok", "twice")) is None

    def broken():
        raise RuntimeError("boom")

    assert runner.record("build", slot, "change", broken) == "error"
    runs = runner.store.last_runs()
    assert runs["newsletter"].summary == "issue 4 sent to 120 (0 failed)"
    assert runs["build"].status == "error" and "boom" in runs["build"].summary
    lines = [r.getMessage() for r in caplog.records if r.name == "publisher.run"]
    assert any(line.startswith("newsletter: issue 4 sent to 120 (0 failed) in ") for line in lines)
    assert any("already taken" in line for line in lines)
    assert any(line.startswith("build (change): error after") and "boom" in line for line in lines)


def test_min_articles_makes_the_digest_wait(tmp_path):
    from publisher.config import load_config
    from publisher.schedule.runner import Runner

    write_config(tmp_path, "schedule:\n  min_articles: 3\n")
    content = tmp_path / "content"
    content.mkdir()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for i in range(2):
        (content / f"a{i}.md").write_text(f"---\ntitle: A{i}\ndate: {(now - timedelta(hours=i + 1)).isoformat()}\n---\n\nText.\n")
    r = Runner(load_config(tmp_path / "config.yaml", env={}))
    try:
        status, summary = r._newsletter()
        assert status == "skipped"
        assert summary == "2 new since the start, waiting for 3 (schedule.min_articles)"
        assert r.store.last_issue() is None
    finally:
        r.store.close()


def test_jobs_lists_each_job_its_next_run_and_last_outcome(tmp_path):
    from click.testing import CliRunner

    from publisher.cli import main
    from publisher.config import load_config
    from publisher.store import open_store

    cfg = write_config(tmp_path, 'schedule:\n  newsletter: null\n  build: "0 8 * * mon"\n')
    store = open_store(load_config(cfg, env={}))
    slot = datetime(2024, 11, 25, 7, tzinfo=timezone.utc)
    run = store.claim_run("build", slot, "schedule", "x:1", slot)
    store.finish_run(run, "ok", "5 articles, 3 files written", 0.21, slot)
    store.close()
    result = CliRunner().invoke(main, ["--config", str(cfg), "jobs"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    build = next(line for line in lines if "│ build" in line)
    assert "0 8 * * mon" in build and " 08:00:00 CE" in build  # next Monday, Paris time
    assert "2024-11-25 08:00:00 ok: 5 articles, 3 files written in 0.21 s" in build
    assert "disabled" in next(line for line in lines if "│ newsletter" in line)
    assert "never" in next(line for line in lines if "│ publish" in line)


def test_jobs_shows_a_run_whose_process_died_as_interrupted(tmp_path):
    import socket
    import subprocess
    import sys

    from click.testing import CliRunner

    from publisher.cli import main
    from publisher.config import load_config
    from publisher.store import open_store

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    cfg = write_config(tmp_path)
    store = open_store(load_config(cfg, env={}))
    slot = datetime(2024, 11, 25, 7, tzinfo=timezone.utc)
    store.claim_run("newsletter", slot, "schedule", f"{socket.gethostname()}:{dead}", slot)
    store.close()
    result = CliRunner().invoke(main, ["--config", str(cfg), "jobs"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "│ newsletter" in line)
    assert "2024-11-25 08:00:00 interrupted" in line


def test_without_a_database_builds_still_run_and_sends_wait(runner, caplog, monkeypatch):
    caplog.set_level("INFO", logger="publisher.run")

    def down(*args):
        raise OSError("database is unreachable")

    monkeypatch.setattr(runner.store, "claim_run", down)
    slot = datetime(2024, 11, 25, 8, tzinfo=timezone.utc)
    assert runner.record("build", slot, "change", lambda: ("ok", "1 article, up to date")) == "ok"
    assert runner.record("newsletter", slot, "schedule", lambda: ("ok", "sent")) == "error"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "running it anyway" in text and "build (change): 1 article, up to date in" in text
    assert "newsletter: not run, the database cannot record it: database is unreachable" in text


def test_a_send_builds_first_so_an_article_saved_just_before_has_its_page(tmp_path):
    """The watcher rebuilds after its debounce; a digest slot that falls inside it must not
    send (or be refused for) links to pages not written yet."""
    from publisher.config import load_config
    from publisher.schedule.runner import Runner

    write_config(tmp_path, 'schedule:\n  newsletter: "0 8 * * 1"\nmail:\n  transport: outbox\n')
    content = tmp_path / "content"
    content.mkdir()
    now = datetime.now(timezone.utc).replace(microsecond=0)

    def article(name: str, hours: int) -> None:
        (content / f"{name}.md").write_text(
            f"---\ntitle: {name}\nslug: {name}\ndate: {(now - timedelta(hours=hours)).isoformat()}"
            "\n---\n\nTexte.\n")

    article("premier", 2)
    r = Runner(load_config(tmp_path / "config.yaml", env={}))
    try:
        r.store.add_subscriber("ada@example.org", "", [], "active", now - timedelta(days=1))
        assert r.build("start") == "ok"
        article("juste-avant", 0)  # saved a moment before the slot: no rebuild yet
        r.run_job("newsletter", now, "schedule")
        sent = r.store.last_runs()["newsletter"]
        assert (sent.status, sent.summary[:28]) == ("ok", "issue 1 sent to 1 (0 failed)")
        mail = next((tmp_path / "var" / "outbox").glob("*.eml")).read_text()
        assert "juste-avant" in mail
        assert list((tmp_path / "public").glob("**/juste-avant/index.html"))
    finally:
        r.store.close()
