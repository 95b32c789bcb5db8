"""`mail.processes`: one send spread over forked sender processes (personalising and SMTP
on every core, no GIL between them), each running `delivery.send_deliveries` on its share of
the connections, claiming from the same ledger under its own owner ("host:pid")."""

from __future__ import annotations

import os
import socket
import threading
import time

from publisher.errors import DeliveryError
from publisher.mail import delivery
from publisher.mail.delivery import send_deliveries
from publisher.mail.sending import Compose, Progress, SendReport, SendSettings
from publisher.mail.transport import Transport
from publisher.store import Store


def send_in_processes(store: Store, issue_id: int, compose: Compose, transport: Transport,
                      sender: str, settings: SendSettings, processes: int = 1,
                      progress: Progress | None = None,
                      stop: threading.Event | None = None) -> SendReport:
    """`send_deliveries` over `processes` processes: this one and processes - 1 forked
    children, each with its share of `settings.connections` and its own database
    connections, claiming from the same ledger under its own owner ("host:pid"), so
    personalising and SMTP spread over cores (no GIL between them). Returns the merged report
    once all are done. A child stops, after its messages in flight, when this process stops
    or dies (it reads EOF on a pipe); a child that dies leaves its claims to the next send."""
    counts = store.delivery_counts(issue_id)
    due = counts.get("queued", 0) + counts.get("claimed", 0)
    processes = max(1, min(processes, settings.connections,
                           -(-due // max(1, settings.batch_size))))
    if processes == 1 or not hasattr(os, "fork"):
        return send_deliveries(store, issue_id, compose, transport, sender, settings,
                               progress, stop)
    started = time.monotonic()
    shares = [settings.connections // processes + (i < settings.connections % processes)
              for i in range(processes)]
    stop_r, stop_w = os.pipe()  # this end closed (or this process dead): the children stop
    children: dict[int, int] = {}  # pid -> read end of its report pipe
    try:
        for share in shares[1:]:
            report_r, report_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: never returns
                os.close(stop_w)
                os.close(report_r)
                for fd in children.values():
                    os.close(fd)
                _child(store, issue_id, compose, transport, sender,
                       _with_connections(settings, share), stop, stop_r, report_w)
            os.close(report_w)
            children[pid] = report_r
    except BaseException:
        os.close(stop_w)
        _collect(children)
        raise
    os.close(stop_r)
    report, error = SendReport(issue_id), None
    try:
        own = send_deliveries(store, issue_id, compose, transport, sender,
                              _with_connections(settings, shares[0]),
                              _overall(store, issue_id, progress) if progress else None, stop,
                              wait_for_others=False)
        _merge(report, own)
    except BaseException as exc:  # the children are told to stop, then waited for
        error = exc
    if error is not None or (stop is not None and stop.is_set()):
        os.close(stop_w)
        stop_w = -1
    lost = False  # a child died without a report: its claims are to be taken back
    for result in _collect(children, store, issue_id, progress):
        if isinstance(result, SendReport):
            _merge(report, result)
        elif result is None:
            lost = True
        elif error is None:
            error = result
    if stop_w != -1:
        os.close(stop_w)
    if error is None and lost and (stop is None or not stop.is_set()):
        _merge(report, send_deliveries(store, issue_id, compose, transport, sender, settings,
                                       progress, stop))  # takes the dead child's claims back
    report.elapsed = time.monotonic() - started
    if error is not None:
        raise error
    return report


def _with_connections(settings: SendSettings, connections: int) -> SendSettings:
    from dataclasses import replace

    return replace(settings, connections=connections)


def _merge(report: SendReport, other: SendReport) -> None:
    report.sent += other.sent
    report.retried += other.retried
    report.skipped += other.skipped
    report.failed.extend(other.failed)


def _overall(store: Store, issue_id: int, progress: Progress) -> Progress:
    """Progress of the whole issue (every process), read from the ledger twice a second."""
    last = 0.0

    def update(_done: int, _total: int) -> None:
        nonlocal last
        if time.monotonic() - last >= 0.5:
            last = time.monotonic()
            counts = store.delivery_counts(issue_id)
            waiting = counts.get("queued", 0) + counts.get("claimed", 0)
            total = sum(counts.values())
            progress(total - waiting, total)

    return update


def _child(store: Store, issue_id: int, compose: Compose, transport: Transport, sender: str,
           settings: SendSettings, stop: threading.Event | None, stop_r: int,
           report_w: int) -> None:
    """A forked sender: its own owner and database connections; reports back through
    `report_w` (a pickled SendReport, or the error that stopped it), then exits."""
    import pickle

    code = 1
    try:
        delivery.OWNER = f"{socket.gethostname()}:{os.getpid()}"
        store.engine.dispose(close=False)  # the parent's connections stay the parent's
        stop = stop if stop is not None else threading.Event()
        threading.Thread(target=_stop_on_eof, args=(stop_r, stop), daemon=True).start()
        try:
            result: object = send_deliveries(store, issue_id, compose, transport, sender,
                                              settings, None, stop)
            code = 0
        except DeliveryError as exc:
            result = ("DeliveryError", str(exc))
        except Exception as exc:  # noqa: BLE001 - reported by the parent
            result = ("Exception", f"{type(exc).__name__}: {exc}")
        data = pickle.dumps(result)
        view = memoryview(data)
        while view:
            view = view[os.write(report_w, view):]
    except BaseException:  # noqa: BLE001 - e.g. Ctrl-C: what was sent is committed already
        pass
    finally:
        os._exit(code)


def _stop_on_eof(fd: int, stop: threading.Event) -> None:
    try:
        os.read(fd, 1)
    except OSError:
        pass
    stop.set()


def _collect(children: dict[int, int], store: Store | None = None, issue_id: int = 0,
             progress: Progress | None = None) -> list:
    """Wait for every child; what each reported: a SendReport, an exception, or None (it
    died without a report)."""
    import pickle
    import select

    buffers = {fd: bytearray() for fd in children.values()}
    open_fds = set(buffers)
    show = _overall(store, issue_id, progress) if store is not None and progress else None
    while open_fds:
        ready, _, _ = select.select(list(open_fds), [], [], 0.5)
        for fd in ready:
            chunk = os.read(fd, 1 << 16)
            if chunk:
                buffers[fd] += chunk
            else:
                open_fds.discard(fd)
        if show:
            show(0, 0)
    results: list = []
    for pid, fd in children.items():
        os.close(fd)
        _, status = os.waitpid(pid, 0)
        data = bytes(buffers[fd])
        if data:
            result = pickle.loads(data)
            if isinstance(result, tuple):
                kind, message = result
                result = DeliveryError(message) if kind == "DeliveryError" else \
                    DeliveryError(f"a sender process failed: {message}", permanent=True)
            results.append(result)
        else:
            results.append(None)  # killed, or ended without a word
    return results
