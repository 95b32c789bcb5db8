"""The config sections of what the product sends and serves: `mail:`, `web:`, `schedule:`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator

from publisher.config.sections import EMAIL, _Section


class Mail(_Section):
    """Transports and sending (outbox or SMTP)."""

    transport: Literal["outbox", "smtp"] | None = None  # default: smtp when smtp_url is set
    from_address: str | None = None  # default: site.email

    @field_validator("from_address")
    @classmethod
    def _from(cls, v: str | None) -> str | None:
        if v is not None and not EMAIL.fullmatch(v):
            raise ValueError("must be a bare address like newsletter@example.org")
        return v

    from_name: str | None = None  # default: site.title
    smtp_url: str | None = None  # smtp://user@host:port, smtps://..., ?starttls=true
    host: str = "localhost"
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: str | None = None
    timeout: float = Field(30.0, gt=0)
    connections: int = Field(4, ge=1, le=64)  # SMTP connections reused across messages
    processes: int = Field(1, ge=1, le=64)  # sender processes sharing them (forked per send)
    rate_limit: float = Field(0.0, ge=0)  # messages per second over every worker, 0: no limit
    lease: float = Field(300.0, gt=0)  # seconds a dead sender's batch waits before others take it
    batch_size: int = Field(200, ge=1)  # deliveries claimed (and marked) per commit
    max_attempts: int = Field(5, ge=1)  # pauses in a row (server unreachable) before a send stops
    retry_backoff: float = Field(30.0, ge=0)  # seconds before the first retry, doubled after
    retry_max_backoff: float = Field(3600.0, ge=0)  # seconds: the doubling stops there
    retry_for: timedelta = timedelta(hours=24)  # a 4xx is retried this long, then it fails
    journal_fsync: bool = False  # flush the journal of accepted messages to disk at each one
    max_html_bytes: int = Field(102 * 1024, ge=1)  # Gmail clips larger messages
    list_id: str | None = None  # default: derived from site.url
    unsubscribe_mailto: str | None = None  # default: site.email; only with bounce_source
    feedback_id: str | None = None  # Feedback-ID header of the digest (Gmail's feedback loop)
    dkim_key: str | None = None  # PEM private key file; signing is on when set
    dkim_selector: str = "publisher"
    dkim_domain: str | None = None  # default: the From domain
    bounce_threshold: int = Field(3, ge=1)  # hard bounces before a subscriber is bounced
    bounce_source: str | None = None  # Maildir or mbox path, or imap(s)://user@host/FOLDER
    dns_server: str | None = None  # HOST:PORT the doctor asks; default: the system resolver
    doctor: bool = True  # run `publisher doctor`'s offline checks before every send

    @field_validator("dns_server")
    @classmethod
    def _dns_server(cls, v: str | None) -> str | None:
        if v is None:
            return v
        host, _, port = v.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:53")
        return v

    @field_validator("retry_for", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        from publisher.cron import parse_duration

        return parse_duration(v)

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, v: str | None) -> str | None:
        if v and not v.startswith(("smtp://", "smtps://")):
            raise ValueError("must start with smtp:// or smtps://")
        return v


class Web(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    confirm_hours: int = Field(48, ge=1)  # a confirmation link expires after this
    subscribe_rate: int = Field(5, ge=1)  # subscribe attempts per client address per minute
    keep_client_address: Literal["kept", "hashed", "no"] = "hashed"  # in the opt-in record
    mailbox_per_hour: int = Field(3, ge=1)  # confirmation mails to one mailbox per hour
    confirmations_per_hour: int = Field(200, ge=1)  # confirmation mails to anyone per hour
    trusted_proxies: tuple[str, ...] = ()  # addresses/networks whose X-Forwarded-For is believed
    max_body: int = Field(64 * 1024, ge=1024)  # bytes of a request body; larger ones get 413
    body_timeout: float = Field(10.0, gt=0)  # seconds to send a whole body; slower ones get 408
    keep_alive: float = Field(5.0, gt=0)  # seconds an idle connection is kept open
    max_connections: int = Field(200, ge=1)  # concurrent connections; more get 503

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        import ipaddress

        for entry in v:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return v


class Schedule(_Section):
    """APScheduler jobs in crontab syntax, in the site's time zone (`publisher run`).

    5 fields (minute hour day month weekday), 6 with seconds first, or @hourly/@daily/@weekly;
    null disables a job."""

    build: str | None = "*/15 * * * *"  # rebuild feeds and pages (also on every file change)
    newsletter: str | None = "0 8 * * mon"  # send the digest, when there is something new
    grace: timedelta = timedelta(hours=6)  # a slot missed while down runs once on start within this
    min_articles: int = Field(1, ge=1)  # new articles a digest needs, else it waits
    debounce: timedelta = timedelta(seconds=1)  # quiet time after a change before rebuilding
    takeover: timedelta = timedelta(seconds=15)  # a standby `run` schedules this soon after the active one dies

    @field_validator("build", "newsletter")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        from publisher.cron import cron_trigger

        if v is not None:
            cron_trigger(v)  # raises ValueError naming what is wrong
        return v

    @field_validator("grace", "debounce", "takeover", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        from publisher.cron import parse_duration

        return parse_duration(v)
