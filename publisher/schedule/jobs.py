"""The schedule: the jobs config.yaml names, as APScheduler 3.x jobs, and their table.

Jobs are rebuilt from config.yaml at every start; what has run lives in the store's job_runs
table (see publisher.store.jobs), keyed by (job, slot) where the slot is the scheduled fire
time. That table, not APScheduler's memory, decides the catch-up after downtime and which of
two processes runs a slot. Crontab parsing is `publisher.cron`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from publisher.config.sections import ON_PUBLISH
from publisher.cron import cron_trigger

JOBS = ("build", "newsletter")  # the cron jobs config.yaml may schedule, in display order


@dataclass(frozen=True)
class CronJob:
    name: str
    expr: str
    trigger: Any  # apscheduler CronTrigger, in the site's time zone


def newsletter_jobs(config) -> list[tuple[str, str | None]]:
    """(job, crontab or None) of the sends: "newsletter" on schedule.newsletter, or with
    newsletter.rhythms one "newsletter:NAME" per rhythm on its own crontab (an on-publish
    rhythm has none: it runs after every build that made an article go live)."""
    rhythms = config.newsletter.rhythms
    if not rhythms:
        return [("newsletter", config.schedule.newsletter)]
    return [(f"newsletter:{name}", when) for name, when in rhythms.items()
            if when != ON_PUBLISH]


def rhythm_of_job(name: str) -> str:
    """"newsletter:daily" -> "daily"; "newsletter" -> "" (the one digest)."""
    return name.partition(":")[2]


def cron_jobs(config) -> list[CronJob]:
    """The scheduled jobs of config.yaml (those not disabled with null)."""
    found = []
    for name, expr in [("build", config.schedule.build), *newsletter_jobs(config)]:
        if expr:
            found.append(CronJob(name, expr, cron_trigger(expr, config.site.tz)))
    return found


def make_scheduler(config, fire: Callable[[CronJob], None]):
    """A BackgroundScheduler (not started) with one job per scheduled job, each calling
    `fire(job)`. Coalesced, one instance at a time; in-memory: the store keeps the history."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler

    grace = max(1, int(config.schedule.grace.total_seconds()))
    scheduler = BackgroundScheduler(
        timezone=config.site.tz,
        executors={"default": ThreadPoolExecutor(4)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace},
    )
    for job in cron_jobs(config):
        scheduler.add_job(fire, job.trigger, args=[job], id=job.name, name=job.name)
    return scheduler


@dataclass(frozen=True)
class JobStatus:
    """A line of `publisher jobs`."""

    name: str
    trigger: str
    next_run: datetime | None
    last: Any = None  # publisher.store.jobs.JobRun


def job_table(config, store, now: datetime, next_publication: datetime | None) -> list[JobStatus]:
    """Each job, its trigger, its next run (in the site's zone) and its last recorded outcome."""
    last = store.last_runs()
    rows = [JobStatus(job.name, job.expr, job.trigger.get_next_fire_time(None, now),
                      last.get(job.name)) for job in cron_jobs(config)]
    for name, expr in [("build", config.schedule.build), *newsletter_jobs(config)]:
        if expr is None:
            rows.append(JobStatus(name, "disabled", None, last.get(name)))
    for name, when in config.newsletter.rhythms.items():
        if when == ON_PUBLISH:  # runs when the next scheduled article goes live
            rows.append(JobStatus(f"newsletter:{name}", "on publish",
                                  next_publication.astimezone(config.site.tz)
                                  if next_publication else None, last.get(f"newsletter:{name}")))
    rows.append(JobStatus("publish", "next scheduled article",
                          next_publication.astimezone(config.site.tz) if next_publication else None,
                          last.get("publish")))
    return rows
