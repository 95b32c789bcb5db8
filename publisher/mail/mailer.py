"""Transports behind one small interface: `transport.connect()` gives a connection whose
`send(sender, recipient, data)` hands over one complete message (bytes) or raises DeliveryError.

- Outbox: each message becomes an .eml file under var/outbox/ (the default; no mail server).
- SMTP: host, port, none/STARTTLS/TLS, login; one connection is reused for many messages.

Also here: `compose` for the simple messages (confirmation, welcome, test copies) and DKIM.
"""

from __future__ import annotations

import hashlib
import os
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from publisher.errors import ConfigError, DeliveryError


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
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def send(self, sender: str, recipient: str, data: bytes | Prepared) -> None:
        data = bytes(data)
        head = data[: data.find(b"\r\n\r\n") + 2 if b"\r\n\r\n" in data else 8192]
        found = _MESSAGE_ID.search(head)
        key = found.group(1) if found else os.urandom(16)
        name = hashlib.sha1(key + b"\0" + recipient.encode()).hexdigest()[:20] + ".eml"
        tmp = self.folder / f".{name}.tmp"
        try:
            tmp.write_bytes(data)
            os.replace(tmp, self.folder / name)
        except OSError as exc:
            raise DeliveryError(f"outbox {self.folder}: {exc.strerror or exc}") from None

    def close(self) -> None:
        pass


# -- SMTP -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str = "none"  # none | starttls | tls
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_config(cls, mail) -> "SmtpSettings":
        """From `mail.smtp_url` when set (PUBLISHER_SMTP_URL), else host/port/security keys."""
        if not mail.smtp_url:
            return cls(mail.host, mail.port, mail.security, mail.username, mail.password,
                       mail.timeout)
        url = urlsplit(mail.smtp_url)
        query = {k: v[-1].lower() for k, v in parse_qs(url.query).items()}
        tls = url.scheme == "smtps"
        security = "tls" if tls else ("starttls" if query.get("starttls") in ("true", "1", "yes")
                                      else "none")
        try:
            port = url.port or (465 if tls else 587 if security == "starttls" else 25)
        except ValueError:
            raise ConfigError([f"mail.smtp_url: bad port in {mail.smtp_url!r}"]) from None
        if not url.hostname:
            raise ConfigError([f"mail.smtp_url: no host in {mail.smtp_url!r}"])
        password = mail.password or (unquote(url.password) if url.password else None)
        user = unquote(url.username) if url.username else mail.username
        return cls(url.hostname, port, security, user, password, mail.timeout)


