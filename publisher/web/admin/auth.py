"""Who may use the dashboard: the admin password (scrypt), signed session cookies, CSRF
tokens and a limit on login attempts.

The password is PUBLISHER_ADMIN_PASSWORD, else the scrypt hash `publisher admin set-password`
stored in the database; with neither, the dashboard is off. hashlib.scrypt is in the standard
library, so no dependency is added for it. The session is a cookie signed with the site's
secret key (the one unsubscribe links use), the password's hash and an epoch a logout renews,
so a new password or a logout ends every session, a copied cookie's too; it carries a random nonce from which the CSRF token of every form is
derived.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass

PASSWORD_SETTING = "admin_password"
EPOCH_SETTING = "admin_session_epoch"  # changed by a logout: every session made before ends
ENV = "PUBLISHER_ADMIN_PASSWORD"
COOKIE = "publisher_admin"
SESSION_SECONDS = 12 * 3600
MIN_PASSWORD = 10  # characters of a password set from the command line

_N, _R, _P = 2**14, 8, 1  # scrypt cost: ~16 MB and ~50 ms a check


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """"scrypt$n$r$p$salt$hash", salt and hash in base64."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join(["scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def check_password(password: str, stored: str) -> bool:
    """Whether `password` matches a hash from hash_password; constant time in the compare."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        found = hashlib.scrypt(password.encode()[:1024], salt=_unb64(salt), n=int(n), r=int(r),
                               p=int(p), dklen=len(_unb64(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found, _unb64(digest))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    nonce: str  # random, per visitor: the CSRF token is derived from it
    admin: bool  # logged in
    expires: float


class Sessions:
    """Signed cookies: base64(JSON) "." HMAC-SHA256 over it with a key from the site's secret
    and the password's hash."""

    def __init__(self, secret: str, password_hash: str):
        self.key = hmac.new(secret.encode(), b"admin-session\0" + password_hash.encode(),
                            hashlib.sha256).digest()

    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self.key, data, hashlib.sha256).digest()

    def make(self, admin: bool) -> tuple[Session, str]:
        """A new session (a new nonce: logging in never keeps the anonymous one) and its
        cookie value."""
        session = Session(secrets.token_urlsafe(18), admin, time.time() + SESSION_SECONDS)
        data = json.dumps([session.nonce, session.admin, int(session.expires)]).encode()
        return session, f"{_b64(data)}.{_b64(self._mac(data))}"

    def read(self, cookie: str | None) -> Session | None:
        """The session in a cookie, or None when missing, forged or expired."""
        if not cookie or len(cookie) > 400:
            return None
        head, _, tail = cookie.partition(".")
        try:
            data, mac = _unb64(head), _unb64(tail)
            if not hmac.compare_digest(mac, self._mac(data)):
                return None
            nonce, admin, expires = json.loads(data)
        except (ValueError, TypeError):
            return None
        if expires < time.time():
            return None
        return Session(str(nonce), bool(admin), float(expires))

    def csrf(self, session: Session) -> str:
        return _b64(hmac.new(self.key, b"csrf\0" + session.nonce.encode(),
                             hashlib.sha256).digest()[:18])

    def csrf_ok(self, session: Session | None, token: str) -> bool:
        return session is not None and hmac.compare_digest(self.csrf(session).encode(),
                                                           token.encode())


class Attempts:
    """At most `limit` failed logins per client in `window` seconds, and `limit * 5` from
    everyone together (a password guessed from many addresses meets the second)."""

    def __init__(self, limit: int = 5, window: float = 300):
        self.limit, self.window = limit, window
        self.failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self.failures[key]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def allowed(self, client: str) -> bool:
        now = time.monotonic()
        return (len(self._recent(client, now)) < self.limit
                and len(self._recent("*", now)) < self.limit * 5)

    def failed(self, client: str) -> None:
        now = time.monotonic()
        self.failures[client].append(now)
        self.failures["*"].append(now)
        if len(self.failures) > 10_000:  # forget idle clients: memory stays bounded
            for key in [k for k, v in self.failures.items() if not self._recent(k, now)][:5_000]:
                del self.failures[key]
