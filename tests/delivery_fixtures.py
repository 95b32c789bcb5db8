"""Fixtures of the store, delivery and web tests (issue 5), imported by conftest.py."""

from __future__ import annotations

import asyncio as _asyncio
import os as _os
import uuid as _uuid

import pytest as _pytest

__all__ = ["pg_database_factory", "database_url", "store", "project", "database_line",
           "_drop_throwaway_databases"]


PG_ADMIN_URL = _os.environ.get("PUBLISHER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# PUBLISHER_TEST_DATABASE=postgresql: every test's project uses a throwaway PostgreSQL database
# (the store tests run over both backends either way). PUBLISHER_TEST_REQUIRE_POSTGRES=1 (CI):
# an unreachable server fails the tests that need it instead of skipping them.
TEST_DATABASE = _os.environ.get("PUBLISHER_TEST_DATABASE", "sqlite")
REQUIRE_POSTGRES = _os.environ.get("PUBLISHER_TEST_REQUIRE_POSTGRES", "") not in ("", "0")


def _pg_reachable() -> str | None:
    """None when PostgreSQL answers, else the reason to skip."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    from sqlalchemy.engine import make_url

    url = make_url(PG_ADMIN_URL)
    try:
        psycopg.connect(
            host=url.host, port=url.port or 5432, user=url.username, dbname=url.database,
            connect_timeout=2, autocommit=True,
        ).close()
    except Exception as exc:  # noqa: BLE001 - any failure means: skip
        return f"PostgreSQL not reachable at {url.host}:{url.port}: {str(exc).strip().splitlines()[0]}"
    return None


_made: list[str] = []  # throwaway databases, dropped at the end of the session


def _admin_connection():
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(PG_ADMIN_URL)
    return psycopg.connect(host=admin.host, port=admin.port or 5432, user=admin.username,
                           dbname=admin.database, autocommit=True)


def throwaway_pg_url() -> str:
    """The URL of a new, empty PostgreSQL database."""
    from sqlalchemy.engine import make_url

    name = f"publisher_test_{_uuid.uuid4().hex[:12]}"
    with _admin_connection() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    _made.append(name)
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


_runs: dict[str, int] = {}


def throwaway_database_url(folder, stem: str) -> str:
    """A new, empty database for one run of a state machine: PostgreSQL with
    PUBLISHER_TEST_DATABASE=postgresql, else the next SQLite file `stem`N.db in `folder`."""
    if TEST_DATABASE == "postgresql":
        return throwaway_pg_url()
    folder.mkdir(exist_ok=True)
    _runs[stem] = _runs.get(stem, 0) + 1
    return f"sqlite:///{folder / f'{stem}{_runs[stem]}.db'}"


__all__ += ["throwaway_database_url"]


_by_folder: dict[str, str] = {}


def database_line(folder) -> str:
    """The `database_url:` line of the config.yaml in `folder`: a throwaway PostgreSQL
    database (the same each time for one folder) with PUBLISHER_TEST_DATABASE=postgresql,
    else nothing (SQLite under paths.var)."""
    if TEST_DATABASE != "postgresql":
        return ""
    if str(folder) not in _by_folder:
        _by_folder[str(folder)] = throwaway_pg_url()
    return f"database_url: {_by_folder[str(folder)]}\n"


@_pytest.fixture(scope="session", autouse=True)
def _drop_throwaway_databases():
    yield
    if _made:
        with _admin_connection() as conn:
            for name in _made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@_pytest.fixture(scope="session")
def pg_database_factory():
    """Create throwaway PostgreSQL databases; every one is dropped at the end of the session."""
    reason = _pg_reachable()
    if reason and REQUIRE_POSTGRES:
        _pytest.fail(f"{reason} (PUBLISHER_TEST_REQUIRE_POSTGRES is set)", pytrace=False)
    if reason:
        _pytest.skip(f"{reason} (set PUBLISHER_TEST_PG to an admin URL, or start PostgreSQL)")
    return throwaway_pg_url


@_pytest.fixture(params=["sqlite", _pytest.param("postgresql", marks=_pytest.mark.postgres)])
def database_url(request, tmp_path):
    """The same store tests over every backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'publisher.db'}"
    return request.getfixturevalue("pg_database_factory")()


