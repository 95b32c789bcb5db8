"""The dashboard's pages: overview, subscribers (search, filters, keyset pages), one
subscriber, issues and one issue, the next issue's preview. Reads only."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from publisher.models import SUBSCRIBER_STATES
from publisher.web.admin.charts import bar_chart, week_bounds
from publisher.web.admin.context import NO_STORE, Admin, guarded

WEEKS = 12


def _articles(admin: Admin):
    """The published articles, re-read at most once a minute."""
    from publisher.content import load_articles

    return admin.cached("articles", 60, lambda: load_articles(admin.config).published(admin.now()))


def next_plan(admin: Admin):
    """(what the next issue would hold now or None, when the schedule sends it or None)."""
    from publisher.cron import cron_trigger
    from publisher.newsletter.campaign import plan_next

    now = admin.now()
    plan, _ = plan_next(admin.config, admin.store, _articles(admin), now)
    when = None
    if admin.config.schedule.newsletter:
        trigger = cron_trigger(admin.config.schedule.newsletter, admin.config.site.tz)
        when = trigger.get_next_fire_time(None, now.astimezone(admin.config.site.tz))
    return plan, when


def _overview_data(admin: Admin) -> dict:
    store, now = admin.store, admin.now()
    counts = store.count_subscribers()
    bounds = week_bounds(now.astimezone(admin.config.site.tz), WEEKS)
    signups = store.signups_between(bounds)
    labels = [b.strftime("%d/%m") for b in bounds[:-1]]
    plan, when = next_plan(admin)
    return dict(counts={s: counts.get(s, 0) for s in SUBSCRIBER_STATES},
                total=sum(counts.values()), weeks=list(zip(labels, signups)),
                chart=bar_chart(signups, labels, admin._("New subscribers per week")),
                issues=store.issue_stats(limit=5), plan=plan, next_send=when)


@guarded
async def overview(request: Request) -> Response:
    admin: Admin = request.app.state.admin
    return admin.render(request, "overview", **await run_in_threadpool(_overview_data, admin))


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 19 else None


@guarded
async def subscribers(request: Request) -> Response:
    admin: Admin = request.app.state.admin
    params = request.query_params
    q = params.get("q", "")[:320]
    status = params.get("status", "") if params.get("status") in SUBSCRIBER_STATES else ""
    category = params.get("category", "")[:200]
    after = _int(params.get("after"))
    found, more = await run_in_threadpool(admin.store.subscriber_page, q, status, category, after)
    keep = {k: v for k, v in (("q", q), ("status", status), ("category", category)) if v}
    next_url = f"?{urlencode({**keep, 'after': found[-1].id})}" if more and found else ""
    return admin.render(request, "subscribers", subscribers=found, q=q, status=status,
                        category=category, states=SUBSCRIBER_STATES, next_url=next_url,
                        first_url=f"?{urlencode(keep)}" if after else "",
                        done=params.get("done", ""))


def _subscriber_data(admin: Admin, subscriber_id: int) -> dict | None:
    sub = admin.store.subscriber_by_id(subscriber_id)
    if sub is None:
        return None
    return dict(subscriber=sub, deliveries=admin.store.subscriber_deliveries(sub.id),
                bounces=admin.store.subscriber_bounces(sub.id))


@guarded
async def subscriber(request: Request) -> Response:
    admin: Admin = request.app.state.admin
    data = await run_in_threadpool(_subscriber_data, admin, _int(request.path_params["id"]) or 0)
    if data is None:
        return admin.render(request, "missing", 404)
    return admin.render(request, "subscriber", done=request.query_params.get("done", ""), **data)


@guarded
async def export(request: Request) -> Response:
    """One subscriber's data as JSON (what a data-access request asks for)."""
    admin: Admin = request.app.state.admin
    data = await run_in_threadpool(_subscriber_data, admin, _int(request.path_params["id"]) or 0)
    if data is None:
        return admin.render(request, "missing", 404)
    sub = data["subscriber"]
    body = {
        "email": sub.email, "name": sub.name, "status": sub.status,
        "categories": list(sub.categories), "created": _iso(sub.created),
        "confirmed": _iso(sub.confirmed), "unsubscribed": _iso(sub.unsubscribed),
        "hard_bounces": sub.hard_bounces,
        "deliveries": [{"issue": d.issue_number, "subject": d.subject, "status": d.status,
                        "attempts": d.attempts, "error": d.error, "sent": _iso(d.sent)}
                       for d in data["deliveries"]],
        "bounces": [{"kind": b.kind, "reason": b.reason, "created": _iso(b.created)}
                    for b in data["bounces"]],
    }
    filename = f"subscriber-{sub.id}.json"
    return Response(json.dumps(body, ensure_ascii=False, indent=2), media_type="application/json",
                    headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{filename}"'})


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


@guarded
async def issues(request: Request) -> Response:
    admin: Admin = request.app.state.admin

    def data() -> dict:
        plan, when = next_plan(admin)
        return dict(issues=admin.store.issue_stats(limit=50), plan=plan, next_send=when,
                    categories=sorted({c for a in _articles(admin) for c in a.categories},
                                      key=str.casefold))

    return admin.render(request, "issues", done=request.query_params.get("done", ""),
                        error=request.query_params.get("error", ""),
                        **await run_in_threadpool(data))


@guarded
async def issue(request: Request) -> Response:
    admin: Admin = request.app.state.admin
    rhythm, _, number_text = str(request.path_params["number"]).rpartition("-")  # "daily-3"
    number = _int(number_text) or 0

    def data() -> dict | None:
        from publisher.newsletter.archive import issue_path

        found = admin.store.issue_stats(limit=1, number=number, rhythm=rhythm)
        if not found:
            return None
        page = issue_path(number, rhythm).removesuffix("index.html")
        return dict(issue=found[0], failures=admin.store.issue_failures(found[0].id),
                    web_url=f"{admin.config.site.url}{page}")

    found = await run_in_threadpool(data)
    if found is None:
        return admin.render(request, "missing", 404)
    return admin.render(request, "issue", **found)


@guarded
async def preview(request: Request) -> Response:
    """The next issue as it would go out now, for everyone or for one category's readers."""
    admin: Admin = request.app.state.admin
    category = request.query_params.get("category", "")

    def render() -> str | None:
        from publisher.newsletter.issue import render_issue

        plan, _ = next_plan(admin)
        if plan is not None and category:
            plan = plan.for_categories([category])
        if plan is None:
            return None
        site = admin.config.site.url
        return render_issue(plan, admin.config).personal("", site + "unsubscribe",
                                                         site + "preferences")[0]

    html = await run_in_threadpool(render)
    if html is None:
        return admin.render(request, "missing", 404, nothing_new=True)
    # the issue's own HTML, sandboxed: nothing in it runs or reaches the dashboard
    return HTMLResponse(html, headers={**NO_STORE, "Content-Security-Policy": "sandbox"})
