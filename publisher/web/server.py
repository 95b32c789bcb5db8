"""The uvicorn settings of `publisher serve` and `publisher run`: bounded connections and
timeouts, and no proxy headers believed by uvicorn itself (the app believes X-Forwarded-For
only from `web.trusted_proxies`, see publisher.web.limits)."""

from __future__ import annotations

from uvicorn.protocols.http.h11_impl import H11Protocol


class SlowClientH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's line and headers: uvicorn
    times out only idle keep-alive connections, so a client that connects and sends nothing,
    or dribbles its headers a byte at a time (slowloris), would hold its slot for ever. (The
    body's own deadline is the Guard's.)"""

    header_timeout = 10.0
    _due = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def _waiting(self) -> bool:
        """No request under way: the next bytes are a request line and headers."""
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        if self._due is None:
            self._due = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._due is not None:
            self._due.cancel()
            self._due = None

    def _too_slow(self) -> None:
        self._due = None
        if self._waiting() and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._waiting():
            self._arm()
        super().data_received(data)
        if not self._waiting():
            self._disarm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)


def uvicorn_config(app, config, host: str, port: int, **extra):
    import uvicorn

    web = config.web
    protocol = type("Protocol", (SlowClientH11,), {"header_timeout": web.body_timeout})
    return uvicorn.Config(
        app, host=host, port=port, log_level="warning",
        http=protocol,
        proxy_headers=False,  # uvicorn would trust X-Forwarded-For from 127.0.0.1
        server_header=False,
        timeout_keep_alive=web.keep_alive,
        limit_concurrency=web.max_connections,
        h11_max_incomplete_event_size=16 * 1024,  # request line and headers
        timeout_graceful_shutdown=3,
        **extra,
    )
