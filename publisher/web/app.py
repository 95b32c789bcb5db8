"""Starlette routes: subscribe (double opt-in), confirm, unsubscribe (RFC 8058 one-click),
preferences, and the built site from public/ with ETag, Last-Modified and 304 answers.

The routes only translate HTTP to the subscriber use cases and back. The same answer whether an
address is known or not; a forged or expired token answers 400 and changes nothing. No mail is
sent here: confirmations and welcomes are queued in the store for the app's background sender
(publisher.web.sender, started by the lifespan). What a request may be, and the headers of
every answer, are the Guard's (publisher.web.guard); the uvicorn settings are web/server.py's.
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import datetime, timezone

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route

from publisher import i18n
from publisher.audience import subscribers as uc
from publisher.audience.consent import client_record
from publisher.audience.notices import Notices, template_env
from publisher.audience.tokens import TokenError, Tokens, tokens_for
from publisher.content.collate import collated
from publisher.mail.transport import Transport, make_transport
from publisher.store import Store, open_store
from publisher.web.guard import Guard
from publisher.web.limits import RateLimit, client_address, mailbox, networks
from publisher.web.sender import NoticeSender
from publisher.web.site_files import SiteFiles, feed_view_env

log = logging.getLogger("publisher.web.app")

MAX_CATEGORIES = 100  # categories one form may name


class Site:
    """What the routes need, built once per app."""

    def __init__(self, config, store: Store, transport: Transport, tokens: Tokens):
        self.config, self.store, self.tokens = config, store, tokens
        self.notices = Notices(config, transport, tokens)
        self.sender = NoticeSender(config, store, self.notices)
        self.env = template_env(str(config.path("templates")), strict=False,
                                language=config.site.lang)
        self._ = i18n.gettext_for(config.site.lang)
        self.limit = RateLimit(config.web.subscribe_rate)
        self.trusted = networks(config.web.trusted_proxies)
        self._categories: tuple[float, list[str]] = (0.0, [])

    def _page(self, template: str, status: int = 200, **ctx) -> HTMLResponse:
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
            names = collated(found)
            self._categories = (time.monotonic(), names)
        return names

    def chosen(self, values) -> list[str]:
        """Those of `values` that are the site's own categories, in the site's spelling."""
        offered = {c.casefold(): c for c in self.categories()}
        return [offered[c.casefold()] for c in map(str, values[:MAX_CATEGORIES])
                if c.casefold() in offered]

    def rhythms(self) -> list[tuple[str, str]]:
        """(name, how it reads) of each rhythm of newsletter.rhythms, for the forms."""
        from publisher.config.sections import ON_PUBLISH

        _ = self._
        known = {"instant": _("Instant"), "daily": _("Daily"), "weekly": _("Weekly"),
                 "monthly": _("Monthly")}  # the names the README suggests, in the language
        return [(name, known.get(name.casefold(), name.capitalize())
                 + (" — " + _("each article as soon as it is published")
                    if when == ON_PUBLISH else ""))
                for name, when in self.config.newsletter.rhythms.items()]

    def rhythm(self, value) -> str:
        """The rhythm a form chose, if it is one of config.yaml's; else "" (the default)."""
        value = str(value or "")
        return value if value in self.config.newsletter.rhythms else ""

    def page(self, template: str, status: int = 200, **ctx) -> HTMLResponse:
        ctx.setdefault("rhythms", self.rhythms())
        ctx.setdefault("default_rhythm", self.config.newsletter.default)
        return self._page(template, status, **ctx)

    def queue(self, kind: str, email: str, asked: dict) -> None:
        """A mail for the background sender: one INSERT, whoever the address belongs to."""
        self.store.queue_notice(kind, email, mailbox(email), asked, _now())
        self.sender.wake()

    def welcome(self, subscriber) -> None:
        self.queue("welcome", subscriber.email, {})


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def subscribe_form(request: Request) -> Response:
    site: Site = request.app.state.site
    return site.page("subscribe", categories=await run_in_threadpool(site.categories))


async def subscribe(request: Request) -> Response:
    """The same answer, after the same work (one INSERT), for a new, pending, active or
    departed address; the background sender decides what, if anything, to mail."""
    site: Site = request.app.state.site
    client = client_address(request.scope, site.trusted)
    if not site.limit.allow(client):
        return site.page("subscribe", 429, categories=[],
                         error=site._("Too many attempts: wait a minute, then try again."))
    form = await request.form(max_fields=MAX_CATEGORIES + 10, max_files=0)
    address = str(form.get("email", ""))[:320]
    name = str(form.get("name", ""))[:200]
    try:
        email = uc.normalise(address)
    except uc.SubscriberError:  # only a bad address; str(exc) is the English of the CLI
        error = site._("“%(address)s” is not a valid email address.") % {"address": address.strip()}
        return site.page("subscribe", 400, error=error, email=address, name=name,
                         categories=await run_in_threadpool(site.categories))
    chosen = await run_in_threadpool(site.chosen, form.getlist("categories"))
    asked = {"name": uc.clean_name(name), "categories": chosen,  # and the opt-in record's
             "client": client_record(site.config.web.keep_client_address, site.tokens.digest,
                                     client)}
    if site.rhythm(form.get("rhythm")):
        asked["rhythm"] = site.rhythm(form.get("rhythm"))
    await run_in_threadpool(site.queue, "subscribe", email, asked)
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
        token = str((await request.form(max_fields=10, max_files=0)).get("token", ""))[:2000]
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
    form = (await request.form(max_fields=MAX_CATEGORIES + 10, max_files=0)
            if request.method == "POST" else None)
    token = request.query_params.get("token", "") or (str(form.get("token", "")) if form else "")
    try:
        address = site.tokens.read("preferences", token)
    except TokenError as exc:
        return site.bad_link(exc)
    saved = False
    if form is not None:
        chosen = await run_in_threadpool(site.chosen, form.getlist("categories"))
        sub = await run_in_threadpool(uc.set_categories, site.store, address, chosen)
        if sub is not None and site.rhythm(form.get("rhythm")):
            sub = await run_in_threadpool(lambda: site.store.update_subscriber(
                address, rhythm=site.rhythm(form.get("rhythm"))))
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
    """The app; its lifespan runs the background sender of confirmation and welcome mails."""
    site = Site(config, store or open_store(config), transport or make_transport(config),
                tokens or tokens_for(config))
    config.path("output").mkdir(parents=True, exist_ok=True)  # served (empty) before a build
    routes = [
        Route("/subscribe", subscribe_form, methods=["GET"]),
        Route("/subscribe", subscribe, methods=["POST"]),
        Route("/confirm", confirm, methods=["GET"]),
        Route("/unsubscribe", unsubscribe, methods=["GET", "POST"]),
        Route("/preferences", preferences, methods=["GET", "POST"]),
        Mount("/", SiteFiles(directory=config.path("output"), config=config,
                             env=feed_view_env(config))),
    ]
    from publisher.web.admin import admin_routes

    routes[-1:-1] = admin_routes(config, site.store, site.notices)  # /admin/, when a password is set

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        site.sender.start()
        try:
            yield
        finally:
            site.sender.stop()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(GZipMiddleware, minimum_size=512)
    app.add_middleware(Guard, site_url=config.site.url, max_body=config.web.max_body,
                       body_timeout=config.web.body_timeout)
    app.state.site = site
    return app
