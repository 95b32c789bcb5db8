"""The sends of `publisher run`: the digest on its schedule, or each rhythm's (issue 17) on
its own, an on-publish rhythm after every build that made an article go live, and the
resumption of what a stop left half sent. A mixin of `Runner` (publisher.schedule.runner),
which claims each (job, slot) in job_runs before any of these runs."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Callable

from publisher.config.sections import ON_PUBLISH
from publisher.schedule.jobs import rhythm_of_job

log = logging.getLogger("publisher.run")


class Sends:
    config: object
    store: object
    stopping: object

    def record(self, job: str, slot: datetime, trigger: str, work) -> str | None:  # Runner's
        raise NotImplementedError

    def build(self, trigger: str) -> str | None:  # Runner's
        raise NotImplementedError

    def send_job(self, name: str) -> Callable[[], tuple[str, str]]:
        """The work of the job `name`: "newsletter", or "newsletter:RHYTHM"."""
        rhythm = rhythm_of_job(name)
        return (lambda: self._rhythm(rhythm)) if rhythm else self._newsletter

    _live: frozenset[str] | None = None  # the published articles at the last on_publish
    _publish_lock: threading.Lock  # two builds' on_publish (the watcher's, a publication's)

    def on_publish(self) -> None:
        with self._publish_lock:  # the second then finds the published articles looked at
            self._on_publish()

    def _on_publish(self) -> None:
        """Send each on-publish rhythm's new articles, when there are some (a run of
        "newsletter:NAME" claimed at this very instant). The ledger is read only when the
        published articles changed since the last look (and at start): what a switch or a
        new subscriber made due goes with the next article."""
        from publisher.content import load_articles
        from publisher.newsletter.rhythms import preview_plan

        instant = [n for n, w in self.config.newsletter.rhythms.items() if w == ON_PUBLISH]
        if not instant or self.stopping.is_set():
            return
        now = datetime.now(timezone.utc).replace(microsecond=0)
        articles = load_articles(self.config).published(now)
        live = frozenset(a.id + a.digest for a in articles)
        if live == self._live:
            return
        self._live = live
        sent = False
        for name in instant:
            if preview_plan(self.config, self.store, name, articles, now) is None:
                continue  # nothing due: no run recorded
            job = f"newsletter:{name}"
            # Claimed to the microsecond, not the second: a build a moment after another (a
            # publication's, then the watcher's) that made another article go live must not
            # find its slot taken, or that article waits for the next one. Two processes may
            # both run it: the ledger, under its lock, still gives each subscriber each
            # article once.
            status = self.record(job, datetime.now(timezone.utc), "publish", self.send_job(job))
            sent |= status == "ok"
            if status == "error":
                self._live = None  # try again at the next build
        if sent and not self.stopping.is_set():
            self.build("newsletter archive")

    def _rhythm(self, rhythm: str) -> tuple[str, str]:
        from publisher.content import load_articles
        from publisher.newsletter.rhythms import preview_plan, send_rhythm

        with self._send_lock:
            now = datetime.now(self.config.site.tz).replace(microsecond=0)
            articles = load_articles(self.config).published(now)
            least = self.config.schedule.min_articles
            if least > 1 and not self.store.unfinished_issues(rhythm):
                plan = preview_plan(self.config, self.store, rhythm, articles, now)
                count = len(plan.articles) if plan else 0
                if count < least:
                    return "skipped", (f"{count} new for the {rhythm} rhythm, waiting for "
                                       f"{least} (schedule.min_articles)")
            if self.config.mail.doctor:  # refuses (an "error" run) when a check fails
                from publisher.doctor import check_before_send

                check_before_send(self.config, now, articles, self.store)
            outcome = send_rhythm(self.config, self.store, self.transport, self.tokens,
                                  articles, now, rhythm, stop=self.stopping)
        status, summary = self._sent(outcome.reports)
        if outcome.nothing_new:
            summary = "; ".join(filter(None, [summary, outcome.nothing_new]))
        return status, summary

    def _newsletter(self) -> tuple[str, str]:
        from publisher.content import load_articles
        from publisher.newsletter.campaign import send_newsletter

        with self._send_lock:
            now = datetime.now(self.config.site.tz).replace(microsecond=0)
            articles = load_articles(self.config).published(now)
            if not self.store.unfinished_issues():
                waiting = self._too_few(articles, now)
                if waiting:
                    return "skipped", waiting
            if self.config.mail.doctor:  # refuses (an "error" run) when a check fails
                from publisher.doctor import check_before_send

                check_before_send(self.config, now, articles, self.store)
            outcome = send_newsletter(self.config, self.store, self.transport, self.tokens,
                                      articles, now, stop=self.stopping)
        status, summary = self._sent(outcome.reports)
        if outcome.nothing_new:
            summary = "; ".join(filter(None, [summary, outcome.nothing_new]))
        return status, summary

    def _too_few(self, articles, now: datetime) -> str:
        """Why the digest waits, when fewer than schedule.min_articles are new."""
        from publisher.newsletter.campaign import plan_next

        least = self.config.schedule.min_articles
        if least <= 1:
            return ""  # send_newsletter itself says "nothing new"
        plan, last = plan_next(self.config, self.store, articles, now)
        count = len(plan.articles) if plan else 0
        if count >= least:
            return ""
        since = f"issue {last.number}" if last else "the start"
        return f"{count} new since {since}, waiting for {least} (schedule.min_articles)"

    def _sent(self, reports) -> tuple[str, str]:
        if not reports:
            return "skipped", ""
        parts, status = [], "ok"
        for issue, report in reports:
            counts = self.store.delivery_counts(issue.id)
            left = counts.get("queued", 0) + counts.get("claimed", 0)
            sent, failed = counts.get("sent", 0), counts.get("failed", 0)
            here = f", {report.sent} by this run" if report.sent != sent else ""
            if left and self.stopping.is_set():
                status = "stopped"
                text = (f"{label(issue)} stopped: {sent} of {sum(counts.values())} sent"
                        f"{here}, {left} left for the next start")
            elif left:
                text = f"{label(issue)}: {sent} sent{here}, {left} with another sender"
            else:
                text = f"{label(issue)} sent to {sent} ({failed} failed){here}"
            if counts.get("skipped"):
                text += f", {counts['skipped']} with nothing for them"
            parts.append(text)
        return status, "; ".join(parts)

    def _resume(self) -> tuple[str, str]:
        """Finish the issues a stop or a crash left half sent (no new issue)."""
        from publisher.content import load_articles
        from publisher.newsletter.campaign import deliver, plan_of
        from publisher.newsletter.rhythms import finish_queueing

        with self._send_lock:
            now = datetime.now(self.config.site.tz).replace(microsecond=0)
            articles = load_articles(self.config).published(now)
            finish_queueing(self.config, self.store, articles, now)  # a rhythm's, cut short
            reports = [(issue, deliver(self.config, self.store, self.transport, self.tokens,
                                       issue, plan_of(issue, articles), now, stop=self.stopping))
                       for issue in self.store.unfinished_issues()]
        status, summary = self._sent(reports)
        return status, summary or "nothing to resume"


def label(issue) -> str:
    return f"{issue.rhythm} issue {issue.number}" if issue.rhythm else f"issue {issue.number}"
