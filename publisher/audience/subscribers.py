"""Subscriber use cases: add, import, export, remove, request, confirm, unsubscribe, preferences.

Addresses are validated and normalised with email-validator (no network look-ups). States:
pending -> active -> unsubscribed | bounced; leaving is final until the person subscribes again.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable

from email_validator import EmailNotValidError, validate_email

from publisher.errors import PublisherError
from publisher.models import Subscriber
from publisher.store import Store

Notify = Callable[[Subscriber], None]


class SubscriberError(PublisherError):
    """A bad address, an unknown subscriber or an unreadable file: names the culprit."""


class ConsentLapsed(SubscriberError):
    """A confirmation link made before the person last unsubscribed: their leaving stands."""


_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[a-z]{{2,63}}", re.ASCII)
_SPECIAL_TLDS = {"arpa", "invalid", "local", "localhost", "onion", "test"}  # email-validator's


def _plain(address: str) -> str | None:
    """The normal form of an everyday ASCII address (most of a large import), checked ~30x
    faster than email-validator does; None when it takes the full validator to say."""
    low = address.lower()
    if (len(low) > 254 or "--" in low or not _PLAIN.fullmatch(low)
            or low.index("@") > 64 or low.rpartition(".")[2] in _SPECIAL_TLDS):
        return None
    return low


def normalise(email: str) -> str:
    """The canonical form of an address, or SubscriberError naming it and why it is bad.

    Lower-cased whole: mailbox names are case-insensitive at every real provider, and one
    person must not be two subscribers.
    """
    email = email.strip()
    if (plain := _plain(email)) is not None:
        return plain
    try:
        found = validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise SubscriberError(f"{email!r} is not a valid address: {exc}") from None
    if found.ascii_email is None:  # the mailer writes ASCII headers: it could never be mailed
        raise SubscriberError(f"{email!r} is not a valid address: non-ASCII characters "
                              "before the @ cannot be mailed")
    return found.ascii_email.lower()  # an internationalised domain in its IDNA (xn--) form


def clean_name(name: str | None) -> str:
    return " ".join((name or "").split())[:200]


def clean_categories(categories: Iterable[str] | None) -> list[str]:
    found: list[str] = []
    for value in categories or ():
        for part in str(value).replace(";", ",").split(","):
            part = " ".join(part.split())
            if part and part not in found:
                found.append(part)
    return found


LEFT = ("unsubscribed", "bounced")  # final until the person subscribes again themselves


def add(store: Store, email: str, name: str, categories: Iterable[str], now: datetime,
        *, pending: bool = False, notify: Notify | None = None,
        force: bool = False, guard=None, source: str = "cli",
        rhythm: str = "") -> tuple[Subscriber, bool]:
    """Add someone the publisher vouches for (active), or pending with a confirmation email.

    Returns (subscriber, whether anything changed). An existing active subscriber is left as
    is; one who unsubscribed or bounced is refused (SubscriberError) unless `force`: leaving
    is final until the person acts. So is an address forgotten at its owner's request
    (`guard`: the suppression list, `consent.Suppressions`).
    """
    email = normalise(email)
    status = "pending" if pending else "active"
    if guard is not None and guard.blocked([email]):
        if not force:
            raise SubscriberError(f"{email} asked to be forgotten: not added again, only they "
                                  "can subscribe again (or add it with --force)")
        guard.lift(email)
    existing = store.get_subscriber(email)
    if existing is None:
        sub = store.add_subscriber(email, clean_name(name), clean_categories(categories), status,
                                   now, rhythm=rhythm)
        store.record_optin(email, source)
    elif existing.status == "active" or (pending and existing.status == "pending"):
        return existing, False
    elif existing.status in LEFT and not force:
        raise SubscriberError(f"{email} is {existing.status}: not added again, only they can "
                              "subscribe again (or add it with --force)")
    else:
        sub = store.update_subscriber(
            email, status=status, confirmed=None if pending else now, unsubscribed=None,
            hard_bounces=0, **({"name": clean_name(name)} if name else {}),
            **({"categories": clean_categories(categories)} if categories else {}),
            **({"rhythm": rhythm} if rhythm else {}),
        )
        assert sub is not None
    if pending and notify:
        notify(sub)
    return sub, True


HEADER_NAMES = ("email", "e-mail")


@dataclass
class ImportReport:
    added: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)  # "FILE:LINE: reason"
    left: int = 0  # rows imported as unsubscribed or bounced (from the file's status column)


@dataclass
class _Row:
    name: str
    categories: list[str]
    status: str  # the status this row asks for
    where: str  # "FILE:LINE"
    rhythm: str = ""  # a name of newsletter.rhythms, from a `rhythm` column


def import_csv(store: Store, path: Path, now: datetime, *, pending: bool = False,
               notify: Notify | None = None, chunk: int = 5000, guard=None,
               rhythms: Iterable[str] = ()) -> ImportReport:
    """Rows of email, name, categories[, status][, rhythm] (a header row is optional; status
    and rhythm are read by its names); bad rows reported and skipped. A new address takes the
    row's rhythm when it is one of `rhythms` (else the default, reported).

    Streamed: `chunk` rows at a time are checked, looked up and inserted in one statement, so
    a million rows take flat memory. New addresses are added, in the state the file's status
    column gives when it says pending, unsubscribed or bounced (an export read back keeps its
    states). Known addresses are never revived: active ones (and pending ones with `pending`)
    stay as they are, unsubscribed and bounced ones too (reported when the row asked more).
    """
    report = ImportReport()
    mode = "pending" if pending else "active"
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise SubscriberError(f"{path}: {exc.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        columns: dict[str, int] | None = None  # from a header row, when there is one
        rows: dict[str, _Row] = {}  # this chunk's, by address
        try:
            for row in reader:
                line = reader.line_num
                if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                    continue
                if columns is None and line == 1 and row[0].strip().lower() in HEADER_NAMES:
                    columns = {c.strip().lower(): i for i, c in enumerate(row)}
                    continue
                email, name, cats = _fields(row, columns)
                try:
                    email = normalise(email)
                except SubscriberError as exc:
                    report.problems.append(f"{path}:{line}: {exc}")
                    continue
                if email in rows:
                    report.unchanged += 1  # twice in the file: the first row counts
                    continue
                wanted = _status(row, columns)
                status = wanted if wanted in (*LEFT, "pending") else mode
                rhythm = _status(row, columns, "rhythm")
                if rhythm and rhythm not in rhythms:
                    report.problems.append(f"{path}:{line}: no rhythm {rhythm!r} in "
                                           "newsletter.rhythms: the default one instead")
                    rhythm = ""
                rows[email] = _Row(name, cats, status, f"{path}:{line}", rhythm)
                if len(rows) >= chunk:
                    _import_chunk(store, _allowed(rows, guard, report), now, pending, notify,
                                  report)
                    rows = {}
        except (csv.Error, UnicodeDecodeError) as exc:
            report.problems.append(f"{path}:{reader.line_num + 1}: unreadable ({exc}); stopped here")
        _import_chunk(store, _allowed(rows, guard, report), now, pending, notify, report)
    return report


def _allowed(rows: dict[str, _Row], guard, report: ImportReport) -> dict[str, _Row]:
    """The rows whose address was not forgotten at its owner's request (those are reported)."""
    if guard is None or not rows:
        return rows
    for email in guard.blocked(rows):
        report.problems.append(f"{rows.pop(email).where}: {email} asked to be forgotten: not "
                               "imported (`subscribers add --force` if they asked again)")
    return rows


