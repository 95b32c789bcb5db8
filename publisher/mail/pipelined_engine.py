"""The engine of the pipelined sender (see `publisher.mail.pipelining`): the connections of a
send as `_Link`s, driven from one `poll` loop by `Engine.run`, one write and one read a message.
"""

from __future__ import annotations

import select
import ssl
import time
from collections import deque

from publisher.errors import DeliveryError
from publisher.mail.message import Prepared, dot_stuffed
from publisher.mail.smtp import SmtpConnection, outcome_kind, refusal_error, staged_error

REPORT_AFTER = 0.02  # seconds: outcomes go back to the ledger at least this often


def fit(conn: SmtpConnection) -> bool:
    s = conn.smtp
    return (s.sock is not None and not isinstance(s.sock, ssl.SSLSocket) and s.does_esmtp
            and s.has_extn("pipelining"))


class _Link:
    """One connection: the replies it waits for, in order, as (stage, delivery); the
    delivery whose MAIL, RCPT and DATA are out and whose 354 is awaited (`opening`); the
    one to go next (`ready`)."""

    __slots__ = ("conn", "sock", "inbox", "lines", "waiting", "out", "writing", "opening",
                 "ready", "refusal", "since", "prefix", "size", "utf8", "closed")

    def __init__(self, conn: SmtpConnection, sender: str):
        s = conn.smtp
        self.conn, self.sock = conn, s.sock
        self.sock.setblocking(False)
        self.inbox = bytearray()
        self.lines: list[bytes] = []  # the lines so far of a reply of many lines
        self.waiting: deque = deque()
        self.out: list = []  # buffers not yet written
        self.writing = False  # the poller watches for room to write (`out` left over)
        self.closed = False
        self.opening = None
        self.ready: tuple | None = None  # the next message, composed ahead (see _begin)
        self.refusal: tuple[str, int, bytes] | None = None  # first refused command of `opening`
        self.since = time.monotonic()  # the last reply (or the first wait)
        self.size = s.has_extn("size")
        self.utf8 = s.has_extn("smtputf8")
        self.prefix = f"MAIL FROM:<{sender}>".encode("utf-8")


