"""Starlette routes: subscribe (double opt-in), confirm, unsubscribe (RFC 8058 one-click),
preferences, and the built site from public/ with ETag, Last-Modified and 304 answers.

The routes only translate HTTP to the subscriber use cases and back. The same answer whether an
address is known or not; a forged or expired token answers 400 and changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from datetime import datetime, timezone

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from publisher.audience import subscribers as uc
from publisher.audience.consent import client_record
from publisher.audience.notices import Notices, template_env
from publisher.audience.tokens import TokenError, Tokens, tokens_for
from publisher.mail.transport import Transport, make_transport
from publisher.store import Store, open_store

log = logging.getLogger("publisher.web.app")

CONFIRMATIONS_PER_HOUR = 3  # per address: the form cannot be used to flood a mailbox


class RateLimit:
    """At most `per_minute` hits per key (a client address) in any sliding `window` seconds."""

    def __init__(self, per_minute: int, window: float = 60):
        self.per_minute, self.window = per_minute, window
        self.hits: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        hits = self.hits[client]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return False
        hits.append(now)
        if len(self.hits) > 10_000:  # forget idle clients: memory stays bounded
            for key in [k for k, v in self.hits.items() if not v][:5_000]:
                del self.hits[key]
        return True


class Site:
    """What the routes need, built once per app."""

    def __init__(self, config, store: Store, transport: Transport, tokens: Tokens):
        self.config, self.store, self.tokens = config, store, tokens
        self.notices = Notices(config, transport, tokens)
        self.env = template_env(str(config.path("templates")), strict=False)
        self.limit = RateLimit(config.web.subscribe_rate)
        # confirmation emails per address: beyond, none is sent (the same answer page)
        self.mail_limit = RateLimit(CONFIRMATIONS_PER_HOUR, window=3600)
        self._categories: tuple[float, list[str]] = (0.0, [])

    def page(self, template: str, status: int = 200, **ctx) -> HTMLResponse:
        html = self.env.get_template(f"web/{template}.html").render(site=self.config.site, **ctx)
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

    def bad_link(self, exc: TokenError) -> HTMLResponse:
        return self.page("invalid", 400, expired=exc.expired, message=str(exc))

    def categories(self) -> list[str]:
        """The site's categories (from content/), re-read at most once a minute."""
        when, names = self._categories
        if time.monotonic() - when > 60:
            from publisher.content import load_articles

            now = datetime.now(timezone.utc)
            found = {c for a in load_articles(self.config).published(now) for c in a.categories}
            names = sorted(found, key=str.casefold)
            self._categories = (time.monotonic(), names)
        return names

    def welcome(self, subscriber) -> None:
        last = self.store.last_issue()
        try:
            self.notices.welcome(subscriber, last.number if last else None)
        except Exception as exc:  # noqa: BLE001 - the subscription stands even if mail fails
            log.warning("welcome email to %s not sent: %s", subscriber.email, exc)

    def confirmation(self, subscriber, request: dict | None = None) -> None:
        if not self.mail_limit.allow(subscriber.email):
            log.info("confirmation email to %s not sent: %d in the last hour",
                     subscriber.email, CONFIRMATIONS_PER_HOUR)
            return
        try:
            self.notices.confirmation(subscriber, request)
        except Exception as exc:  # noqa: BLE001 - same answer either way; the log says why
            log.warning("confirmation email to %s not sent: %s", subscriber.email, exc)


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def subscribe_form(request: Request) -> Response:
    site: Site = request.app.state.site
    return site.page("subscribe", categories=await run_in_threadpool(site.categories))


