"""`publisher run` as a real process, with real time and second-level schedules.

Each test starts `python -m publisher --config <tmp>/config.yaml run` (SQLite under tmp, the
outbox transport), polls files and database rows, and stops it with SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import write_config
from delivery_fixtures import write_articles
from sqlalchemy import select

pytestmark = pytest.mark.slow
PARIS = ZoneInfo("Europe/Paris")
ENV = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
ENV["PUBLISHER_SECRET_KEY"] = "test-secret-0123456789abcdefghijklmnopqrstuvwxyz"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, predicate, timeout: float = 20.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


class Run:
    """One `publisher run` process, its log in a file."""

    count = 0

    def __init__(self, cfg: Path, *args: str, web: bool = False):
        Run.count += 1
        self.log = cfg.parent / f"run-{Run.count}.log"
        self.port = free_port()
        extra = ["--port", str(self.port)] if web else ["--no-web"]
        with open(self.log, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "publisher", "--config", str(cfg), "run", *extra, *args],
                stdout=subprocess.DEVNULL, stderr=err, env=ENV)

    def text(self) -> str:
        return self.log.read_text()

    def wait_running(self) -> "Run":
        try:
            wait_for("the process to start",
                     lambda: "running:" in self.text() or self.proc.poll() is not None)
        except AssertionError:
            raise AssertionError(f"{self.log} did not start:\n{self.text()}") from None
        assert self.proc.poll() is None, self.text()
        return self

    def stop(self, within: float = 6.0) -> float:
        """SIGTERM; asserts exit status 0 within `within` seconds; returns how long it took."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"still running {within} s after SIGTERM:\n{self.text()}") from None
        assert code == 0, self.text()
        assert "stopped" in self.text()
        return time.monotonic() - started


@pytest.fixture
def project(tmp_path):
    """(write(schedule, extra) -> config path, the store opener, the outbox folder)."""
    content = tmp_path / "content"
    content.mkdir()

    class Project:
        root = tmp_path
        outbox = tmp_path / "var" / "outbox"

        def write(self, schedule: str, extra: str = "") -> Path:
            return write_config(tmp_path, f"schedule:\n{schedule}mail:\n  transport: outbox\n{extra}")

        def store(self):
            from publisher.config import load_config
            from publisher.store import open_store

            return open_store(load_config(tmp_path / "config.yaml", env={}))

        def subscribe(self, count: int) -> None:
            store = self.store()
            for i in range(count):
                store.add_subscriber(f"user{i:04}@example.org", "", [], "active",
                                     datetime.now(timezone.utc))
            store.close()

        def emails(self) -> list[Path]:
            return sorted(self.outbox.glob("*.eml")) if self.outbox.is_dir() else []

        def runs(self, job: str):
            from publisher.store.tables import job_runs

            store = self.store()
            try:
                with store.engine.begin() as conn:
                    return conn.execute(select(job_runs).where(job_runs.c.job == job)
                                        .order_by(job_runs.c.id)).all()
            finally:
                store.close()

    return Project()


def test_jobs_fire_on_time_and_a_future_article_goes_live_at_its_own_time(project):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    write_articles(project.root / "content", now, 1)
    live = now + timedelta(seconds=6)
    (project.root / "content" / "soon.md").write_text(
        f"---\ntitle: Bientôt en ligne\ndate: {live.isoformat()}\n---\n\nPas encore.\n")
    cfg = project.write('  build: "0 0 1 1 *"\n  newsletter: "*/2 * * * * *"\n  debounce: 200ms\n')
    project.subscribe(2)
    run = Run(cfg, web=True)
    feed = project.root / "public" / "feeds" / "all.atom.xml"
    try:
        run.wait_running()
        assert "Bientôt" not in feed.read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{run.port}/feeds/all.atom.xml") as resp:
            assert resp.status == 200
        for i in range(3):  # a burst of changes: one rebuild, after the debounce
            (project.root / "content" / f"new-{i}.md").write_text(
                f"---\ntitle: Nouveau {i}\ndate: {now.isoformat()}\n---\n\nTexte.\n")
        wait_for("the new articles in the feed", lambda: "Nouveau 2" in feed.read_text(), 10, 0.02)
        wait_for("the scheduled article in the feed", lambda: "Bientôt" in feed.read_text(), 15, 0.02)
        seen = datetime.now(timezone.utc)
        assert live <= seen < live + timedelta(seconds=2.5)
        wait_for("the digest in the outbox", lambda: len(project.emails()) >= 2)
    finally:
        took = run.stop()
    assert took < 5
    changes = [r for r in project.runs("build") if r.trigger == "change"]
    assert len(changes) == 1 and changes[0].summary.startswith("4 articles, ")
    publish = project.runs("publish")
    assert [(r.status, r.slot) for r in publish] == [("ok", live)]
    sends = [r for r in project.runs("newsletter") if r.trigger == "schedule"]
    assert sends and all(r.slot.second % 2 == 0 for r in sends)
    assert all(timedelta(0) <= r.started - r.slot < timedelta(seconds=1.5) for r in sends)
    assert sends[0].summary.startswith("issue 1 sent to 2 (0 failed)")
    assert "newsletter: issue 1 sent to 2 (0 failed) in " in run.text()
    store = project.store()
    # one message per subscriber and issue (an issue begun as SIGTERM came waits for the next start)
    assert len(project.emails()) == sum(store.delivery_counts(i.id).get("sent", 0)
                                        for i in store.list_issues())
    assert store.delivery_counts(store.get_issue(1).id) == {"sent": 2}
    store.close()