class Engine:
    """The worker's state: its connections, the deliveries taken and not yet started, the
    outcomes not yet reported."""

    def __init__(self, transport, first, sender, compose, work, results, limiter, size,
                 cancelled=frozenset(), journal=None):
        self.transport, self.sender, self.compose = transport, sender, compose
        self.cancelled, self.journal = cancelled, journal
        self.work, self.results, self.limiter, self.size = work, results, limiter, size
        self.where = transport.settings.where
        self.timeout = transport.settings.timeout
        self.poller = select.poll()  # not selectors: a few us a message less
        self.links: list[_Link] = []
        self.by_fd: dict[int, _Link] = {}
        self.pending: deque = deque()  # taken from `work`, not started
        self.done: list = []  # outcomes not yet reported
        self.check_at = 0.0  # when to look for connections that timed out
        if first is not None:
            self._add(first)

    # -- the loop

    def run(self) -> None:
        stopping = False
        report_at = time.monotonic() + REPORT_AFTER
        try:
            while True:
                busy = any(link.waiting for link in self.links)
                if not stopping and len(self.pending) < 2 * self.size:
                    if busy or self.pending:
                        chunk = self.work.get_nowait() if self.work.qsize() else ()
                    else:
                        self._report()
                        chunk = self.work.get()
                    if chunk is None:
                        stopping = True
                    else:
                        self.pending.extend(chunk)
                if stopping:
                    self.pending.extend(x.ready[0] for x in self.links if x.ready)
                    for link in self.links:
                        link.ready = None
                    self.done.extend(("unsent", d, None) for d in self.pending)
                    self.pending.clear()
                    if not busy:
                        break
                if self.pending or any(x.ready and not x.opening for x in self.links):
                    self._start()
                    busy = busy or any(link.waiting for link in self.links)
                if busy:
                    self._poll(max(0.0, min(report_at - time.monotonic(), 0.5)))
                if self.done and time.monotonic() >= report_at:
                    self._report()
                    report_at = time.monotonic() + REPORT_AFTER
        finally:
            self._report()
            for link in self.links:  # QUIT, as smtplib does it: blocking again
                link.sock.settimeout(min(self.timeout, 5.0))
                link.conn.close()

    def _report(self) -> None:
        if self.done:
            self.results.put(self.done)
            self.done = []

    def _start(self) -> None:
        """Begin a transaction on every connection free to take one, opening connections
        (up to `size`) while messages wait. A new connection refused for a while (421, or
        down) with others open: those serve from then on; with none open, the server is down
        and every message waiting goes back as 'down' after that one attempt."""
        for link in self.links:
            if link.opening is None and (self.pending or link.ready):
                self._begin(link)
        while self.pending and len(self.links) < self.size:
            conn = None
            try:
                conn = self.transport.connect()
                conn.smtp.ehlo_or_helo_if_needed()
            except Exception as exc:  # noqa: BLE001 - refused, unreachable, or EHLO refused
                if conn is not None:
                    conn.smtp.close()
                error = (exc if isinstance(exc, DeliveryError)
                         else staged_error(exc, self.where, "ehlo"))
                if error.permanent:  # the server refuses us: the send stops
                    self.done.append(("refused", self.pending.popleft(), error))
                elif self.links:  # no more connections for now (421, a limit): those open serve
                    self.size = len(self.links)
                else:  # down: one attempt (up to a timeout) answers for every message waiting
                    self.done.extend(("down", d, error) for d in self.pending)
                    self.pending.clear()
                return
            if not fit(conn):  # no longer PIPELINING: make do with those open, if any
                conn.close()
                if self.links:
                    self.size = len(self.links)
                    return
                self.done.append(("down", self.pending.popleft(), DeliveryError(
                    f"SMTP {self.where}: no longer offers PIPELINING")))
                continue
            self._begin(self._add(conn))

    def _add(self, conn: SmtpConnection) -> _Link:
        link = _Link(conn, self.sender)
        self.links.append(link)
        self.by_fd[link.sock.fileno()] = link
        self.poller.register(link.sock, select.POLLIN)
        return link

    def _begin(self, link: _Link, before: list | None = None) -> None:
        """MAIL, RCPT and DATA of the connection's next message, after `before` (the content
        of the one just given its 354), in one write. The message after that is composed
        at once, while the server reads: the next 354 finds it ready to go."""
        out = before or []
        ready, link.ready = link.ready or self._compose(link), None
        while ready is not None:
            d, data, commands = ready
            if out and getattr(self.limiter, "interval", 0):
                # rate-limited: the content goes now, only the next message waits its slot
                self._write(link, out)
                out = []
                if link.closed:
                    self.pending.appendleft(d)
                    return
            self.limiter.wait()
            if self.cancelled and d.id in self.cancelled:  # unsubscribed meanwhile
                self.done.append(("skipped", d, None))
                ready = self._compose(link)
                continue
            out.append(commands)
            link.opening, link.refusal = (d, data), None
            link.since = time.monotonic()  # a wait of ours is not the server's silence
            link.waiting.extend((("mail", d), ("rcpt", d), ("data", d)))
            break
        if out:
            self._write(link, out)
        if ready is not None and not link.closed:
            link.ready = self._compose(link)

    def _compose(self, link: _Link) -> tuple | None:
        """(delivery, message, its MAIL/RCPT/DATA) of the next pending delivery that has a
        message; those that have none, or cannot have one, are settled on the way."""
        while self.pending:
            d = self.pending.popleft()
            try:
                data = self.compose(d)
                if data is None:
                    self.done.append(("skipped", d, None))
                    continue
                return d, data, self._commands(link, d.email, len(data))
            except DeliveryError as exc:
                self.done.append(("failed", d, exc))
            except Exception as exc:  # noqa: BLE001 - a bug composing one message fails only it
                error = DeliveryError(f"{type(exc).__name__}: {exc}", permanent=True)
                self.done.append(("failed", d, error))
        return None

    def _commands(self, link: _Link, recipient: str, size: int) -> bytes:
        tail = b" SIZE=%d" % size if link.size else b""
        if not (recipient.isascii() and self.sender.isascii()):
            if not link.utf8:
                raise DeliveryError(f"{self.where} does not accept non-ASCII addresses "
                                    f"(SMTPUTF8) like {recipient}", permanent=True)
            tail += b" SMTPUTF8"
        if "<" in recipient or ">" in recipient or "\r" in recipient or "\n" in recipient:
            raise DeliveryError(f"{recipient!r} is not a valid address", permanent=True)
        return b"".join((link.prefix, tail, b"\r\nRCPT TO:<", recipient.encode("utf-8"),
                         b">\r\nDATA\r\n"))

    # -- the wire

    def _write(self, link: _Link, pieces: list) -> None:
        if link.out:
            link.out.extend(map(memoryview, pieces))
            return
        try:  # nearly always: all of it at once (the socket's buffer holds a message)
            sent = link.sock.sendmsg(pieces[:1024])  # IOV_MAX
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self._lost(link, staged_error(exc, self.where, ""))
            return
        if len(pieces) <= 1024 and sent == sum(map(len, pieces)):
            return
        link.out = [memoryview(p) for p in pieces]
        _trim(link.out, sent)
        self._flush(link)

    def _flush(self, link: _Link) -> None:
        out = link.out
        try:
            while out:
                _trim(out, link.sock.sendmsg(out[:1024]))
                link.since = time.monotonic()  # a slow reader is not a dead one
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            self._lost(link, staged_error(exc, self.where, ""))
            return
        if link.writing != bool(out):
            link.writing = bool(out)
            self.poller.modify(link.sock, select.POLLIN | (select.POLLOUT if out else 0))

    def _poll(self, timeout: float) -> None:
        for fd, events in self.poller.poll(timeout * 1000):
            link = self.by_fd.get(fd)
            if link is None or link.closed:
                continue
            if events & select.POLLOUT and link.out:
                self._flush(link)
            if events & ~select.POLLOUT and not link.closed:  # data, hang-up or error
                self._read(link)
        now = time.monotonic()
        if now >= self.check_at:  # timeouts: once a second is enough
            self.check_at = now + 1.0
            for link in [x for x in self.links if x.waiting and now - x.since > self.timeout]:
                self._lost(link, DeliveryError(f"SMTP {self.where}: timed out"))

    def _read(self, link: _Link) -> None:
        try:
            chunk = link.sock.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lost(link, staged_error(exc, self.where, ""))
            return
        if not chunk:
            self._lost(link, DeliveryError(f"SMTP {self.where}: connection lost "
                                           "(Connection unexpectedly closed)"))
            return
        link.since = time.monotonic()
        if link.inbox or not chunk.endswith(b"\r\n"):  # a reply cut between two reads
            link.inbox += chunk
            end = link.inbox.rfind(b"\r\n") + 2
            if end < 2:
                return
            chunk = bytes(link.inbox[:end])
            del link.inbox[:end]
        for line in chunk[:-2].split(b"\r\n"):
            if line[3:4] == b"-":  # a reply of many lines goes on
                link.lines.append(line[4:])
                continue
            if link.closed:
                return
            code = line[:3]
            if not code.isdigit() or not link.waiting:
                self._lost(link, DeliveryError(f"SMTP {self.where}: connection lost "
                                               f"(unexpected reply {line[:80]!r})"))
                return
            text = line[4:]
            if link.lines:
                text, link.lines = b" ".join(link.lines + [text]), []
            self._reply(link, int(code), text)

    # -- replies

    def _reply(self, link: _Link, code: int, text: bytes) -> None:
        stage, d = link.waiting.popleft()
        if code == 421:  # the server closes the connection: this reply's message fails
            if d is not None:
                opening = link.opening is not None and link.opening[0] is d
                stage, code, text = link.refusal if opening and link.refusal else \
                    (stage, code, text)
                self._fail(d, refusal_error(code, text, self.where,
                                       "data" if stage == "end" else stage))
            self._lost(link, None, d)
        elif stage == "end":
            if code == 250:
                if self.journal is not None:  # before this link's next message goes on
                    self.journal.record(d.id)
                self.done.append(("sent", d, None))
            else:
                self._fail(d, refusal_error(code, text, self.where, "data"))
        elif stage in ("mail", "rcpt", "data"):
            good = (250,) if stage == "mail" else (250, 251) if stage == "rcpt" else (354,)
            if code not in good and link.refusal is None:
                link.refusal = (stage, code, text)
            if stage == "data":
                self._opened(link, code)

    def _opened(self, link: _Link, code: int) -> None:
        """The DATA reply of the message being opened: send its content, and the next
        message's commands with it; or, refused, end the transaction (RSET)."""
        (d, data), refusal = link.opening, link.refusal
        link.opening = None
        if refusal is None:
            link.waiting.append(("end", d))
            pieces = data.smtp_pieces if isinstance(data, Prepared) else \
                [dot_stuffed(bytes(data)), b".\r\n"]
            self._begin(link, list(pieces))
            return
        stage, refused_code, text = refusal
        self._fail(d, refusal_error(refused_code, text, self.where, stage))
        out = [b".\r\n"] if code == 354 else []  # it took DATA anyway: an empty message
        out.append(b"RSET\r\n")
        link.waiting.extend([("dot", None)] * (code == 354) + [("rset", None)])
        self._begin(link, out)

    def _fail(self, d, error: DeliveryError) -> None:
        self.done.append((outcome_kind(error), d, error))

    def _lost(self, link: _Link, error: DeliveryError | None, failed=None) -> None:
        """The connection is gone (or going: 421). The reply that was due fails its message
        with `error` (unless it is `failed`, failed already); the messages pipelined behind
        it were never answered: they start again on another connection."""
        self.links.remove(link)
        link.closed = True
        self.by_fd.pop(link.sock.fileno(), None)
        self.poller.unregister(link.sock)
        link.conn.smtp.close()
        again: list = []
        for stage, d in link.waiting:
            if d is None or d is failed or any(d is x for x in again):
                continue
            if error is not None:
                error.stage = "data" if stage == "end" else stage  # type: ignore[attr-defined]
                error.where, error.broken = self.where, True  # type: ignore[attr-defined]
                self._fail(d, error)
                failed, error = d, None
            else:
                again.append(d)
        if link.ready is not None:
            again.append(link.ready[0])
        link.waiting.clear()
        link.opening = link.ready = None
        self.pending.extendleft(reversed(again))


def _trim(out: list, sent: int) -> None:
    """Drop the first `sent` bytes of a list of memoryviews."""
    while sent:
        if sent >= len(out[0]):
            sent -= len(out.pop(0))
        else:
            out[0], sent = out[0][sent:], 0
