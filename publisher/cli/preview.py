"""What `publisher run` and `publisher serve` share for a local preview: links that follow the
port, log times in the site's zone, a word when config.yaml changes."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0"}

log = logging.getLogger("publisher.run")


def is_local(url: str) -> bool:
    return (urlsplit(url).hostname or "") in LOCAL_HOSTS


def follow_address(config, host: str, port: int):
    """(config, note): a local site.url (the default) follows the address served, so links and
    the stylesheet work on `--port 18080`; a public one stays, and the note says so."""
    url = config.site.url
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    served = f"http://{shown}:{port}/"
    if url == served:
        return config, None
    if is_local(url) and urlsplit(url).path in ("", "/"):
        site = config.site.model_copy(update={"url": served})
        return config.model_copy(update={"site": site}), None
    return config, f"links point at {url} (site.url), not at {served}"


class ZoneFormatter(logging.Formatter):
    """Log times in the site's time zone, with the zone: '2024-06-01 09:56:02 CEST'."""

    def __init__(self, tz, fmt: str = "%(asctime)s %(message)s"):
        super().__init__(fmt)
        self.tz = tz

    def formatTime(self, record, datefmt=None):  # noqa: N802 - logging's name
        return datetime.fromtimestamp(record.created, self.tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def setup_logging(config, stream) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ZoneFormatter(config.site.tz))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("apscheduler", "alembic", "watchfiles"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def watch_config(path: Path, stopping: threading.Event) -> threading.Thread:
    """A thread that says, in one line, when config.yaml changes: valid, a restart applies it
    (the scheduler, the database and the web app were made from the old one); broken, where."""

    def loop() -> None:
        from watchfiles import watch

        from publisher.config import load_config
        from publisher.errors import ConfigError

        target = path.resolve()
        for changes in watch(target.parent, stop_event=stopping, raise_interrupt=False,
                             watch_filter=lambda _c, p: Path(p) == target):
            if not changes:
                continue
            try:
                load_config(target)
            except ConfigError as exc:
                log.error("%s changed and is not valid: %s", path.name, "; ".join(exc.problems))
                continue
            log.warning("%s changed: restart `publisher run` to apply it",
                        path.name)

    thread = threading.Thread(target=loop, name="config-watch", daemon=True)
    thread.start()
    return thread
