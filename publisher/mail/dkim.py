"""DKIM signatures (dkimpy) for every message the product sends."""

from __future__ import annotations

import re
from pathlib import Path

from publisher.errors import ConfigError
from publisher.mail.message import sender_address


class DkimSigner:
    """DKIM-signs whole messages (dkimpy); the signature covers both List-Unsubscribe headers."""

    HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"list-id",
               b"list-unsubscribe", b"list-unsubscribe-post", b"mime-version", b"content-type"]

    def __init__(self, key: bytes, selector: str, domain: str):
        self.key, self.selector, self.domain = key, selector.encode(), domain.encode()

    @classmethod
    def from_config(cls, config) -> "DkimSigner | None":
        mail = config.mail
        if not mail.dkim_key:
            return None
        path = Path(mail.dkim_key)
        path = path if path.is_absolute() else config.root / path
        try:
            key = path.read_bytes()
        except OSError as exc:
            raise ConfigError([f"mail.dkim_key: cannot read {path}: {exc.strerror}"]) from None
        domain = mail.dkim_domain or sender_address(config).rpartition("@")[2]
        return cls(key, mail.dkim_selector, domain)

    def sign(self, data: bytes) -> bytes:
        import dkim

        present = [h for h in self.HEADERS if re.search(rb"(?im)^" + h + rb":", data[:16384])]
        signature = dkim.sign(data, self.selector, self.domain, self.key, include_headers=present)
        return signature + data