def _status(row: list[str], columns: dict[str, int] | None, key: str = "status") -> str:
    """The status (or `key`) cell of a row (only with a header naming it), lower-cased."""
    if columns and key in columns and columns[key] < len(row):
        return row[columns[key]].strip().lower()
    return ""


def _import_chunk(store: Store, rows: dict[str, _Row], now: datetime,
                  pending: bool, notify: Notify | None, report: ImportReport) -> None:
    if not rows:
        return
    known: dict[str, str] = {}
    added: list[str] = []
    inserted = 0
    for status in dict.fromkeys(r.status for r in rows.values()):
        batch = [(email, clean_name(r.name), clean_categories(r.categories))
                 for email, r in rows.items() if r.status == status]
        new, seen = store.merge_subscribers(batch, status, now)
        store.record_optin(new, "import")
        for rhythm in {rows[e].rhythm for e in new} - {""}:
            store.set_rhythm([e for e in new if rows[e].rhythm == rhythm], rhythm)
        known.update(seen)
        report.added += len(new)
        inserted += len(new)
        if status in LEFT:
            report.left += len(new)
        elif status == "pending" and pending:
            added += new  # only those --pending asks for get a confirmation email
    report.unchanged += len(rows) - inserted - len(known)  # added meanwhile by someone else
    for email, status in known.items():
        row = rows[email]
        if status == "pending" and row.status == "active":  # the publisher vouches: active
            _, changed = add(store, email, row.name, row.categories, now)
            report.added += changed
            report.unchanged += not changed
        elif status in LEFT and row.status not in LEFT:
            report.problems.append(f"{row.where}: {email} is {status}: left as is, only they "
                                   "can subscribe again")
        else:
            report.unchanged += 1
    if pending and notify:
        for email in added:
            sub = store.get_subscriber(email)
            if sub is not None:
                notify(sub)


def _fields(row: list[str], columns: dict[str, int] | None) -> tuple[str, str, list[str]]:
    """(email, name, categories) of a row: by header names, else email, name, categories..."""
    row = [uncell(c) for c in row]
    if not columns:
        return row[0], row[1] if len(row) > 1 else "", clean_categories(row[2:])

    def cell(*keys: str) -> str:
        for key in keys:
            if key in columns and columns[key] < len(row):
                return row[columns[key]]
        return ""

    extra = row[len(columns):]  # unquoted categories spill into more columns
    return cell(*HEADER_NAMES), cell("name"), clean_categories([cell("categories"), *extra])


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FORMULA = ("=", "+", "-", "@")  # what a spreadsheet runs as a formula (tab and CR: controls)