@_pytest.fixture
def store(database_url):
    from publisher.store import Store
    from publisher.store.engine import make_engine, migrate

    engine = make_engine(database_url)
    migrate(engine)
    yield Store(engine)
    engine.dispose()


@_pytest.fixture
def project(request, tmp_path, monkeypatch):
    """A project folder with a config.yaml whose var/ and database live under tmp_path (or a
    throwaway PostgreSQL database, with PUBLISHER_TEST_DATABASE=postgresql).

    `project.write(extra_yaml)` rewrites config.yaml; `project.config()` loads it.
    """
    from publisher.config import load_config

    db = ""
    if TEST_DATABASE == "postgresql" or request.node.get_closest_marker("postgres"):
        db = f"database_url: {request.getfixturevalue('pg_database_factory')()}\n"

    class Project:
        root = tmp_path
        path = tmp_path / "config.yaml"
        database = db

        def write(self, extra: str = "") -> "Project":
            if extra and not extra.endswith("\n"):
                extra += "\n"
            self.path.write_text(
                "site:\n  url: https://news.example.org/\n  title: Example News\n"
                "  email: news@example.org\n" + extra + self.database, encoding="utf-8")
            return self

        def config(self):
            return load_config(self.path, env={})

    for var in ("PUBLISHER_DATABASE_URL", "PUBLISHER_SMTP_URL", "PUBLISHER_SMTP_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", "test-secret-0123456789abcdefghijklmnopqrstuvwxyz")
    monkeypatch.setenv("PUBLISHER_CONFIG", str(tmp_path / "config.yaml"))
    return Project().write()


class RecordingHandler:
    """An aiosmtpd handler that keeps every message and fails on demand.

    `fail_every=N`: every Nth DATA answers 451; `drop_every=N`: every Nth DATA drops the
    connection instead; `reject`: recipients refused with 550 at RCPT.
    """

    def __init__(self):
        import threading

        self.messages: list[tuple[str, bytes]] = []  # (recipient, data)
        self.fail_every = self.drop_every = 0
        self.reject: set[str] = set()
        self.count = 0
        self.delay = 0.0  # seconds to wait before answering DATA
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        with self.lock:
            self.count += 1
            n = self.count
        if self.drop_every and n % self.drop_every == 0:
            server.transport.close()
            return "421 dropped"
        if self.fail_every and n % self.fail_every == 0:
            return "451 4.3.0 try again later"
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.messages.append((rcpt, envelope.original_content or envelope.content))
        return "250 Message accepted"

    def by_recipient(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for rcpt, _ in self.messages:
            counts[rcpt] = counts.get(rcpt, 0) + 1
        return counts


@_pytest.fixture
def smtp_server():
    """A real aiosmtpd server on loopback; yields (handler, port)."""
    import socket

    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port, data_size_limit=0)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


