"""Personalise a rendered issue for each subscriber fast: serialise the MIME message once,
splice each recipient's few bytes in.

    from publisher.newsletter.issue import plan_issue, render_issue
    from publisher.newsletter.personalise import Recipient, compile_issue, Audiences

    compiled = compile_issue(render_issue(plan, config), config)   # once per issue/audience
    data = compiled.message_bytes(Recipient(
        email="zoe@example.org", name="Zoë",
        unsubscribe_url=f"{config.site.url}unsubscribe?token=...",
        preferences_url=f"{config.site.url}preferences?token=...",
        message_id="<issue-7.42@example.org>",   # optional; default derived from issue + email
    ))                                            # complete RFC 5322 message, CRLF, ready for SMTP
    for recipient, data in compiled.messages(recipients): ...   # streams, memory stays flat

    audiences = Audiences(plan, config)        # subscribers who follow only some categories
    compiled = audiences.compiled(subscriber.categories)   # None: nothing for them in this issue

The message is multipart/alternative (text/plain, text/html), both UTF-8 in quoted-printable.
Each part is QP-encoded once in chunks cut at the recipient tokens: every chunk ends on a
line break (hard, or a soft `=CRLF`), so a recipient's value, QP-encoded on its own and
ending with a soft break, can sit between two chunks and the part stays valid QP with lines
of at most 76 octets. The boundary contains "=_", which QP output can never contain.

Per recipient headers: To, Message-ID, List-Unsubscribe (<url>, <mailto:>) and
List-Unsubscribe-Post (RFC 8058, whenever there is a URL), as `mail.message.list_headers` makes
them for every message. Shared: From, Subject, Date, List-Id, MIME-Version, Content-Language (and
X-Publisher-Test on a test copy). Non-ASCII names are RFC 2047 encoded; CR, LF and
other control characters in a name are dropped, and a bad address or URL raises DeliveryError
(permanent), so nothing can inject a header.
"""

from __future__ import annotations

import binascii
import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Iterable, Iterator
from urllib.parse import urlsplit

from publisher.config import Config
from publisher.errors import DeliveryError
from publisher.i18n import gettext_for
from publisher.mail.message import Prepared, dot_stuffed, list_headers, stuff_dots
from publisher.newsletter.issue import IssuePlan, RenderedIssue, greeting, render_issue

CRLF = b"\r\n"
SOFT_BREAK = b"=\r\n"
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")
URL = re.compile(r"[!#-;=?-\[\]-~]+")  # printable ASCII without space, quotes, <, >, backslash
ATOM_NAME = re.compile(r"[A-Za-z0-9 !#$%&'*+/=?^_`{|}~-]*")  # RFC 5322 atext and spaces
MESSAGE_ID = re.compile(r"<[!-;=?-~]+@[!-;=?-~]+>")
_URL_HOLE = "\0"  # where each recipient's unsubscribe URL goes in the List-Unsubscribe line
_HTML_SPECIAL = re.compile(r"[&<>\"']")  # what html.escape changes: most values have none
CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str
    name: str = ""
    unsubscribe_url: str = ""
    preferences_url: str = ""
    message_id: str = ""  # "<id@host>"; default derived from the issue number and the email


def compile_issue(rendered: RenderedIssue, config: Config, date: datetime | None = None,
                  test: bool = False) -> CompiledIssue:
    """The MIME skeleton of an issue, serialised once. `date` defaults to the issue's time.
    A `test` copy (`send --to`) says so: "[Test]" before the subject, in the site's language,
    and an `X-Publisher-Test: yes` header that filters can match."""
    return CompiledIssue(rendered, config, date or rendered.plan.now, test)


