"""Transports behind one small interface: `transport.connect()` gives a connection whose
`send(sender, recipient, data)` hands over one complete message (bytes) or raises DeliveryError.

- Outbox: each message becomes an .eml file under var/outbox/ (the default; no mail server).
- SMTP (`publisher.mail.smtp`): host, port, none/STARTTLS/TLS, login; one connection is reused
  for many messages.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from publisher.errors import DeliveryError
from publisher.store.engine import private_folder

if TYPE_CHECKING:
    from publisher.mail.message import Prepared


class Connection(Protocol):
    def send(self, sender: str, recipient: str, data: bytes | Prepared) -> None: ...
    def close(self) -> None: ...


class Transport(Protocol):
    name: str

    def connect(self) -> Connection: ...


# -- outbox -----------------------------------------------------------------------------------

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^>\r\n]+)>", re.IGNORECASE | re.MULTILINE)


class Outbox:
    """Writes messages as .eml files; a message sent twice (same Message-ID) overwrites itself."""

    name = "outbox"

    def __init__(self, folder: Path):
        self.folder = folder

    def connect(self) -> "Outbox":
        private_folder(self.folder)  # mails carry tokens
        return self

    def send(self, sender: str, recipient: str, data: bytes | Prepared) -> None:
        data = bytes(data)
        head = data[: data.find(b"\r\n\r\n") + 2 if b"\r\n\r\n" in data else 8192]
        found = _MESSAGE_ID.search(head)
        key = found.group(1) if found else os.urandom(16)
        name = hashlib.sha1(key + b"\0" + recipient.encode()).hexdigest()[:20] + ".eml"
        tmp = self.folder / f".{name}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(fd, "wb") as out:
                os.fchmod(fd, 0o600)
                out.write(data)
            os.replace(tmp, self.folder / name)
        except OSError as exc:
            raise DeliveryError(f"outbox {self.folder}: {exc.strerror or exc}") from None

    def close(self) -> None:
        pass



def make_transport(config) -> Transport:
    mail = config.mail
    kind = mail.transport or ("smtp" if mail.smtp_url else "outbox")
    if kind == "smtp":
        from publisher.mail.smtp import SmtpSettings, SmtpTransport

        return SmtpTransport(SmtpSettings.from_config(mail))
    return Outbox(config.path("var") / "outbox")
