"""A message and its wire form: `compose` for the simple messages (confirmation, welcome,
test copies), the headers every message to a subscriber carries, and `Prepared`, a message
kept as pieces dot-stuffed once for SMTP DATA."""

from __future__ import annotations

from datetime import datetime, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid
from urllib.parse import urlsplit


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


def one_line(value: str) -> str:
    """A header value that cannot inject another header: line breaks become spaces."""
    return " ".join(str(value).replace("\r", " ").replace("\n", " ").split())


def sender_address(config) -> str:
    return config.mail.from_address or config.site.email


def from_header(config) -> str:
    return str(Address(one_line(config.mail.from_name or config.site.title),
                       addr_spec=sender_address(config)))


def unsubscribe_mailto(config) -> str | None:
    """The address of List-Unsubscribe's mailto:, only when a mailbox is read for it
    (`mail.bounce_source`: `publisher bounces process` unsubscribes whoever writes to it).
    Advertising one that nobody reads would be a promise nobody keeps."""
    if not config.mail.bounce_source:
        return None
    return config.mail.unsubscribe_mailto or config.site.email or sender_address(config)


def list_headers(config, unsubscribe_url: str) -> dict[str, str]:
    """The List-* headers of every message to a subscriber (newsletter and notices alike):
    List-Id, List-Unsubscribe (<the person's URL>, <mailto:ADDRESS?subject=unsubscribe>) and,
    when there is a URL, List-Unsubscribe-Post (RFC 8058). Providers honour the one-click only
    for an https URL; with an http one the header is sent anyway and is harmless."""
    host = urlsplit(config.site.url).hostname or "localhost"
    list_id = one_line(config.mail.list_id or "").strip("<> ") or f"newsletter.{host}"
    headers = {"List-Id": f"{one_line(config.site.title)} <{list_id}>"}
    mailto = unsubscribe_mailto(config)
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
    literal = b""  # ASCII values as they are: a long List-Unsubscribe must not be RFC 2047-encoded
    for key, value in (headers or {}).items():
        value = one_line(value)
        if value.isascii() and len(key) + len(value) < 990:
            literal += f"{key}: {value}\r\n".encode()
        else:
            msg[key] = value
    msg.set_content(text, charset="utf-8", cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return literal + msg.as_bytes()