class CompiledIssue:
    """One issue for one audience as bytes with holes; `message_bytes` fills them."""

    def __init__(self, rendered: RenderedIssue, config: Config, date: datetime, test: bool = False):
        self.rendered = rendered
        self.test = test
        self.subject = rendered.subject  # as sent
        if test:
            _ = gettext_for(config.newsletter.lang or config.site.lang)
            self.subject = f"{_('[Test]')} {rendered.subject}"
        self.config = config
        self.number = rendered.plan.number
        self.rhythm = rendered.plan.rhythm
        self.host = urlsplit(config.site.url).hostname or "localhost"
        nonce = rendered.tokens["NAME"][len("PUBLISHER") : -len("NAME")]
        self.boundary = f"=_publisher_{nonce}"
        self._pieces, self._slots = self._skeleton(rendered, date)
        # Every piece starts a line (each ends with CRLF, a soft break or is empty), so the
        # DATA form is the pieces dot-stuffed one by one: the fixed ones here, once.
        whole_lines = all(p.endswith(CRLF) for p in self._pieces if p)
        self._stuffed = [stuff_dots(p) for p in self._pieces] + [b".\r\n"] if whole_lines else []
        # per recipient, only the holes this issue has: (index, "html.KEY", html?, "KEY")
        self._header_slot = next(i for i, key in self._slots if key == "headers")
        self._fills = [(i, key, key.startswith("html."), key.partition(".")[2])
                       for i, key in self._slots if key != "headers"]
        self._listing = self._list_lines(_URL_HOLE)  # the URL spliced in per recipient
        self._listing_no_url = self._list_lines("")
        name_token = rendered.tokens["NAME"]
        once = greeting(config, name_token)
        self._greeting = once if once.count(name_token) == 1 else None  # None: a filter used it
        self._anonymous = greeting(config, "")

    # -- once per issue

    def _skeleton(self, rendered: RenderedIssue, date: datetime) -> tuple[list[bytes], list[tuple[int, str]]]:
        cfg = self.config
        shared = EmailMessage(policy=SMTP)
        shared["From"] = _format_address(
            cfg.mail.from_name or cfg.site.title, cfg.mail.from_address or cfg.site.email
        )
        if self.test:
            shared["X-Publisher-Test"] = "yes"
        shared["Subject"] = self.subject
        shared["Date"] = format_datetime(date)
        shared["List-Id"] = list_headers(cfg, "")["List-Id"]
        if cfg.mail.feedback_id:  # Gmail's Feedback Loop: complaints by campaign
            shared["Feedback-ID"] = cfg.mail.feedback_id
        shared["MIME-Version"] = "1.0"
        shared["Content-Language"] = cfg.newsletter.lang or cfg.site.lang
        head = bytes(shared).split(CRLF + CRLF, 1)[0] + CRLF
        b = self.boundary.encode()
        part_head = (
            b"--" + b + CRLF + b'Content-Type: text/%s; charset="utf-8"' + CRLF
            + b"Content-Transfer-Encoding: quoted-printable" + CRLF + CRLF
        )
        pieces: list[bytes] = [head]
        slots: list[tuple[int, str]] = []
        for key in ("headers",):
            slots.append((len(pieces), key))
            pieces.append(b"")
        pieces.append(b'Content-Type: multipart/alternative; boundary="' + b + b'"' + CRLF + CRLF)
        for subtype, body in (("plain", rendered.text), ("html", rendered.html)):
            pieces.append(part_head % subtype.encode())
            for i, chunk in enumerate(re.split(f"({'|'.join(rendered.tokens.values())})", body)):
                if i % 2:
                    key = next(k for k, t in rendered.tokens.items() if t == chunk)
                    slots.append((len(pieces), f"{subtype}.{key}"))
                    pieces.append(b"")
                else:
                    pieces.append(_qp(chunk))
            pieces.append(CRLF)
        pieces.append(b"--" + b + b"--" + CRLF)
        return pieces, slots

    # -- once per recipient

    def message_bytes(self, recipient: Recipient) -> bytes:
        """The complete message for one recipient (RFC 5322, CRLF line ends)."""
        return bytes(self.prepared(recipient))

    def prepared(self, recipient: Recipient) -> Prepared:
        """The same message as pieces, with its SMTP DATA form (see `mail.message.Prepared`): the
        fixed pieces are shared, only the recipient's few bytes are made here."""
        values = self._values(recipient)
        pieces = self._pieces.copy()
        stuffed = (self._stuffed or pieces).copy()
        head = pieces[self._header_slot] = self._headers(recipient)
        stuffed[self._header_slot] = stuff_dots(head)
        # by text, not by hole: a URL or a plain name reads the same in both parts (and a
        # name may be the greeting), so each is QP-encoded and stuffed once, not twice
        encoded: dict[str, tuple[bytes, bytes]] = {}
        escaped: dict[str, str] = {}
        for index, _key, is_html, name in self._fills:
            text = values[name]
            if is_html:
                text = escaped.get(name) or escaped.setdefault(
                    name, html.escape(text) if _HTML_SPECIAL.search(text) else text)
            both = encoded.get(text)
            if both is None:
                value = _qp(text)
                both = encoded[text] = (value, stuff_dots(value))
            pieces[index], stuffed[index] = both
        if not self._stuffed:  # cannot happen with _skeleton's pieces: stuff the whole then
            stuffed = [dot_stuffed(b"".join(pieces)), b".\r\n"]
        return Prepared(pieces, stuffed)

    def messages(self, recipients: Iterable[Recipient]) -> Iterator[tuple[Recipient, bytes]]:
        """(recipient, message) one at a time: memory does not grow with the list."""
        for recipient in recipients:
            yield recipient, self.message_bytes(recipient)

    def _list_lines(self, url: str) -> tuple[bytes, bytes, str]:
        """List-Unsubscribe and List-Unsubscribe-Post as `mail.message.list_headers` makes them for
        `url`, split where the URL goes (once per issue, not per recipient), and a target
        unfit for a header if there is one (then every message with it is refused)."""
        listed = list_headers(self.config, url)
        lines, unfit = [], ""
        if "List-Unsubscribe" in listed:
            targets = listed["List-Unsubscribe"].split(", <")
            for target in targets:
                value = target.strip("<>").removeprefix("mailto:")
                if value != url and not (URL.fullmatch(value) and len(value) <= 900):
                    unfit = unfit or value
            lines.append("List-Unsubscribe: " + ",\r\n <".join(targets))
        if "List-Unsubscribe-Post" in listed:
            lines.append("List-Unsubscribe-Post: " + listed["List-Unsubscribe-Post"])
        text = "".join(line + "\r\n" for line in lines).encode("ascii", "replace")
        before, _, after = text.partition(url.encode() or b"\0")
        return before, after, unfit

    def _headers(self, r: Recipient) -> bytes:
        to = b"To: " + _format_address(r.name, r.email).encode("ascii")
        mid = r.message_id or self.message_id(r.email)
        if not MESSAGE_ID.fullmatch(mid):
            raise DeliveryError(f"bad Message-ID {mid!r} for {r.email}", permanent=True)
        url = r.unsubscribe_url
        if url:
            _checked_url(url, r.email)
            before, after, unfit = self._listing
        else:
            before, after, unfit = self._listing_no_url
        if unfit:
            _checked_url(unfit, r.email)
        return b"".join((to, CRLF, b"Message-ID: ", mid.encode("ascii"), CRLF, before,
                         url.encode("ascii"), after))

    def _values(self, r: Recipient) -> dict[str, str]:
        name = " ".join(CONTROL.sub(" ", r.name).split())
        if not name:
            hello = self._anonymous
        elif self._greeting is not None:
            hello = self._greeting.replace(self.rendered.tokens["NAME"], name)
        else:
            hello = greeting(self.config, name)
        return {"NAME": name, "GREETING": hello, "UNSUBSCRIBE": r.unsubscribe_url,
                "PREFERENCES": r.preferences_url}

    def message_id(self, email: str) -> str:
        digest = hashlib.blake2b(email.lower().encode(), digest_size=8).hexdigest()
        rhythm = f"{self.rhythm}-" if self.rhythm else ""
        return f"<issue-{rhythm}{self.number}.{digest}@{self.host}>"