def smtp_error(exc: BaseException, where: str) -> DeliveryError:
    """Any failure of smtplib or the socket as one DeliveryError: 5xx permanent, rest temporary."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return _coded(code, text, where)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _coded(exc.smtp_code, exc.smtp_error, where)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryError(f"SMTP {where}: connection lost ({exc or 'disconnected'})")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return DeliveryError(f"SMTP {where}: timed out")
    if isinstance(exc, OSError):
        return DeliveryError(f"SMTP {where}: {exc.strerror or exc}")
    return DeliveryError(f"SMTP {where}: {exc}")


def staged_error(exc: BaseException, where: str, stage: str) -> DeliveryError:
    """smtp_error, marked with the command that failed (`stage`) and whether the connection
    is broken (no reply code): what both senders, lock-step and pipelined, report."""
    error = smtp_error(exc, where)
    error.stage, error.where = stage, where  # type: ignore[attr-defined]
    error.broken = error.code is None  # type: ignore[attr-defined]
    return error


def _coded(code: int, text: bytes | str, where: str) -> DeliveryError:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(str(text).split())
    return DeliveryError(f"{code} {text}", permanent=500 <= code < 600, code=code)


def stuff_dots(piece: bytes) -> bytes:
    """A piece that starts a line, as DATA carries it (RFC 5321 4.5.2: a line that begins
    with a dot gets another). Pieces that each start a line can be stuffed one by one."""
    piece = piece.replace(b"\n.", b"\n..")
    return b"." + piece if piece.startswith(b".") else piece


def dot_stuffed(data: bytes) -> bytes:
    """The whole message as DATA carries it (see stuff_dots), ending with CRLF; the caller
    adds the final ".\r\n"."""
    stuffed = stuff_dots(data)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed


class Prepared:
    """A message as pieces (`bytes(prepared)` joins them) and the same pieces dot-stuffed for
    SMTP DATA, ending with the final ".\r\n": `personalise` makes both from pieces stuffed
    once per issue, so SMTP writes them with one sendmsg, with no 50 KB join, copy or scan
    for line-leading dots per message (those were most of a send's CPU). The Outbox, DKIM
    and everything else take `bytes(prepared)`."""

    __slots__ = ("pieces", "size", "smtp_pieces")

    def __init__(self, pieces: list[bytes], smtp_pieces: list[bytes]):
        self.pieces, self.smtp_pieces = pieces, smtp_pieces
        self.size = sum(map(len, pieces))

    def __bytes__(self) -> bytes:
        return b"".join(self.pieces)

    def __len__(self) -> int:
        return self.size


def send_pieces(sock: socket.socket, pieces: list[bytes]) -> None:
    """sendall for a list of buffers: one sendmsg (gather write) at a time, no join."""
    if isinstance(sock, ssl.SSLSocket):  # no sendmsg over TLS
        sock.sendall(b"".join(pieces))
        return
    views = [memoryview(p) for p in pieces if p]
    while views:
        sent = sock.sendmsg(views[:1024])  # IOV_MAX
        while sent:
            if sent >= len(views[0]):
                sent -= len(views.pop(0))
            else:
                views[0], sent = views[0][sent:], 0


class SmtpConnection:
    def __init__(self, settings: SmtpSettings):
        self.settings = s = settings
        try:
            if s.security == "tls":
                self.smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                self.smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.security == "starttls":
                self.smtp.starttls(context=ssl.create_default_context())
            if s.username:
                self.smtp.login(s.username, s.password or "")
        except (smtplib.SMTPException, OSError) as exc:
            error = smtp_error(exc, s.where)
            if isinstance(exc, smtplib.SMTPAuthenticationError):
                error = DeliveryError(f"SMTP {s.where}: login as {s.username!r} refused "
                                      f"({exc.smtp_code})", permanent=500 <= exc.smtp_code < 600,
                                      code=exc.smtp_code)
            error.connect = True  # type: ignore[attr-defined]
            error.stage = "connect"  # type: ignore[attr-defined]
            error.where = s.where  # type: ignore[attr-defined]
            raise error from None
        self.stage = ""

    def send(self, sender: str, recipient: str, data: bytes | Prepared) -> None:
        """Raises DeliveryError with `stage` set to the command that failed: "ehlo", "mail",
        "rcpt" or "data" (a 5xx to "rcpt" alone is about the recipient)."""
        self.stage = ""
        try:
            self._transaction(sender, recipient, data)
        except (smtplib.SMTPException, OSError) as exc:
            raise staged_error(exc, self.settings.where, self.stage) from None

    def _transaction(self, sender: str, recipient: str, data: bytes | Prepared) -> None:
        """MAIL, RCPT, DATA: smtplib's sendmail without its regex dot-stuffing, which alone
        cost more than everything else per 50 KB message (bytes.replace is ~20x faster).
        When the server offers PIPELINING (RFC 2920), the three commands go out in one write
        and their replies are read in order: two round trips a message instead of four."""
        s = self.smtp
        self.stage = "ehlo"
        s.ehlo_or_helo_if_needed()
        options = [f"SIZE={len(data)}"] if s.does_esmtp and s.has_extn("size") else []
        if not (sender + recipient).isascii():
            if not s.has_extn("smtputf8"):
                raise DeliveryError(f"{self.settings.where} does not accept non-ASCII addresses "
                                    f"(SMTPUTF8) like {recipient}", permanent=True)
            options.append("SMTPUTF8")
        if any(c in recipient for c in "<>\r\n"):
            raise DeliveryError(f"{recipient!r} is not a valid address", permanent=True)
        s.command_encoding = "utf-8" if "SMTPUTF8" in options else "ascii"
        # MAIL and RCPT written directly: smtplib's quoteaddr parses each address with
        # email.utils (~50 us a message); ours are normalised and checked already.
        tail = (" " + " ".join(options)) if options else ""
        if s.does_esmtp and s.has_extn("pipelining"):
            self._pipelined(f"MAIL FROM:<{sender}>{tail}\r\nRCPT TO:<{recipient}>\r\nDATA\r\n",
                            sender, recipient)
        else:
            self.stage = "mail"
            code, reply = s.docmd("mail", f"FROM:<{sender}>{tail}")
            if code != 250:
                self._rset()
                raise smtplib.SMTPSenderRefused(code, reply, sender)
            self.stage = "rcpt"
            code, reply = s.docmd("rcpt", f"TO:<{recipient}>")
            if code not in (250, 251):
                self._rset()
                raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
            self.stage = "data"
            code, reply = s.docmd("data")
            if code != 354:
                self._rset()
                raise smtplib.SMTPDataError(code, reply)
        if isinstance(data, Prepared):
            try:
                if s.sock is None:
                    raise OSError("not connected")
                send_pieces(s.sock, data.smtp_pieces)
            except OSError:  # as smtplib's send
                s.close()
                raise smtplib.SMTPServerDisconnected("Server not connected") from None
        else:
            s.send(dot_stuffed(data) + b".\r\n")
        code, reply = s.getreply()
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)

    def _pipelined(self, commands: str, sender: str, recipient: str) -> None:
        """MAIL, RCPT and DATA in one write, then their three replies in order. The first
        refusal is the one reported, at its own stage, as in lock-step; the server answers
        the commands after it with 503/554 (if it still says 354 to DATA, an empty message
        ends that DATA: with no recipient nothing can be delivered), then RSET."""
        s = self.smtp
        self.stage = "mail"
        s.send(commands)
        refused: tuple[str, int, bytes] | None = None
        code = 0
        for stage, good in (("mail", (250,)), ("rcpt", (250, 251)), ("data", (354,))):
            self.stage = stage
            try:
                code, reply = s.getreply()
            except smtplib.SMTPServerDisconnected:
                if refused is None:
                    raise
                code = 0
                break  # it hung up after refusing (e.g. 421): that refusal is the news
            if refused is None and code not in good:
                refused = (stage, code, reply)
        if refused is None:
            return
        if code == 354:
            try:
                s.send(b".\r\n")
                s.getreply()
            except smtplib.SMTPServerDisconnected:
                pass
        self._rset()
        self.stage, code, reply = refused
        if self.stage == "mail":
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        if self.stage == "rcpt":
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        raise smtplib.SMTPDataError(code, reply)

    def _rset(self) -> None:
        try:
            self.smtp.rset()
        except smtplib.SMTPServerDisconnected:
            pass

    def close(self) -> None:
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()


class SmtpTransport:
    name = "smtp"

    def __init__(self, settings: SmtpSettings):
        self.settings = settings

    def connect(self) -> SmtpConnection:
        return SmtpConnection(self.settings)


def make_transport(config) -> Transport:
    mail = config.mail
    kind = mail.transport or ("smtp" if mail.smtp_url else "outbox")
    if kind == "smtp":
        return SmtpTransport(SmtpSettings.from_config(mail))
    return Outbox(config.path("var") / "outbox")


# -- composing --------------------------------------------------------------------------------


def one_line(value: str) -> str:
    """A header value that cannot inject another header: line breaks become spaces."""
    return " ".join(str(value).replace("\r", " ").replace("\n", " ").split())


def sender_address(config) -> str:
    return config.mail.from_address or config.site.email


def from_header(config) -> str:
    return str(Address(one_line(config.mail.from_name or config.site.title),
                       addr_spec=sender_address(config)))


def list_headers(config, unsubscribe_url: str) -> dict[str, str]:
    """The List-* headers of every message to a subscriber (newsletter and notices alike):
    List-Id, List-Unsubscribe (<the person's URL>, <mailto:ADDRESS?subject=unsubscribe>) and,
    when there is a URL, List-Unsubscribe-Post (RFC 8058). Providers honour the one-click only
    for an https URL; with an http one the header is sent anyway and is harmless."""
    host = urlsplit(config.site.url).hostname or "localhost"
    list_id = one_line(config.mail.list_id or "").strip("<> ") or f"newsletter.{host}"
    headers = {"List-Id": f"{one_line(config.site.title)} <{list_id}>"}
    mailto = config.mail.unsubscribe_mailto or config.site.email or sender_address(config)
    targets = [f"<{unsubscribe_url}>"] if unsubscribe_url else []
    if mailto:
        targets.append(f"<mailto:{mailto}?subject=unsubscribe>")
    if targets:
        headers["List-Unsubscribe"] = ", ".join(targets)
    if unsubscribe_url:
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


def compose(
    config,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    name: str = "",
    headers: dict[str, str] | None = None,
    now: datetime | None = None,
) -> bytes:
    """One complete UTF-8 message, multipart/alternative when there is HTML, CRLF line ends."""
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = from_header(config)
    msg["To"] = str(Address(one_line(name), addr_spec=to)) if name else to
    msg["Subject"] = one_line(subject)
    msg["Date"] = format_datetime(now or datetime.now(timezone.utc))
    domain = sender_address(config).rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    for key, value in (headers or {}).items():
        msg[key] = one_line(value)
    msg.set_content(text, charset="utf-8", cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg.as_bytes()


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
