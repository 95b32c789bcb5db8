""""Send now" from the dashboard: a confirmation step, the send in a thread of the web
process (the same use case as `publisher newsletter send`), its progress as Server-Sent
Events, and a stop button (the send ends after the messages in flight; the rest stays queued
for the next send, as after a SIGTERM)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from publisher.web.admin.context import NO_STORE, PREFIX, Admin, guarded

log = logging.getLogger("publisher.web.admin")


@dataclass
class SendJob:
    """One send started from the dashboard; one at a time per web process."""

    done: int = 0
    total: int = 0
    state: str = "running"  # running, finished, stopped, error
    summary: str = ""
    stop: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def view(self, _) -> dict:
        texts = {"running": _("Sending: %(done)s of %(total)s") % {"done": self.done,
                                                                  "total": self.total},
                 "finished": _("Finished: %(summary)s") % {"summary": self.summary},
                 "stopped": _("Stopped: %(summary)s") % {"summary": self.summary},
                 "error": _("The send failed: %(summary)s") % {"summary": self.summary}}
        return {"done": self.done, "total": self.total, "state": self.state,
                "text": texts[self.state]}


def _run(admin: Admin, job: SendJob, rhythm: str = "") -> None:
    from publisher.content import load_articles
    from publisher.newsletter.campaign import send_newsletter
    from publisher.newsletter.rhythms import send_rhythm

    notices, now = admin.notices, admin.now()
    try:
        articles = load_articles(admin.config).published(now)  # as they are now, not cached
        if rhythm:
            outcome = send_rhythm(admin.config, admin.store, notices.transport,
                                  notices.links.tokens, articles, now, rhythm,
                                  progress=job.progress, stop=job.stop)
        else:
            outcome = send_newsletter(admin.config, admin.store, notices.transport,
                                      notices.links.tokens, articles, now,
                                      progress=job.progress, stop=job.stop)
        _ = admin._
        parts = [_("issue %(n)s: %(sent)s sent, %(failed)s failed")
                 % {"n": f"{issue.rhythm} {issue.number}" if issue.rhythm else issue.number,
                    "sent": report.sent, "failed": len(report.failed)}
                 for issue, report in outcome.reports]
        job.summary = "; ".join(parts) or outcome.nothing_new
        job.state = "stopped" if job.stop.is_set() else "finished"
    except Exception as exc:  # noqa: BLE001 - shown on the page in one line, logged in full
        log.exception("send from the dashboard failed")
        job.summary, job.state = str(exc).splitlines()[0] if str(exc) else type(exc).__name__, \
            "error"


def _job(admin: Admin) -> SendJob | None:
    return admin.send_job


def _what_would_go(admin: Admin) -> dict:
    from publisher.web.admin.views import next_plan

    active = admin.store.count_subscribers().get("active", 0)
    if admin.config.newsletter.rhythms:  # each rhythm's next issue, each its own button
        from publisher.content import load_articles
        from publisher.newsletter.rhythms import preview_plan

        now = admin.now()
        articles = load_articles(admin.config).published(now)
        rhythms = [(name, preview_plan(admin.config, admin.store, name, articles, now),
                    admin.store.unfinished_issues(name))
                   for name in admin.config.newsletter.rhythms]
        return dict(rhythms=rhythms, plan=None, unfinished=[], active=active)
    plan, _ = next_plan(admin)
    return dict(rhythms=[], plan=plan, unfinished=admin.store.unfinished_issues(),
                active=active)


@guarded
async def confirm(request: Request) -> Response:
    admin: Admin = request.app.state.admin
    job = _job(admin)
    if job is not None and job.state == "running":
        return RedirectResponse(PREFIX + "send/progress", 303, headers=NO_STORE)
    admin.cache.pop("articles", None)  # what would go out now
    return admin.render(request, "send", **await run_in_threadpool(_what_would_go, admin))


@guarded
async def start(request: Request) -> Response:
    admin: Admin = request.app.state.admin
    job = _job(admin)
    rhythm = ""
    if admin.config.newsletter.rhythms:  # one rhythm at a time, named by its button
        rhythm = str((await request.form(max_fields=10, max_files=0)).get("rhythm", ""))
        if rhythm not in admin.config.newsletter.rhythms:
            return RedirectResponse(PREFIX + "send", 303, headers=NO_STORE)
    if job is None or job.state != "running":
        job = admin.send_job = SendJob()
        threading.Thread(target=_run, args=(admin, job, rhythm), name="admin-send",
                         daemon=True).start()
    return RedirectResponse(PREFIX + "send/progress", 303, headers=NO_STORE)


@guarded
async def stop(request: Request) -> Response:
    admin: Admin = request.app.state.admin
    job = _job(admin)
    if job is not None:
        job.stop.set()
    return RedirectResponse(PREFIX + "send/progress", 303, headers=NO_STORE)


@guarded
async def progress(request: Request) -> Response:
    admin: Admin = request.app.state.admin
    job = _job(admin)
    if job is None:
        return RedirectResponse(PREFIX + "send", 303, headers=NO_STORE)
    return admin.render(request, "progress", job=job.view(admin._))


@guarded
async def events(request: Request) -> Response:
    """The job's progress every quarter second, until it ends or the page goes away."""
    admin: Admin = request.app.state.admin

    async def stream():
        last = None
        while True:
            job = _job(admin)
            view = job.view(admin._) if job else {"state": "none"}
            if view != last:
                yield f"data: {json.dumps(view, ensure_ascii=False)}\n\n"
                last = view
            if view["state"] != "running" or await request.is_disconnected():
                return
            await asyncio.sleep(0.25)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={**NO_STORE, "X-Accel-Buffering": "no"})