def test_a_restart_after_missed_slots_runs_the_job_once(project):
    write_articles(project.root / "content", datetime.now(timezone.utc), 1)
    cfg = project.write("  build: null\n  newsletter: null\n")
    project.subscribe(1)
    first = Run(cfg).wait_running()
    first.stop()
    # The schedule was edited while the process was down: two slots pass before the restart.
    wait_for("a quiet second", lambda: datetime.now(PARIS).second < 55)
    t1 = datetime.now(PARIS).replace(microsecond=0) + timedelta(seconds=1)
    t2 = t1 + timedelta(seconds=1)
    project.write(f'  build: null\n  newsletter: "{t1.second},{t2.second} {t1.minute} {t1.hour} * * *"\n')
    wait_for("both slots to pass", lambda: datetime.now(PARIS) > t2 + timedelta(seconds=0.3))
    second = Run(cfg).wait_running()
    wait_for("the catch-up", lambda: [r for r in project.runs("newsletter") if r.status != "running"])
    second.stop()
    third = Run(cfg).wait_running()
    time.sleep(0.5)
    third.stop()
    runs = project.runs("newsletter")
    assert [(r.trigger, r.slot, r.status) for r in runs] == [("catch-up", t2, "ok")]
    assert runs[0].summary.startswith("issue 1 sent to 1 (0 failed)")
    assert len(project.emails()) == 1
    assert "newsletter (catch-up): issue 1 sent to 1" in second.text()


def test_sigterm_during_a_send_loses_nothing_and_the_next_start_finishes_it(project):
    write_articles(project.root / "content", datetime.now(timezone.utc), 1)
    cfg = project.write('  build: null\n  newsletter: "* * * * * *"\n',
                        "  rate_limit: 150\n  batch_size: 20\n")
    project.subscribe(300)
    run = Run(cfg).wait_running()
    wait_for("the send to be under way", lambda: len(project.emails()) >= 60, 20, 0.01)
    took = run.stop()
    assert took < 5
    written = len(project.emails())
    assert written < 300
    store = project.store()
    issue = store.last_issue()
    counts = store.delivery_counts(issue.id)
    # every message written is recorded as sent; nothing is left claimed; the rest waits
    assert counts == {"sent": written, "queued": 300 - written}
    assert issue.sent is None
    assert project.runs("newsletter")[-1].status == "stopped"

    again = Run(cfg).wait_running()
    wait_for("the issue to be finished", lambda: store.last_issue().sent is not None, 20)
    again.stop()
    assert store.delivery_counts(issue.id) == {"sent": 300}
    assert len(store.list_issues()) == 1
    assert len(project.emails()) == 300
    store.close()


def test_two_run_processes_and_a_manual_send_send_each_subscriber_one_message(project):
    write_articles(project.root / "content", datetime.now(timezone.utc), 2)
    cfg = project.write('  build: "* * * * * *"\n  newsletter: "* * * * * *"\n')
    project.subscribe(40)
    runs = [Run(cfg).wait_running(), Run(cfg)]  # the second stands by
    manual = subprocess.Popen([sys.executable, "-m", "publisher", "--config", str(cfg), "newsletter",
                               "send"], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for("the standby", lambda: "standing by" in runs[1].text())
        out, err = manual.communicate(timeout=30)
        assert manual.returncode == 0, err
        store = project.store()
        wait_for("the issue to be sent", lambda: (i := store.last_issue()) and i.sent is not None)
        time.sleep(1.5)  # more slots: only the scheduling process runs them
    finally:
        for r in runs:
            r.stop()
    issues = store.list_issues()
    assert len(issues) == 1
    assert store.delivery_counts(issues[0].id) == {"sent": 40}
    assert len(project.emails()) == 40
    slots = [r.slot for r in project.runs("newsletter")]
    assert len(slots) == len(set(slots)) >= 1, "\n".join(r.text() for r in runs)
    owners = {r.owner for r in project.runs("build")} | {r.owner for r in project.runs("newsletter")}
    assert len(owners) == 1  # the standby ran nothing
    assert "running:" not in runs[1].text()
    store.close()