class PipeliningServer:
    """A small SMTP server on loopback that offers PIPELINING (RFC 2920), as Postfix, Exim or
    SES do, and answers each command in order: aiosmtpd does not offer it. Same knobs as
    RecordingHandler, plus: `mail` / `data` (a reply to every MAIL FROM / DATA command instead
    of 250 / 354), `defer` (recipients answered 451 at RCPT, the first time each), `silent`
    (recipients whose message gets no answer: the connection hangs), and
    `pipelining=False` to offer nothing (lock-step), `greeting` (None: new connections are
    never greeted, they hang) and `max_sessions` (connections beyond it, open at once, get
    "421 too many connections"). `groups` counts MAIL, RCPT and DATA
    received in one read; messages are kept with the dot-stuffing undone."""

    def __init__(self, pipelining: bool = True):
        import threading

        self.pipelining = pipelining
        self.messages: list[tuple[str, bytes]] = []  # (recipient, data)
        self.fail_every = self.drop_every = 0
        self.reject: set[str] = set()
        self.defer: set[str] = set()
        self.silent: set[str] = set()
        self.deferred: set[str] = set()
        self.mail = self.data = ""
        self.greeting: str | None = "220 127.0.0.1 ESMTP test"
        self.max_sessions = self.sessions = 0
        self.connections = 0  # connections opened so far
        self.count = self.groups = 0
        self.delay = 0.0  # unused; RecordingHandler's interface
        self.lock = threading.Lock()

    def by_recipient(self) -> dict[str, int]:
        return RecordingHandler.by_recipient(self)  # type: ignore[arg-type]

    def start(self) -> PipeliningServer:
        import asyncio
        import threading

        self.loop = asyncio.new_event_loop()
        server = self.loop.run_until_complete(
            self.loop.create_server(lambda: _PipeliningSession(self), "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = server
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class _PipeliningSession(_asyncio.Protocol):
    def __init__(self, server: PipeliningServer):
        self.server, self.buffer, self.closed = server, b"", False
        self.sender: str | None = None
        self.rcpts: list[str] = []
        self.in_data = False
        self.hung = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        server = self.server
        server.sessions += 1
        server.connections += 1
        if server.max_sessions and server.sessions > server.max_sessions:
            self.reply("421 4.7.0 too many connections")
        elif server.greeting is None:
            self.hung = True
        else:
            transport.write(server.greeting.encode() + b"\r\n")

    def connection_lost(self, exc) -> None:
        self.closed = True
        self.server.sessions -= 1

    def data_received(self, chunk: bytes) -> None:
        if self.hung:
            return
        self.buffer += chunk
        verbs = []
        while not self.closed and not self.hung:
            if self.in_data:
                if self.buffer.startswith(b".\r\n"):
                    body, self.buffer = b"", self.buffer[3:]
                else:
                    end = self.buffer.find(b"\r\n.\r\n")
                    if end < 0:
                        break
                    body, self.buffer = self.buffer[:end + 2], self.buffer[end + 5:]
                self.in_data = False
                self.message(b"\r\n".join(line[1:] if line.startswith(b".") else line
                                           for line in body.split(b"\r\n")))
                continue
            line, found, rest = self.buffer.partition(b"\r\n")
            if not found:
                break
            self.buffer = rest
            verbs.append(line[:4].upper())
            self.command(line)
        if b"MAIL" in verbs and b"DATA" in verbs:
            with self.server.lock:
                self.server.groups += 1

    def reply(self, text: str) -> None:
        self.transport.write(text.encode() + b"\r\n")
        if text.startswith("421"):  # closing the channel, as RFC 5321 has it
            self.transport.close()
            self.closed = True

    def command(self, line: bytes) -> None:
        server, verb = self.server, line[:4].upper()
        arg = line[5:].decode("utf-8", "replace")
        if verb == b"EHLO":
            offer = "250-PIPELINING\r\n" if server.pipelining else ""
            self.reply(f"250-127.0.0.1\r\n{offer}250-8BITMIME\r\n250 SIZE 0")
        elif verb == b"HELO":
            self.reply("250 127.0.0.1")
        elif verb == b"MAIL":
            if server.mail:
                self.reply(server.mail)
            else:
                self.sender, self.rcpts = arg, []
                self.reply("250 OK")
        elif verb == b"RCPT":
            address = arg.partition("<")[2].partition(">")[0]
            if self.sender is None:
                self.reply("503 5.5.1 MAIL first")
            elif address in server.reject:
                self.reply("550 5.1.1 no such user here")
            elif address in server.defer and address not in server.deferred:
                server.deferred.add(address)
                self.reply("451 4.2.0 greylisted, try again later")
            else:
                self.rcpts.append(address)
                self.reply("250 OK")
        elif verb == b"DATA":
            if server.data:
                with server.lock:
                    server.count += 1
                self.reply(server.data)
            elif self.sender is None or not self.rcpts:
                self.reply("554 5.5.1 no valid recipients")
            else:
                self.in_data = True
                self.reply("354 go ahead")
        elif verb == b"RSET":
            self.sender, self.rcpts = None, []
            self.reply("250 OK")
        elif verb == b"QUIT":
            self.reply("221 bye")
            self.transport.close()
            self.closed = True
        else:
            self.reply("250 OK")

    def message(self, data: bytes) -> None:
        server = self.server
        rcpts, self.sender, self.rcpts = self.rcpts, None, []
        with server.lock:
            server.count += 1
            n = server.count
        if server.silent.intersection(rcpts):
            self.hung = True
            return
        if server.drop_every and n % server.drop_every == 0:
            self.transport.close()
            self.closed = True
            return
        if server.fail_every and n % server.fail_every == 0:
            self.reply("451 4.3.0 try again later")
            return
        with server.lock:
            server.messages.extend((rcpt, data) for rcpt in rcpts)
        self.reply("250 Message accepted")


@_pytest.fixture
def pipelining_server():
    """A real SMTP server on loopback that offers PIPELINING (see PipeliningServer)."""
    server = PipeliningServer().start()
    yield server
    server.stop()


__all__ += ["PipeliningServer", "pipelining_server"]


def write_articles(folder, now, count: int = 2, categories=("Tech", "Art")) -> None:
    """`count` Markdown articles published in the last hours, in turn in each category."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        when = now.replace(microsecond=0) - __import__("datetime").timedelta(hours=i + 1)
        (folder / f"article-{i}.md").write_text(
            f"---\ntitle: \"Article {i} é\"\ndate: {when.isoformat()}\n"
            f"category: {categories[i % len(categories)]}\nsummary: \"Summary {i}\"\n---\n\n"
            f"Body of article {i}.\n", encoding="utf-8")


__all__ += ["smtp_server", "RecordingHandler", "write_articles"]

# Three rhythms and a default: the web and CLI tests of issue 17.
RHYTHMS = """newsletter:
  rhythms:
    instant: on-publish
    daily: "0 7 * * *"
    weekly: "0 8 * * mon"
  default_rhythm: weekly
"""


class LiveServer:
    """A Starlette app served by a real uvicorn on a free loopback port, in a thread."""

    def __init__(self, app=None, config=None, **options):
        """With `config`: the settings `publisher serve` uses (publisher.web.server)."""
        import socket

        self.config, self.options = config, options

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app  # may be set later, once the app knows the URL it is served at

    def __enter__(self) -> "LiveServer":
        import threading
        import time

        import uvicorn

        if self.config is not None:
            from publisher.web.server import uvicorn_config

            settings = uvicorn_config(self.app, self.config, "127.0.0.1", self.port, **self.options)
        else:
            settings = uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                      log_level="warning", **self.options)
        self.server = uvicorn.Server(settings)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def serve_project(project, now, extra: str = ""):
    """The project's web app (with articles published before `now` and `extra` config) on a
    LiveServer: yields an httpx client that also carries `.store` and `.project`."""
    import httpx

    from publisher.store import open_store
    from publisher.web.app import create_app

    write_articles(project.root / "content", now)
    (project.root / "public").mkdir(exist_ok=True)
    project.write(f"paths:\n  content: {project.root / 'content'}\n"
                  f"  output: {project.root / 'public'}\n" + extra)
    config = project.config()
    store = open_store(config)
    with LiveServer(create_app(config, store=store)) as server:
        with httpx.Client(base_url=server.url, follow_redirects=True) as client:
            client.store, client.project = store, project
            yield client