def _qp(text: str) -> bytes:
    """QP of a chunk that starts on a fresh line and ends on one (a soft break if needed)."""
    if not text:
        return b""
    lf = text.replace("\r\n", "\n").encode("utf-8")
    # LF in, then every line break (hard or soft) made CRLF: b2a_qp would mix them otherwise.
    data = binascii.b2a_qp(lf, istext=True).replace(b"\n", CRLF)
    return data if data.endswith(CRLF) else data + SOFT_BREAK


def _format_address(name: str, email: str) -> str:
    if not ADDRESS.fullmatch(email) or len(email) > 254:
        raise DeliveryError(f"not a deliverable address: {email!r}", permanent=True)
    name = " ".join(CONTROL.sub(" ", name).split())[:200]
    if not name:
        return email
    if name.isascii():
        if ATOM_NAME.fullmatch(name) and "=?" not in name:
            return f"{name} <{email}>"
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        if len(quoted) < 900:
            return f'"{quoted}" <{email}>'
    return f"{_encoded_words(name)} <{email}>"


def _encoded_words(text: str, chunk: int = 42) -> str:
    """RFC 2047 "B" encoded words of at most 72 octets, folded; split between characters."""
    words, data = [], text.encode("utf-8")
    start = 0
    while start < len(data):
        end = min(start + chunk, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # never cut a character
            end -= 1
        words.append("=?utf-8?b?" + binascii.b2a_base64(data[start:end], newline=False).decode() + "?=")
        start = end
    return "\r\n ".join(words)


def _checked_url(url: str, email: str) -> str:
    if not URL.fullmatch(url) or len(url) > 900:
        raise DeliveryError(f"unsafe URL for {email}: {url!r}", permanent=True)
    return url


class Audiences:
    """Compile an issue once per distinct audience: subscribers whose categories select the
    same articles share one compiled issue."""

    def __init__(self, plan: IssuePlan, config: Config, date: datetime | None = None):
        self.plan, self.config, self.date = plan, config, date
        self._cache: dict[tuple[str, ...], CompiledIssue] = {}

    def compiled(self, categories: Iterable[str] | None,
                 articles: Iterable[str] | None = None) -> CompiledIssue | None:
        """For someone following `categories`; with `articles`, their share of the issue
        (a rhythm's subscriber who already had some of it, or who needs only some)."""
        plan = self.plan.for_articles(articles) if articles else \
            self.plan.for_categories(categories)
        if plan is None:
            return None
        key = tuple(a.id for a in plan.articles)
        if key not in self._cache:
            self._cache[key] = compile_issue(render_issue(plan, self.config), self.config, self.date)
        return self._cache[key]

    def __len__(self) -> int:
        return len(self._cache)
