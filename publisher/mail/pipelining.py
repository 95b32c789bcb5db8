"""Every SMTP connection of a send driven by one thread, pipelined (RFC 2920).

    first = pipelined_connection(transport)  # None: TLS, STARTTLS or no PIPELINING: threads
    pipelined_worker(transport, first, sender, compose, work, results, limiter, connections,
                     cancelled)

Each connection is opened blocking (smtplib: greeting, EHLO, AUTH), then its socket is made
non-blocking and driven from one `poll` loop. A message is one write and one
read: its dot-stuffed DATA and final "." go out with the next message's MAIL, RCPT and DATA,
and the four replies come back together. No thread per connection: no GIL hand-offs or queue
traffic per message, which cost more than the SMTP itself (issue 5).

The worker's contract is `sending.threaded_worker`'s: chunks of deliveries in from `work` (None:
finish what is in flight, give back the rest), lists of (kind, delivery, error) out to
`results`. A delivery whose id is in `cancelled` (the ledger adds those of people who
unsubscribed meanwhile) is reported "skipped" instead of sent, if its MAIL is not yet out:
the set is looked at just before a message's commands are written. Refusals keep their
stage ("mail", "rcpt", "data") as `SmtpConnection.send` sets it (`smtp.staged_error`). A
dropped connection (or a 421, or a timeout) fails the one transaction whose reply was due; the
transactions pipelined behind it, never answered, are started again on another connection.
"""

from __future__ import annotations

import os
import select
import sys
import threading

from publisher.errors import DeliveryError
from publisher.mail.pipelined_engine import Engine, fit
from publisher.mail.smtp import SmtpConnection, SmtpTransport, staged_error

SWITCH_INTERVAL = 0.0005  # seconds: the GIL's hand-over time while the worker runs


def pipelined_connection(transport) -> SmtpConnection | None:
    """An open connection fit for the pipelined worker (plain socket, PIPELINING offered), or
    None: then the threaded worker serves (TLS, lock-step servers, other transports). A server
    that cannot be reached or refuses the greeting or EHLO raises DeliveryError (permanent for
    a 5xx), as a delivery's connection would: the send pauses or stops on it."""
    if (not isinstance(transport, SmtpTransport) or transport.settings.security != "none"
            or not hasattr(select, "poll")):
        return None
    conn = None
    try:
        conn = transport.connect()
        conn.smtp.ehlo_or_helo_if_needed()
    except Exception as exc:  # noqa: BLE001 - refused, unreachable, or EHLO refused
        if conn is not None:
            conn.smtp.close()
        raise (exc if isinstance(exc, DeliveryError) else
               staged_error(exc, transport.settings.where, "ehlo")) from None
    if fit(conn):
        return conn
    conn.close()
    return None


def pipelined_worker(transport, first, sender, compose, work, results, limiter,
                     connections, cancelled=frozenset(), journal=None) -> None:
    """The thread that drives all `connections` (see the module docstring). While it runs,
    a thread that wants the GIL gets it after SWITCH_INTERVAL, not the default 5 ms: this
    thread, woken by a reply, would otherwise wait out the ledger thread's Python work while
    every connection sits idle (end to end ~8,000/s -> ~10,000/s in bench/send.py)."""
    global _running, _previous
    with _switch:  # several sends at once in one process: the last to end restores it
        if not _running:
            _previous = sys.getswitchinterval()
            sys.setswitchinterval(min(_previous, SWITCH_INTERVAL))
        _running += 1
    try:
        Engine(transport, first, sender, compose, work, results, limiter, connections,
               cancelled, journal).run()
    finally:
        with _switch:
            _running -= 1
            if not _running:
                sys.setswitchinterval(_previous)


_switch = threading.Lock()
_running = 0  # pipelined workers running in this process
_previous = 0.005  # the switch interval before the first of them


def _forked() -> None:
    """A forked sender inherits none of the parent's threads: none of its workers runs."""
    global _switch, _running
    if _running:
        sys.setswitchinterval(_previous)
    _switch, _running = threading.Lock(), 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)
