"""The uvicorn settings of `publisher serve` and `publisher run`: bounded connections and
timeouts, and no proxy headers believed by uvicorn itself (the app believes X-Forwarded-For
only from `web.trusted_proxies`, see publisher.web.limits)."""

from __future__ import annotations


def uvicorn_config(app, config, host: str, port: int, **extra):
    import uvicorn

    web = config.web
    return uvicorn.Config(
        app, host=host, port=port, log_level="warning",
        proxy_headers=False,  # uvicorn would trust X-Forwarded-For from 127.0.0.1
        server_header=False,
        timeout_keep_alive=web.keep_alive,
        limit_concurrency=web.max_connections,
        h11_max_incomplete_event_size=16 * 1024,  # request line and headers
        timeout_graceful_shutdown=3,
        **extra,
    )