def cell(value: str) -> str:
    """A cell a spreadsheet shows as text: no control characters, and a quote before what it
    would otherwise run as a formula (`=HYPERLINK(...)` in a name), as OWASP advises."""
    value = _CONTROL.sub("", value)
    return "'" + value if value.startswith(_FORMULA) else value


def uncell(value: str) -> str:
    """What `cell` quoted, read back by the import."""
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA) else value


def export_csv(store: Store, path: Path, status: str | None = None) -> int:
    """Write email, name, categories, status, created, rhythm (UTF-8 CSV, mode 0600: personal
    data; an empty rhythm is the default one); the import reads it back."""
    count = 0
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # an older file of the same name may have been readable
        with open(fd, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["email", "name", "categories", "status", "created", "rhythm"])
            for sub in store.list_subscribers(status):
                writer.writerow([cell(sub.email), cell(sub.name),
                                 cell(",".join(sub.categories)), sub.status,
                                 sub.created.isoformat(), sub.rhythm])
                count += 1
    except OSError as exc:
        raise SubscriberError(f"{path}: {exc.strerror}") from None
    return count


def remove(store: Store, email: str) -> None:
    address = normalise(email)
    if not store.remove_subscriber(address):
        raise SubscriberError(f"{address} is not a subscriber")


def request(store: Store, email: str, name: str, categories: Iterable[str], now: datetime,
            notify: Callable[[Subscriber, dict], None], client: str = "",
            rhythm: str = "") -> None:
    """The web form: a confirmation email for anyone not already active, the same answer for
    all (the caller cannot tell whether the address was known). A known address is never
    changed here: the request (name, categories) rides in the confirmation link, applied only
    when the person follows it; an unknown one becomes a new pending row, its opt-in record
    "form" from `client` (the client address as web.keep_client_address says: kept, hashed
    or "")."""
    email = normalise(email)
    asked = {"name": clean_name(name), "categories": clean_categories(categories),
             **({"rhythm": rhythm} if rhythm else {})}  # (a name of newsletter.rhythms)
    existing = store.get_subscriber(email)
    if existing is None:
        try:
            sub = store.add_subscriber(email, asked["name"], asked["categories"], "pending", now,
                                       rhythm=rhythm)
        except KeyError:  # added meanwhile
            return request(store, email, name, categories, now, notify, client, rhythm)
        store.record_optin(email, "form", client)
    elif existing.status == "active":
        return
    else:
        sub = existing
    notify(sub, asked)


def confirm(store: Store, email: str, now: datetime, welcome: Notify | None = None,
            asked: dict | None = None, issued: float | None = None) -> Subscriber | None:
    """Activate a pending subscriber (a welcome follows); repeated clicks change nothing.

    With `asked` (the web request the link carries), anyone not active is activated with
    exactly the name and categories of that request: they asked, and proved the address.
    A link `issued` (Unix seconds) before the person last unsubscribed is refused
    (ConsentLapsed): opening an old confirmation again must not undo their leaving.
    """
    sub = store.get_subscriber(email)
    if sub is None:
        return None
    if (issued is not None and sub.status != "active" and sub.unsubscribed is not None
            and issued < int(sub.unsubscribed.timestamp())):  # links carry whole seconds
        raise ConsentLapsed(f"{email} unsubscribed after this confirmation link was sent")
    if sub.status == "pending" or (asked is not None and sub.status != "active"):
        changes = {}
        if asked is not None:
            changes["categories"] = clean_categories(asked.get("categories") or [])
            if clean_name(asked.get("name")):
                changes["name"] = clean_name(asked.get("name"))
            if asked.get("rhythm"):
                changes["rhythm"] = str(asked["rhythm"])[:32]
        sub = store.update_subscriber(email, status="active", confirmed=now, unsubscribed=None,
                                      hard_bounces=0, **changes)
        if asked is not None and sub is not None and sub.optin_source != "form":
            store.record_optin(email, "form")  # they asked again on the form
        if welcome and sub:
            welcome(sub)
    return sub


def unsubscribe(store: Store, email: str, now: datetime) -> Subscriber | None:
    """Effective at once: the ledger never claims a delivery of someone not active, and a send
    that holds one already skips it within about a quarter second if not yet on the wire."""
    sub = store.get_subscriber(email)
    if sub is None or sub.status == "unsubscribed":
        return sub
    return store.update_subscriber(email, status="unsubscribed", unsubscribed=now)


def set_categories(store: Store, email: str, categories: Iterable[str]) -> Subscriber | None:
    return store.update_subscriber(email, categories=clean_categories(categories))
