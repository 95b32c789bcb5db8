"""Signed tokens for the links in emails: confirm (expiring), unsubscribe and preferences.

The secret comes from PUBLISHER_SECRET_KEY, else from `var/secret.key`, generated on first use
with mode 0600. A token carries the address and its purpose; it cannot be forged or reused for
another purpose (each purpose is its own salt).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from publisher.errors import PublisherError

PURPOSES = ("confirm", "unsubscribe", "preferences")


class TokenError(PublisherError):
    """A forged, damaged or expired token."""

    def __init__(self, message: str, *, expired: bool = False):
        self.expired = expired
        super().__init__(message)


def secret_key(var: Path, env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if env.get("PUBLISHER_SECRET_KEY"):
        return env["PUBLISHER_SECRET_KEY"]
    path = var / "secret.key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    var.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key


class Tokens:
    def __init__(self, secret: str):
        self._timed = {p: URLSafeTimedSerializer(secret, salt=p) for p in PURPOSES}
        self._plain = {p: URLSafeSerializer(secret, salt=p) for p in PURPOSES}

    def make(self, purpose: str, email: str, *, expires: bool = False) -> str:
        """A token for `email`; confirm links expire, unsubscribe links work for good."""
        table = self._timed if expires else self._plain
        return str(table[purpose].dumps(email))

    def read(self, purpose: str, token: str, max_age: int | None = None) -> str:
        """The address in a token, or TokenError. `max_age` (seconds) for expiring tokens."""
        try:
            if max_age is not None:
                value = self._timed[purpose].loads(token, max_age=max_age)
            else:
                value = self._plain[purpose].loads(token)
        except SignatureExpired:
            raise TokenError("this link has expired", expired=True) from None
        except BadSignature:
            raise TokenError("this link is not valid") from None
        if not isinstance(value, str):
            raise TokenError("this link is not valid")
        return value


def tokens_for(config) -> Tokens:
    return Tokens(secret_key(config.path("var")))
