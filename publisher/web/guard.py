"""The ASGI layer in front of every route: what a stranger's request may be, and the headers
every answer carries.

- a path with a part starting with "." (dotfiles, the build's temporary files) is 404;
- a body over `web.max_body` is refused 413 before it is read (Content-Length, then the bytes
  counted as they stream), one slower than `web.body_timeout` 408, before a form is parsed;
- security headers (CSP without inline script, nosniff, Referrer-Policy, frame-ancestors
  'none' on the subscription pages) and Cache-Control for static assets;
- a redirect's Location is rebuilt from site.url, never from the Host header.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException

FORM_PATHS = ("/subscribe", "/confirm", "/unsubscribe", "/preferences")


def _Refused(status: int, text: str) -> HTTPException:
    """Raised from the body's receive(): Starlette answers it like any HTTP error."""
    return HTTPException(status, text)


async def _answer(send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"), *_BASE]})
    await send({"type": "http.response.body", "body": body})


_BASE = [(b"x-content-type-options", b"nosniff")]


def policies(site_url: str) -> tuple[bytes, bytes]:
    """(CSP of the subscription pages, CSP of the built site). The site's own origin is named
    too: pages link the stylesheet by site.url, which a proxy may serve under another name."""
    parts = urlsplit(site_url)
    me = f"'self' {parts.scheme}://{parts.netloc}"
    forms = (f"default-src 'none'; style-src {me} 'unsafe-inline'; img-src {me} data:; "
             f"form-action {me}; frame-ancestors 'none'; base-uri 'none'")
    site = (f"default-src {me}; img-src * data:; media-src *; style-src {me} 'unsafe-inline'; "
            f"script-src {me}; object-src 'none'; base-uri 'self'; form-action {me}; "
            "frame-ancestors 'self'")
    return forms.encode(), site.encode()


class Guard:
    def __init__(self, app, *, site_url: str, max_body: int, body_timeout: float):
        self.app, self.max_body, self.body_timeout = app, max_body, body_timeout
        self.base = site_url if site_url.endswith("/") else site_url + "/"
        self.form_csp, self.site_csp = policies(self.base)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "/")
        if any(part.startswith(".") for part in path.split("/")):
            return await _answer(send, 404, "Not Found")
        length = dict(scope.get("headers", ())).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return await _answer(send, 413 if length.isdigit() else 400, "Request body too large")
        started = refused = False
        deadline = time.monotonic() + self.body_timeout
        seen = 0

        async def guarded_receive():
            nonlocal seen, refused
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                refused = True
                raise _Refused(408, "Request body too slow") from None
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                refused = True
                raise _Refused(413, "Request body too large")
            return message

        form = path.rstrip("/") in FORM_PATHS

        async def guarded_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = dict(message, headers=self._headers(message, path, form))
                if refused:  # the rest of the body is not read: nor is the connection kept
                    message["headers"].append((b"connection", b"close"))
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except HTTPException as refused:  # raised outside Starlette's own handlers
            if started:
                raise
            await _answer(send, refused.status_code, refused.detail)

    def _headers(self, message, path: str, form: bool) -> list:
        headers = [(k, v) for k, v in message.get("headers", ())]
        names = {k.lower() for k, _ in headers}
        extra = list(_BASE)
        extra.append((b"content-security-policy", self.form_csp if form else self.site_csp))
        extra.append((b"referrer-policy", b"no-referrer" if form else b"strict-origin-when-cross-origin"))
        if b"cache-control" not in names:
            static = path.startswith("/static/")
            extra.append((b"cache-control", b"public, max-age=86400" if static else b"no-cache"))
        if 300 <= message["status"] < 400:
            headers = [(k, self._location(v) if k.lower() == b"location" else v) for k, v in headers]
        return headers + [(k, v) for k, v in extra if k not in names]

    def _location(self, value: bytes) -> bytes:
        """Only the path and query of a redirect are ours to keep; the rest is site.url's."""
        target = urlsplit(value.decode("latin-1"))
        rebuilt = self.base + target.path.lstrip("/")
        return (rebuilt + (f"?{target.query}" if target.query else "")).encode("latin-1")
