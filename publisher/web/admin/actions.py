"""The dashboard's forms: log in and out, and the actions on a subscriber or an issue. Each
calls the use case the command line calls; every POST has passed the CSRF check (guarded)."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from publisher.audience import subscribers as uc
from publisher.web.admin.auth import COOKIE, check_password
from publisher.web.admin.context import NO_STORE, PREFIX, Admin, guarded


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def _back(path: str, **params: str) -> RedirectResponse:
    query = f"?{urlencode(params)}" if params else ""
    return RedirectResponse(PREFIX + path + query, 303, headers=NO_STORE)


@guarded(login=False)
async def login_form(request: Request) -> Response:
    admin: Admin = request.app.state.admin
    if request.state.session.admin:
        return _back("")
    return admin.render(request, "login")


@guarded(login=False)
async def login(request: Request) -> Response:
    admin: Admin = request.app.state.admin
    client = _client(request)
    if not admin.attempts.allowed(client):
        return admin.render(request, "login", 429,
                            error=admin._("Too many attempts: wait a few minutes, then try again."))
    password = str(request.state.form.get("password", ""))[:1024]
    stored = admin.password_hash() or ""
    if not await run_in_threadpool(check_password, password, stored):
        admin.attempts.failed(client)
        return admin.render(request, "login", 401, error=admin._("Wrong password."))
    _, cookie = request.state.sessions.make(admin=True)  # a new nonce: no fixation
    response = _back("")
    admin.set_cookie(response, cookie)
    return response


@guarded
async def logout(request: Request) -> Response:
    """Ends every session, not only this browser's: a cookie copied from it is dead too."""
    admin: Admin = request.app.state.admin
    await run_in_threadpool(admin.end_sessions)
    response = RedirectResponse(PREFIX + "login", 303, headers=NO_STORE)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


async def _subscriber(request: Request):
    admin: Admin = request.app.state.admin
    sid = request.path_params["id"]
    sub = await run_in_threadpool(admin.store.subscriber_by_id, int(sid) if sid.isdigit() else 0)
    return admin, sub


@guarded
async def unsubscribe(request: Request) -> Response:
    admin, sub = await _subscriber(request)
    if sub is None:
        return admin.render(request, "missing", 404)
    await run_in_threadpool(uc.unsubscribe, admin.store, sub.email, admin.now())
    return _back(f"subscribers/{sub.id}", done="unsubscribed")


@guarded
async def forget(request: Request) -> Response:
    """Erase the person (`subscribers remove --forget`): their row, deliveries and bounces go,
    a keyed hash of the address stays so no import brings them back. Irreversible: the form
    asks for a ticked box, and without it nothing happens."""
    from publisher.audience.consent import Suppressions
    from publisher.audience.consent import forget as forget_person

    admin, sub = await _subscriber(request)
    if sub is None:
        return admin.render(request, "missing", 404)
    if request.state.form.get("sure") != "yes":
        return _back(f"subscribers/{sub.id}", done="not-sure")
    guard = Suppressions(admin.store, admin.notices.links.tokens.digest)
    await run_in_threadpool(forget_person, admin.store, guard, sub.email, admin.now())
    return _back("subscribers", done="forgotten")


@guarded
async def resend_confirmation(request: Request) -> Response:
    """Only to someone pending: the email asks them to confirm, nothing is decided for them."""
    admin, sub = await _subscriber(request)
    if sub is None:
        return admin.render(request, "missing", 404)
    if sub.status != "pending":
        return _back(f"subscribers/{sub.id}", done="not-pending")
    try:
        await run_in_threadpool(admin.notices.confirmation, sub)
    except Exception:  # noqa: BLE001 - the page says it failed; the log has why
        return _back(f"subscribers/{sub.id}", done="mail-failed")
    return _back(f"subscribers/{sub.id}", done="confirmation-sent")


@guarded
async def test_send(request: Request) -> Response:
    """A copy of the next issue (or the last) to one address; the ledger is untouched."""
    from publisher.newsletter.campaign import send_test
    from publisher.web.admin.views import _articles

    admin: Admin = request.app.state.admin
    try:
        address = uc.normalise(str(request.state.form.get("email", ""))[:320])
    except uc.SubscriberError:
        return _back("issues", error="bad-address")

    def send() -> str:
        return send_test(admin.config, admin.store, admin.notices.transport,
                         admin.notices.links.tokens, _articles(admin), address, admin.now())

    try:
        await run_in_threadpool(send)
    except Exception:  # noqa: BLE001 - one line on the page, the reason in the log
        import logging

        logging.getLogger("publisher.web.admin").exception("test send to %s failed", address)
        return _back("issues", error="send-failed")
    return _back("issues", done="test-sent")
