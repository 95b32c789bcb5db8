"""Signed tokens for the links in emails: confirm (expiring), unsubscribe and preferences.

The secret comes from PUBLISHER_SECRET_KEY, else from `var/secret.key`, generated on first use
with mode 0600. A token carries the address and its purpose; it cannot be forged or reused for
another purpose (each purpose is its own salt).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import time
from pathlib import Path

from publisher.errors import PublisherError

PURPOSES = ("confirm", "unsubscribe", "preferences")


class TokenError(PublisherError):
    """A forged, damaged or expired token."""

    def __init__(self, message: str, *, expired: bool = False):
        self.expired = expired
        super().__init__(message)


MIN_SECRET = 32  # characters of a secret key


def secret_key(var: Path, env: dict[str, str] | None = None) -> str:
    """PUBLISHER_SECRET_KEY, else `var/secret.key`, made on first use: written whole to a
    temporary file, then linked into place, so another process never reads it half-written.
    A key file shorter than MIN_SECRET characters (empty, truncated) is refused."""
    env = os.environ if env is None else env
    if env.get("PUBLISHER_SECRET_KEY"):
        key = env["PUBLISHER_SECRET_KEY"]
        if len(key) < MIN_SECRET:
            raise TokenError(f"PUBLISHER_SECRET_KEY is {len(key)} characters, at least "
                             f"{MIN_SECRET} are needed (e.g. python -c 'import secrets; "
                             "print(secrets.token_urlsafe(48))')")
        return key
    path = var / "secret.key"
    try:
        return _checked(path, path.read_text().strip())
    except FileNotFoundError:
        pass
    var.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd, tmp = tempfile.mkstemp(prefix=".secret.", dir=var)  # mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(key + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)  # atomic, and never replaces a key another process made
        except FileExistsError:
            return _checked(path, path.read_text().strip())
    finally:
        os.unlink(tmp)
    return key


def _checked(path: Path, key: str) -> str:
    if len(key) < MIN_SECRET:
        raise TokenError(f"{path}: the secret key is {len(key)} characters, at least {MIN_SECRET} "
                         "are needed: delete the file to have one made, or set PUBLISHER_SECRET_KEY")
    return key


class Tokens:
    """HMAC-SHA256 tokens: urlsafe-base64(payload) "." urlsafe-base64(mac[:18]).

    The payload is the address, and for expiring tokens "|" and the Unix time they were made.
    Built by hand rather than with itsdangerous: a newsletter makes two per message, and this
    costs a few microseconds where itsdangerous's (with its zlib attempt) cost ~80.
    """

    def __init__(self, secret: str):
        self.keys = {p: hmac.new(secret.encode(), p.encode(), hashlib.sha256).digest()
                     for p in PURPOSES}
        # keyed once: a copy per token skips hashing the key again (two tokens a message)
        self.macs = {p: hmac.new(key, digestmod=hashlib.sha256) for p, key in self.keys.items()}
        self.suppress_key = hmac.new(secret.encode(), b"suppress", hashlib.sha256).digest()

    def digest(self, email: str) -> str:
        """What the suppression list keeps of a forgotten (normalised) address: a keyed hash,
        so the list cannot be read back into addresses by hashing a directory of them."""
        return hmac.new(self.suppress_key, email.encode(), hashlib.sha256).hexdigest()

    def _mac(self, purpose: str, payload: bytes) -> bytes:
        mac = self.macs[purpose].copy()
        mac.update(payload)
        return mac.digest()[:18]

    def make(self, purpose: str, email: str, *, expires: bool = False,
             data: dict | None = None) -> str:
        """A token for `email`; confirm links expire, unsubscribe links work for good. `data`
        (JSON) rides along signed: a web request's name and categories, applied on confirm."""
        payload = email.encode()
        if data is not None:
            payload += b"\n" + json.dumps(data, separators=(",", ":")).encode()
        if expires:
            payload += b"|%d" % int(time.time())
        return f"{_b64(payload)}.{_b64(self._mac(purpose, payload))}"

    def read(self, purpose: str, token: str, max_age: int | None = None) -> str:
        """The address in a token, or TokenError. `max_age` (seconds) for expiring tokens."""
        return self.read_data(purpose, token, max_age)[0]

    def read_data(self, purpose: str, token: str,
                  max_age: int | None = None) -> tuple[str, dict | None]:
        """(the address, the data made with it or None), or TokenError."""
        email, data, _ = self.read_issued(purpose, token, max_age)
        return email, data

    def read_issued(self, purpose: str, token: str,
                    max_age: int | None = None) -> tuple[str, dict | None, int | None]:
        """(the address, its data or None, when it was made: Unix seconds, for expiring
        tokens), or TokenError. A confirmation made before the person last left is stale."""
        made = None
        try:
            head, _, tail = token.partition(".")
            payload, mac = _unb64(head), _unb64(tail)
        except (ValueError, binascii.Error):
            raise TokenError("this link is not valid") from None
        if purpose not in self.keys or not hmac.compare_digest(mac, self._mac(purpose, payload)):
            raise TokenError("this link is not valid")
        text = payload.decode("utf-8", "replace")
        if max_age is not None:
            text, _, stamp = text.rpartition("|")
            if not stamp.isdigit():
                raise TokenError("this link is not valid")
            made = int(stamp)
            if time.time() - made > max_age:
                raise TokenError("this link has expired", expired=True)
        email, newline, extra = text.partition("\n")
        if not newline:
            return email, None, made
        try:
            data = json.loads(extra)
        except ValueError:
            raise TokenError("this link is not valid") from None
        return email, data if isinstance(data, dict) else None, made


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    """urlsafe_b64encode without its padding, straight from binascii (two a message)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_source(var: Path, env: dict[str, str] | None = None) -> str:
    """Where `secret_key` takes the key from, for messages (never the key itself)."""
    env = os.environ if env is None else env
    return ("environment variable PUBLISHER_SECRET_KEY" if env.get("PUBLISHER_SECRET_KEY")
            else str(var / "secret.key"))


def fingerprint(key: str) -> str:
    """What the database keeps of the key: an HMAC of a constant, which cannot give it back."""
    return hmac.new(key.encode(), b"publisher secret key fingerprint", hashlib.sha256).hexdigest()[:32]


def tokens_for(config, store=None, env: dict[str, str] | None = None) -> Tokens:
    """The tokens of the one secret key this database knows. The first key used with a
    database is remembered (its fingerprint and where it came from); a command run with
    another key (say without the web server's PUBLISHER_SECRET_KEY) is refused in one line
    instead of signing links nobody can verify. No key is made when the database knows one."""
    var = config.path("var")
    own = store is None
    if own:
        from publisher.store import open_store

        store = open_store(config)
    try:
        source = key_source(var, env)
        known = store.get_setting("secret_key")
        if known and source != "environment variable PUBLISHER_SECRET_KEY" \
                and not (var / "secret.key").exists():
            raise TokenError(f"this database was first used with the secret key from "
                             f"{known.partition('|')[2]}, and there is none here: set "
                             "PUBLISHER_SECRET_KEY to that key (links already sent use it)")
        key = secret_key(var, env)
        stored = store.setting_once("secret_key", f"{fingerprint(key)}|{source}")
        first_fp, _, first_source = stored.partition("|")
        if not hmac.compare_digest(first_fp, fingerprint(key)):
            raise TokenError(f"the secret key from {source} is not the one this database was "
                             f"first used with (from {first_source}): use that one everywhere, "
                             "or links already sent stop working")
    finally:
        if own:
            store.close()
    return Tokens(key)
