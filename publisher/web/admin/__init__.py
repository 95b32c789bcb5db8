"""The dashboard at /admin/: subscribers, issues and their outcomes, the next issue, behind a
login. Off (not mounted) unless an admin password is set (PUBLISHER_ADMIN_PASSWORD, or
`publisher admin set-password`); see auth.py for the session and CSRF rules."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from publisher.audience.tokens import secret_key
from publisher.site.theme import BUILTIN_TEMPLATES
from publisher.web.admin import actions, sending, views
from publisher.web.admin.auth import ENV, PASSWORD_SETTING, hash_password
from publisher.web.admin.context import Admin


def create_admin(config, store, notices,
                 env: dict[str, str] | None = None) -> Starlette | None:
    """The dashboard's app, to mount at /admin; None when no password is set. Sessions are
    signed with the site's secret key (the one of unsubscribe links)."""
    env = os.environ if env is None else env
    env_hash = hash_password(env[ENV]) if env.get(ENV) else None  # once per start
    if env_hash is None and store.get_setting(PASSWORD_SETTING) is None:
        return None
    admin = Admin(config, store, notices, secret_key(config.path("var")), env_hash)
    routes = [
        Route("/", views.overview, methods=["GET"]),
        Route("/login", actions.login_form, methods=["GET"]),
        Route("/login", actions.login, methods=["POST"]),
        Route("/logout", actions.logout, methods=["POST"]),
        Route("/subscribers", views.subscribers, methods=["GET"]),
        Route("/subscribers/{id}", views.subscriber, methods=["GET"]),
        Route("/subscribers/{id}/export", views.export, methods=["GET"]),
        Route("/subscribers/{id}/unsubscribe", actions.unsubscribe, methods=["POST"]),
        Route("/subscribers/{id}/confirmation", actions.resend_confirmation, methods=["POST"]),
        Route("/subscribers/{id}/forget", actions.forget, methods=["POST"]),
        Route("/issues", views.issues, methods=["GET"]),
        Route("/issues/next", views.preview, methods=["GET"]),
        Route("/issues/test", actions.test_send, methods=["POST"]),
        Route("/issues/{number}", views.issue, methods=["GET"]),
        Route("/send", sending.confirm, methods=["GET"]),
        Route("/send", sending.start, methods=["POST"]),
        Route("/send/progress", sending.progress, methods=["GET"]),
        Route("/send/events", sending.events, methods=["GET"]),
        Route("/send/stop", sending.stop, methods=["POST"]),
        Mount("/static", StaticFiles(directory=BUILTIN_TEMPLATES / "admin" / "static")),
    ]
    app = Starlette(routes=routes)
    app.state.admin = admin
    return app


def admin_routes(config, store, notices) -> list:
    """What create_app mounts: /admin/ and a redirect from /admin; nothing when off."""
    app = create_admin(config, store, notices)
    if app is None:
        return []
    return [Route("/admin", lambda _: RedirectResponse("/admin/", 308)), Mount("/admin", app)]

