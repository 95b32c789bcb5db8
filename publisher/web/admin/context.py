"""What every dashboard route needs, built once: the store, the session signer, the templates
in the site's language, and the guard that asks for a login and a CSRF token."""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timezone
from functools import wraps
from typing import Awaitable, Callable

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from publisher import i18n
from publisher.site.theme import template_folders
from publisher.web.admin.auth import (
    COOKIE,
    EPOCH_SETTING,
    PASSWORD_SETTING,
    Attempts,
    Session,
    Sessions,
)

PREFIX = "/admin/"
MAX_FORM = 64 * 1024  # bytes: the largest form the dashboard has is far smaller
Handler = Callable[[Request], Awaitable[Response]]


class Admin:
    def __init__(self, config, store, notices, secret: str, env_hash: str | None):
        self.config, self.store, self.notices = config, store, notices
        self.secret, self.env_hash = secret, env_hash
        self.attempts = Attempts()
        self.secure = config.site.url.startswith("https://")
        self._hash: tuple[float, tuple[str | None, str]] = (0.0, (None, ""))
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(f) for f in
                                            template_folders(config.path("templates"))]),
            autoescape=True, trim_blocks=True, lstrip_blocks=True)
        i18n.install(self.templates, config.site.lang)
        self._ = i18n.gettext_for(config.site.lang)
        self.cache: dict[str, tuple[float, object]] = {}
        self.send_job = None  # the send started from the dashboard (web/admin/sending.py)

    def password_hash(self) -> str | None:
        """The environment's, else the stored one, re-read every few seconds: a password set
        or removed from the command line takes effect without a restart."""
        return self._settings()[0]

    def _settings(self) -> tuple[str | None, str]:
        """(the password's hash, the sessions' epoch), read at most every 5 seconds."""
        when, found = self._hash
        if time.monotonic() - when > 5:
            stored = None if self.env_hash else self.store.get_setting(PASSWORD_SETTING)
            found = (self.env_hash or stored, self.store.get_setting(EPOCH_SETTING) or "")
            self._hash = (time.monotonic(), found)
        return found

    def sessions(self) -> Sessions | None:
        """The signer of this moment's sessions: a new password or a new epoch (a logout)
        ends every session made before, in every process sharing the database."""
        found, epoch = self._settings()
        return Sessions(self.secret, f"{found}\0{epoch}") if found else None

    def end_sessions(self) -> None:
        self.store.set_setting(EPOCH_SETTING, secrets.token_urlsafe(12))
        self._hash = (0.0, (None, ""))  # this process: at once

    def cached(self, key: str, seconds: float, make: Callable[[], object]) -> object:
        when, value = self.cache.get(key, (0.0, None))
        if time.monotonic() - when > seconds:
            value = make()
            self.cache[key] = (time.monotonic(), value)
        return value

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def when(self, moment: datetime | None) -> str:
        return moment.astimezone(self.config.site.tz).strftime("%Y-%m-%d %H:%M") if moment else ""

    def render(self, request: Request, template: str, code: int = 200, **ctx) -> HTMLResponse:
        session: Session | None = request.state.session
        sessions: Sessions | None = request.state.sessions
        html = self.templates.get_template(f"admin/{template}.html").render(
            site=self.config.site, lang=i18n.base_language(self.config.site.lang),
            csrf=sessions.csrf(session) if sessions and session else "", when=self.when,
            path=request.url.path, logged_in=bool(session and session.admin), **ctx)
        response = HTMLResponse(html, status_code=code, headers=NO_STORE)
        if getattr(request.state, "new_cookie", None):
            self.set_cookie(response, request.state.new_cookie)
        return response

    def set_cookie(self, response: Response, value: str) -> None:
        response.set_cookie(COOKIE, value, path=PREFIX, httponly=True, samesite="strict",
                            secure=self.secure)


NO_STORE = {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin"}


def guarded(handler: Handler | None = None, *, login: bool = True) -> Handler:
    """Read the session; without a password the dashboard is not there (404); a page that
    needs a login sends anyone else to it; every POST needs the session's CSRF token (403)."""
    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        async def run(request: Request) -> Response:
            admin: Admin = request.app.state.admin
            sessions = await run_in_threadpool(admin.sessions)
            if sessions is None:
                return Response("Not Found", 404)
            session = sessions.read(request.cookies.get(COOKIE))
            request.state.sessions, request.state.new_cookie = sessions, None
            if session is None:  # a visitor's first page: a nonce for its forms
                session, request.state.new_cookie = sessions.make(admin=False)
            request.state.session = session
            if login and not session.admin:
                return RedirectResponse(PREFIX + "login", 303, headers=NO_STORE)
            if request.method == "POST":
                length = request.headers.get("content-length", "")
                if not length.isdigit() or int(length) > MAX_FORM:  # a stranger's POST too
                    return Response("Request Entity Too Large", 413, headers=NO_STORE)
                form = await request.form(max_files=0, max_fields=200)
                request.state.form = form
                if not sessions.csrf_ok(session if not request.state.new_cookie else None,
                                        str(form.get("csrf", ""))):
                    return HTMLResponse(admin._("This form has expired: reload the page and "
                                                "try again."), 403, headers=NO_STORE)
            return await handler(request)
        return run
    return wrap(handler) if handler else wrap  # type: ignore[return-value]