async def subscribe(request: Request) -> Response:
    site: Site = request.app.state.site
    client = request.client.host if request.client else "?"
    if not site.limit.allow(client):
        return site.page("subscribe", 429, categories=[],
                         error="Trop de tentatives\u00a0: patientez une minute, puis réessayez.")
    form = await request.form()
    address = str(form.get("email", ""))
    name = str(form.get("name", ""))
    offered = {c.casefold(): c for c in await run_in_threadpool(site.categories)}
    chosen = [offered[c.casefold()] for c in map(str, form.getlist("categories"))
              if c.casefold() in offered]  # only the site's own categories
    try:
        await run_in_threadpool(uc.request, site.store, address, name, chosen, _now(),
                                site.confirmation, client_record(
                                    site.config.web.keep_client_address, site.tokens.digest,
                                    client))
    except uc.SubscriberError:  # only a bad address; str(exc) is the English of the CLI
        error = f"«\u00a0{address.strip()}\u00a0» n’est pas une adresse e-mail valide."
        return site.page("subscribe", 400, error=error, email=address, name=name,
                         categories=await run_in_threadpool(site.categories))
    return site.page("check_inbox", hours=site.config.web.confirm_hours)


async def confirm(request: Request) -> Response:
    site: Site = request.app.state.site
    try:
        address, asked, issued = site.tokens.read_issued(
            "confirm", request.query_params.get("token", ""),
            max_age=site.config.web.confirm_hours * 3600)
        sub = await run_in_threadpool(uc.confirm, site.store, address, _now(), site.welcome,
                                      asked, issued)
    except TokenError as exc:
        return site.bad_link(exc)
    except uc.ConsentLapsed:  # they left after this link was sent: they must ask again
        return site.page("consent_lapsed", 410)
    if sub is None or sub.status not in ("active",):
        return site.bad_link(TokenError("this link is no longer valid"))
    return site.page("confirmed", subscriber=sub,
                     preferences_url=site.notices.links.preferences(sub.email))


async def unsubscribe(request: Request) -> Response:
    """GET: a page with one button. POST: RFC 8058 one-click, answered 200 directly."""
    site: Site = request.app.state.site
    token = request.query_params.get("token", "")
    if request.method == "POST" and not token:
        token = str((await request.form()).get("token", ""))
    try:
        address = site.tokens.read("unsubscribe", token)
    except TokenError as exc:
        return site.bad_link(exc)
    if request.method == "GET":
        return site.page("unsubscribe", token=token, email=address)
    await run_in_threadpool(uc.unsubscribe, site.store, address, _now())
    return site.page("unsubscribed", email=address)


async def preferences(request: Request) -> Response:
    site: Site = request.app.state.site
    form = await request.form() if request.method == "POST" else None
    token = request.query_params.get("token", "") or (str(form.get("token", "")) if form else "")
    try:
        address = site.tokens.read("preferences", token)
    except TokenError as exc:
        return site.bad_link(exc)
    saved = False
    if form is not None:
        chosen = [str(c) for c in form.getlist("categories")]
        sub = await run_in_threadpool(uc.set_categories, site.store, address, chosen)
        saved = True
    else:
        sub = await run_in_threadpool(site.store.get_subscriber, address)
    if sub is None:
        return site.bad_link(TokenError("this link is no longer valid"))
    return site.page("preferences", token=token, subscriber=sub, saved=saved,
                     categories=await run_in_threadpool(site.categories),
                     unsubscribe_url=site.notices.links.unsubscribe(address))


def create_app(config, store: Store | None = None, transport: Transport | None = None,
               tokens: Tokens | None = None) -> Starlette:
    site = Site(config, store or open_store(config), transport or make_transport(config),
                tokens or tokens_for(config))
    config.path("output").mkdir(parents=True, exist_ok=True)  # served (empty) before a build
    routes = [
        Route("/subscribe", subscribe_form, methods=["GET"]),
        Route("/subscribe", subscribe, methods=["POST"]),
        Route("/confirm", confirm, methods=["GET"]),
        Route("/unsubscribe", unsubscribe, methods=["GET", "POST"]),
        Route("/preferences", preferences, methods=["GET", "POST"]),
        Mount("/", StaticFiles(directory=config.path("output"), html=True, check_dir=False)),
    ]
    app = Starlette(routes=routes)
    app.state.site = site
    return app
