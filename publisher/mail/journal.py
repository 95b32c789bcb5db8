"""The journal of accepted deliveries: what the server took, written down before the next
message goes out on that connection, so a sender killed at any instant (kill -9, a full
disk, a database gone) leaves behind what it sent even if the ledger never heard of it.

    journal = Journal.open(folder, owner, fsync=False)
    journal.record(delivery_id)      # one write() per 250 reply to the final "."
    replay(store, folder, is_dead)   # at the next send: into the ledger, then removed

One file per sender ("sent-host-pid.log"), append-only, a delivery id a line. A `write()`
survives the process (the kernel has it); `fsync` (mail.journal_fsync) also survives a power
loss, at the price of a disk flush per message. A sender that ends cleanly, its outcomes
committed, removes its file; any other file is replayed (its ids marked sent) and removed
by the next send on the same host once its owner is gone.
"""

from __future__ import annotations

import os
import re
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

_NAME = re.compile(r"^sent-(.+)-(\d+)\.log$")
_OPEN: set[Path] = set()  # journals this process writes to now: never replayed under them


class Journal:
    def __init__(self, path: Path, fd: int, fsync: bool):
        self.path, self.fd, self.fsync = path, fd, fsync
        self.broken: OSError | None = None  # the first failed write: the send must stop

    @classmethod
    def open(cls, folder: Path, owner: str, fsync: bool = False) -> "Journal":
        folder.mkdir(parents=True, exist_ok=True)
        host, _, pid = owner.rpartition(":")
        path = folder / f"sent-{host}-{pid}.log"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        _OPEN.add(path)
        return cls(path, fd, fsync)

    def record(self, delivery_id: int) -> None:
        """Called by a sending thread on a 250 to the end of DATA, before it sends more on
        that connection. Never raises: a failure is kept in `broken` for the send loop."""
        try:
            os.write(self.fd, b"%d\n" % delivery_id)
            if self.fsync:
                os.fsync(self.fd)
        except OSError as exc:
            if self.broken is None:
                self.broken = exc

    def close(self, committed: bool) -> None:
        """`committed`: every outcome is in the ledger, the journal is no longer needed."""
        _OPEN.discard(self.path)
        try:
            os.close(self.fd)
        except OSError:
            pass
        if committed and self.broken is None:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass


def read_ids(path: Path) -> list[int]:
    """The ids in a journal; a last line cut by the crash is left out."""
    data = path.read_bytes()
    return [int(line) for line in data.split(b"\n")[:-1] if line.strip().isdigit()]


def replay(store, folder: Path, is_dead: Callable[[str, int], bool]) -> int:
    """Mark sent every delivery in the journals of senders that are gone (`is_dead(host,
    pid)`), or of this process when it is not writing them now (a send it stopped on a store
    failure), then remove those journals; returns how many ids were replayed. A store
    failure leaves the journal in place for the next try."""
    if not folder.is_dir():
        return 0
    replayed = 0
    for path in sorted(folder.iterdir()):
        found = _NAME.match(path.name)
        if not found or path in _OPEN:
            continue
        mine = (found.group(1), int(found.group(2))) == (socket.gethostname(), os.getpid())
        if not mine and not is_dead(found.group(1), int(found.group(2))):
            continue
        ids = read_ids(path)
        if ids:
            store.record_sent(ids, datetime.now(timezone.utc))
        path.unlink(missing_ok=True)  # a sibling process may have replayed it too
        replayed += len(ids)
    return replayed
