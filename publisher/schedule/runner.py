"""`publisher run`: the long-running process. Builds at start, then serves the site while the
scheduler rebuilds and sends the digest on time, and a watcher rebuilds on every change.

    Runner(config).run()   # until SIGTERM or SIGINT; returns 0

Every job goes through `Runner.record`: it claims (job, slot) in the store's job_runs table
first, so a slot runs once whichever process (or restart) gets there, logs one line and keeps
the outcome. The sends themselves are the CLI's use case (`campaign.send_newsletter`): the
store's unique issue number and the ledger's unique (issue, subscriber) make a manual send
racing the scheduler harmless.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

from publisher.cron import last_slot
from publisher.errors import PublisherError, os_error_line
from publisher.mail.delivery import OWNER
from publisher.schedule.jobs import CronJob, cron_jobs, make_scheduler
from publisher.schedule.lease import Leadership
from publisher.schedule.sends import Sends

log = logging.getLogger("publisher.run")
Work = Callable[[], tuple[str, str]]  # -> (status, summary): ok, skipped, stopped


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Runner(Sends):
    wrap_app: Callable | None = None  # `run --dev`: wraps the web app (the reload script)

    def __init__(self, config, store=None, transport=None, tokens=None):
        from publisher.audience.tokens import tokens_for
        from publisher.mail.transport import make_transport
        from publisher.store import open_store

        self.config = config
        self.store = store or open_store(config)
        self.transport = transport or make_transport(config)
        self.tokens = tokens or tokens_for(config)
        self.stopping = threading.Event()
        self.scheduler = make_scheduler(config, self.fire)
        self.grace = config.schedule.grace
        self._build_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._publish_lock = threading.Lock()  # one on_publish at a time: see Sends
        self._threads: list[threading.Thread] = []
        self._active = 0  # jobs running now; stop() waits for them
        self._idle = threading.Condition()
        self.server = None

    # -- recording --------------------------------------------------------------------------

    def record(self, job: str, slot: datetime, trigger: str, work: Work) -> str | None:
        """Run `work` once for (job, slot) over every process; log and keep its outcome.
        Returns its status, or None when another process (or an earlier start) had the slot,
        or when the process is stopping (an unclaimed slot is caught up at the next start)."""
        with self._idle:
            if self.stopping.is_set():
                return None
            self._active += 1
        try:
            return self._record(job, slot, trigger, work)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def _record(self, job: str, slot: datetime, trigger: str, work: Work) -> str | None:
        label = job if trigger in ("schedule", job) else f"{job} ({trigger})"
        try:
            run_id = self.store.claim_run(job, slot, trigger, OWNER, utcnow())
        except Exception as exc:  # noqa: BLE001 - the database is down: builds go on, sends wait
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            if job == "newsletter":
                log.error("%s: not run, the database cannot record it: %s", label, reason)
                return "error"
            log.warning("%s: the database cannot record this run (%s); running it anyway",
                        label, reason)
            run_id = 0
        if run_id is None:
            log.info("%s: slot %s already taken by another process", label,
                     f"{slot.astimezone(self.config.site.tz):%Y-%m-%d %H:%M:%S}")
            return None
        started = time.perf_counter()
        try:
            status, summary = work()
        except PublisherError as exc:
            status, summary = "error", str(exc)
        except OSError as exc:  # a full or read-only disk: one line naming the path
            status, summary = "error", os_error_line(exc)
        except Exception as exc:  # noqa: BLE001 - a failing job must not end the process
            log.exception("%s failed", label)
            status, summary = "error", f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
        try:
            if run_id:
                self.store.finish_run(run_id, status, summary, seconds, utcnow())
        except Exception:  # noqa: BLE001 - the outcome is still logged below
            log.exception("%s: could not record the outcome", label)
        if status == "error":
            log.error("%s: error after %.2f s: %s", label, seconds, summary)
        else:
            log.info("%s: %s in %.2f s", label, summary, seconds)
        return status

    def fire(self, job: CronJob) -> None:
        """A cron job came due: its slot is the fire time just passed (coalesced)."""
        now = utcnow()
        slot = last_slot(job.trigger, now - self.grace - timedelta(seconds=1), now)
        self.run_job(job.name, slot or now.replace(microsecond=0), "schedule")

    def run_job(self, name: str, slot: datetime, trigger: str) -> None:
        if name == "build":
            self.record(name, slot, trigger, self._build)
        elif (self.record(name, slot, trigger, self._built_first(self.send_job(name))) == "ok"
              and not self.stopping.is_set()):
            self.build("newsletter archive")  # the new issue's page and the archive's feed

    def _built_first(self, send: Work) -> Work:
        """`send`, after a build (which waits for any build under way). A send links to its
        articles' pages: an article saved just before the slot, whose rebuild still waits
        out the watcher's debounce, must have its page when the send picks it, else the
        doctor refuses the send (issue.links) and a daily digest waits a day. Inside the
        claimed run, so a stop waits for it and only the process that has the slot builds;
        without the on-publish sends, which the watcher's own build makes."""
        def work() -> tuple[str, str]:
            try:
                self._build()
            except (PublisherError, OSError) as exc:  # the send goes on: the doctor judges
                log.warning("build before the send: %s",
                            os_error_line(exc) if isinstance(exc, OSError) else exc)
            return send()
        return work

    # -- the jobs ---------------------------------------------------------------------------

    def build(self, trigger: str) -> str | None:
        status = self.record("build", utcnow(), trigger, self._build)
        if status == "ok" and trigger != "newsletter archive":
            self.on_publish()  # the on-publish rhythms: what this build made go live
        return status

    def publish(self, when: datetime) -> None:
        """The one-off job at an article's publication time: rebuild, once over processes."""
        status = self.record("publish", when, "publish", self._build)
        if status == "ok":
            self.on_publish()
        if status is None:
            from publisher.content import load_articles

            self.arm_publication(load_articles(self.config).next_publication(when))

    def _build(self) -> tuple[str, str]:
        from publisher.newsletter.archive import archive_outputs
        from publisher.site.build import build

        with self._exclusive_build():
            report = build(self.config, datetime.now(self.config.site.tz),
                           extra_outputs=archive_outputs(self.config))
        self.arm_publication(report.next_publication)
        state = "up to date" if report.up_to_date else f"{report.written} files written"
        warnings = f", {len(report.warnings)} warnings" if report.warnings else ""
        later = ""
        if report.next_publication:
            later = (f"; next article at "
                     f"{report.next_publication.astimezone(self.config.site.tz):%Y-%m-%d %H:%M:%S %Z}")
        count = f"{report.articles} article{'s' if report.articles != 1 else ''}"
        return "ok", f"{count}, {state}{warnings}{later}"

    @contextmanager
    def _exclusive_build(self) -> Iterator[None]:
        """One build at a time: in this process (a lock) and over processes (a file lock on
        var/build.lock), since two `run` processes share public/ and the build cache."""
        with self._build_lock:
            var = self.config.path("var")
            var.mkdir(parents=True, exist_ok=True)
            with open(var / "build.lock", "a") as handle:
                try:
                    import fcntl
                except ImportError:  # pragma: no cover - Windows: the process lock only
                    yield
                    return
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def arm_publication(self, when: datetime | None) -> None:
        """Rebuild at `when`, the next future article's publication time (one job, replaced)."""
        if self.stopping.is_set():
            return
        if when is None:
            if self.scheduler.get_job("publish"):
                self.scheduler.remove_job("publish")
            return
        self.scheduler.add_job(self.publish, "date", run_date=when, args=[when], id="publish",
                               name="publish", replace_existing=True,
                               misfire_grace_time=None)

    # -- start and catch-up -----------------------------------------------------------------

    def missed(self, now: datetime) -> list[tuple[CronJob, datetime]]:
        """For each cron job (but build, which runs at every start), its latest slot in
        (now - grace, now] that nobody ran, if this database saw `publisher run` before it."""
        first = self.store.first_run_started()
        if first is None:
            return []  # never ran here: nothing was missed
        since = max(now - self.grace, first)
        due = []
        for job in cron_jobs(self.config):
            slot = last_slot(job.trigger, since, now) if job.name != "build" else None
            if slot is not None and not self.store.has_run(job.name, slot):
                due.append((job, slot))
        return due

    def catch_up(self, missed: list[tuple[CronJob, datetime]]) -> None:
        """Once at start: run each missed slot once (coalesced), then resume a stopped send."""
        for job, slot in missed:
            if not self.stopping.is_set():
                self.run_job(job.name, slot, "catch-up")
        if self.stopping.is_set() or (self.config.schedule.newsletter is None
                                      and not self.config.newsletter.rhythms):
            return
        if any(job.name == "newsletter" for job, _ in missed):
            return  # that send resumed the unfinished issues first
        if self.store.unfinished_issues() and \
                self.record("newsletter", utcnow(), "resume", self._resume) == "ok":
            self.build("newsletter archive")

    def start(self, web: bool = True, host: str | None = None, port: int | None = None) -> None:
        missed = self.missed(utcnow())  # before this start records anything
        self.build("start")
        if self.stopping.is_set():
            return
        self.scheduler.start()
        self.scheduler.add_job(self.catch_up, args=[missed], id="catch-up", name="catch-up",
                               misfire_grace_time=None)
        self._thread(self.watch, "watch")
        if web:
            self.serve(host or self.config.web.host, port or self.config.web.port)

    def _thread(self, target, name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def watch(self) -> None:
        """Rebuild when a file under content/ or templates/ changes, after `debounce` of quiet."""
        from watchfiles import watch

        paths = [p for p in (self.config.path("content"), self.config.path("templates"))
                 if p.is_dir()]
        if not paths:
            return
        debounce = max(1, int(self.config.schedule.debounce.total_seconds() * 1000))
        try:
            for _changes in watch(*paths, debounce=debounce, stop_event=self.stopping,
                                  raise_interrupt=False):
                if self.stopping.is_set():
                    break
                self.build("change")
        except Exception:  # noqa: BLE001 - the schedule still rebuilds
            log.exception("watch: stopped watching %s", ", ".join(map(str, paths)))

    def serve(self, host: str, port: int) -> None:
        """uvicorn in a thread (so it installs no signal handlers: `run` owns them)."""
        import uvicorn

        from publisher.web.app import create_app
        from publisher.web.server import uvicorn_config

        app = create_app(self.config, self.store, self.transport, self.tokens)
        if self.wrap_app is not None:
            app = self.wrap_app(app)
        self.server = uvicorn.Server(uvicorn_config(app, self.config, host, port))
        thread = self._thread(self.server.run, "web")
        deadline = time.monotonic() + 15
        while not self.server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            raise PublisherError(f"cannot serve on http://{host}:{port}/ (is the port in use?)")
        log.info("serving %s and the subscription pages on http://%s:%s/",
                 self.config.path("output"), host, port)

    # -- stop -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop serving, let a send finish its messages in flight, wait for running jobs."""
        self.stopping.set()
        if self.server is not None:
            self.server.should_exit = True
        if self.scheduler.running:
            # Not wait=True: APScheduler would wait holding its job store lock, which a running
            # job needs to re-arm the publication job. We wait for our own jobs instead.
            self.scheduler.shutdown(wait=False)
        with self._idle:
            if not self._idle.wait_for(lambda: self._active == 0, timeout=60):
                log.warning("stopping: a job is still running after 60 s")
        for thread in self._threads:
            thread.join(timeout=10)
        self.store.close()

    def run(self, web: bool = True, host: str | None = None, port: int | None = None) -> int:
        """Start, then wait for SIGTERM or SIGINT (a second one exits at once)."""
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        lead = Leadership(self.store, self.config.schedule.takeover.total_seconds())
        try:
            if lead.acquire(self.stopping):  # one process schedules; the others stand by
                self._thread(lambda: lead.keep(self.stopping), "lease")
                self.start(web, host, port)
            if not self.stopping.is_set():
                jobs = "; ".join(f"{j.name} {j.expr!r}" for j in cron_jobs(self.config))
                log.info("running: %s", jobs or "no scheduled job")
            web_thread = next((t for t in self._threads if t.name == "web"), None)
            while not self.stopping.wait(0.2):
                if web_thread is not None and not web_thread.is_alive():
                    log.error("the web server stopped; stopping")
                    break
        finally:
            log.info("stopping")
            self.stop()
            lead.release()  # after the jobs ended: a standby takes over at its next try
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log.info("stopped")
        return 0

    def _on_signal(self, signum, _frame) -> None:
        if self.stopping.is_set():
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            os._exit(1)
        self.stopping.set()
