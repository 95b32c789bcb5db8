"""The public server against a stranger, over real HTTP (uvicorn on 127.0.0.1 with the settings
of `publisher serve`): spoofed proxies, mail bombs through +tags, huge and slow bodies, a
hanging mail server, and the timing of the answer to a known or an unknown address."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timezone

import httpx
import pytest
from delivery_fixtures import LiveServer, write_articles
from test_web import mails, settled

from publisher.store import open_store
from publisher.web.app import create_app

NOW = datetime.now(timezone.utc)


def serve(project, extra: str = "", **options):
    """(server, client, store) for the project's site with `extra` config, as `publisher serve`."""
    write_articles(project.root / "content", NOW)
    (project.root / "public" / "static").mkdir(parents=True)
    (project.root / "public" / "index.html").write_text("<h1>Home</h1>" + "x" * 2000,
                                                        encoding="utf-8")
    (project.root / "public" / "static" / "style.css").write_text("body{}", encoding="utf-8")
    (project.root / "public" / "2024").mkdir()
    (project.root / "public" / "2024" / "index.html").write_text("<h1>2024</h1>", encoding="utf-8")
    project.write(f"paths:\n  content: {project.root / 'content'}\n"
                  f"  output: {project.root / 'public'}\n{extra}")
    config = project.config()
    store = open_store(config)
    server = LiveServer(create_app(config, store=store), config, **options)
    return server, store


@pytest.fixture
def site(project):
    server, store = serve(project)
    with server, httpx.Client(base_url=server.url) as client:
        client.store, client.project, client.port = store, project, server.port
        yield client


def test_a_spoofed_x_forwarded_for_does_not_lift_the_limit(site):
    codes = [site.post("/subscribe", data={"email": f"s{i}@example.org"},
                       headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(8)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3


def test_x_forwarded_for_is_believed_from_a_trusted_proxy(project):
    server, store = serve(project, "web:\n  trusted_proxies: [127.0.0.1/32]\n")
    with server, httpx.Client(base_url=server.url) as client:
        spoofed = [client.post("/subscribe", data={"email": f"t{i}@example.org"},
                               headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
                   for i in range(8)]  # each a different client behind our proxy
        assert spoofed == [200] * 8
        # the client wrote the left hops: only the one our proxy added counts
        same = [client.post("/subscribe", data={"email": f"u{i}@example.org"},
                            headers={"X-Forwarded-For": f"10.9.9.{i}, 203.0.113.7"}).status_code
                for i in range(7)]
        assert same[:5] == [200] * 5 and same[5:] == [429, 429]


def test_twenty_tag_variants_of_one_mailbox_get_at_most_three_mails(project):
    server, store = serve(project, "web:\n  subscribe_rate: 100\n")
    with server, httpx.Client(base_url=server.url) as client:
        answers = {client.post("/subscribe", data={"email": f"Victim+{i}@Example.org"}).text
                   for i in range(20)}
        answers |= {client.post("/subscribe", data={"email": address}).text for address in
                    ("v.i.ctim@gmail.com", "VICTIM+x@googlemail.com", "victim@gmail.com",
                     "vic.tim+1@gmail.com")}
        assert len(answers) == 1  # the same page, whatever the limits decided
        sent = mails(project, store)
        to_example = [m for m in sent if m["To"].addresses[0].domain == "example.org"]
        to_gmail = [m for m in sent if m["To"].addresses[0].domain != "example.org"]
        assert len(to_example) == 3 and len(to_gmail) == 3


def test_the_global_cap_of_confirmations_an_hour(project):
    server, store = serve(project, "web:\n  subscribe_rate: 100\n  confirmations_per_hour: 4\n")
    with server, httpx.Client(base_url=server.url) as client:
        for i in range(7):
            client.post("/subscribe", data={"email": f"person{i}@example.org"})
        assert len(mails(project, store)) == 4


def _raw(port: int, head: bytes, body: bytes = b"", read_timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.settimeout(read_timeout)
        conn.sendall(head + body)
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    return answer


def test_a_5_mb_body_is_refused_before_it_is_read(site):
    head = (b"POST /unsubscribe HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 5242880\r\n\r\n")
    started = time.perf_counter()
    answer = _raw(site.port, head, b"token=" + b"a" * 1000)  # the rest is never sent
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert time.perf_counter() - started < 2  # answered without waiting for 5 MB


def test_a_streamed_body_is_counted_as_it_comes(site):
    head = (b"POST /subscribe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (16384, b"a" * 16384)
    answer = _raw(site.port, head, chunk * 6 + b"0\r\n\r\n")  # 96 KB, no length
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


def test_a_slow_body_is_cut_off(project):
    server, store = serve(project, "web:\n  body_timeout: 0.5\n")
    with server:
        head = (b"POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n\r\nemail=")
        started = time.perf_counter()
        answer = _raw(server.port, head)  # and then nothing
        assert answer.startswith(b"HTTP/1.1 408 ") and time.perf_counter() - started < 3


def test_security_headers_on_every_page(site):
    for path, form in [("/", False), ("/2024/", False), ("/static/style.css", False),
                       ("/missing", False), ("/subscribe", True), ("/confirm?token=x", True),
                       ("/unsubscribe?token=x", True), ("/preferences?token=x", True)]:
        answer = site.get(path)
        csp = answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert "referrer-policy" in answer.headers and "script-src" in csp or form, path
        assert "'unsafe-inline'" not in csp.split("script-src")[-1].split(";")[0], path
        if form:
            assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, path
            assert answer.headers["referrer-policy"] == "no-referrer"  # tokens in the URL
            assert "<script" not in answer.text
    assert site.get("/static/style.css").headers["cache-control"].startswith("public, max-age=")
    assert site.get("/").headers["cache-control"] == "no-cache"  # revalidated with its ETag
    assert site.get("/subscribe").headers["cache-control"] == "no-store"


def test_text_is_gzipped_when_the_client_accepts_it(site):
    raw = httpx.get(f"http://127.0.0.1:{site.port}/", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip" and "Home" in raw.text
    plain = httpx.get(f"http://127.0.0.1:{site.port}/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers


def test_nothing_under_a_dot_is_served(site):
    public = site.project.root / "public"
    (public / ".git").mkdir()
    (public / ".git" / "config").write_text("[remote] token", encoding="utf-8")
    (public / ".env").write_text("SECRET=1", encoding="utf-8")
    (public / ".index.html.tmp123").write_text("<h1>half", encoding="utf-8")
    for path in ("/.env", "/.git/config", "/.index.html.tmp123", "/.anything", "/%2eenv",
                 "/2024/../.env", "/.well-known/x"):
        answer = site.get(path)
        assert answer.status_code == 404 and "SECRET" not in answer.text, path


def test_a_redirect_is_built_from_site_url_not_from_host(site):
    answer = site.get("/2024", headers={"Host": "evil.example"})
    assert answer.status_code in (301, 307)
    assert answer.headers["location"] == "https://news.example.org/2024/"


class HangingSmtp:
    """A mail server that accepts connections and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(100)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_pages_stay_fast_while_the_mail_server_hangs(project):
    smtp = HangingSmtp()
    server, store = serve(project, f"mail:\n  smtp_url: smtp://127.0.0.1:{smtp.port}\n"
                                   "  timeout: 30\nweb:\n  subscribe_rate: 1000\n")
    try:
        with server, httpx.Client(base_url=server.url, timeout=10) as client:
            slowest = 0.0
            for i in range(45):
                started = time.perf_counter()
                answer = client.post("/subscribe", data={"email": f"h{i}@example.org"})
                slowest = max(slowest, time.perf_counter() - started)
                assert answer.status_code == 200
            pages = []
            for path in ("/", "/subscribe", "/static/style.css"):
                started = time.perf_counter()
                assert client.get(path).status_code == 200
                pages.append(time.perf_counter() - started)
            assert slowest < 0.5 and max(pages) < 0.5, (slowest, pages)
    finally:
        smtp.close()


def test_every_address_costs_the_request_the_same_statements(project):
    """Same answer, same work: the request runs the same SQL whoever the address is, so its
    time tells nothing (measured by bench/subscribe_timing.py: within a millisecond)."""
    from sqlalchemy import event

    server, store = serve(project, "web:\n  subscribe_rate: 10000\n", lifespan="off")
    store.add_subscriber("active@example.org", "", [], "active", NOW)
    store.add_subscriber("pending@example.org", "", [], "pending", NOW)
    store.add_subscriber("gone@example.org", "", [], "bounced", NOW)
    seen: list[str] = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda conn, cursor, sql, *args: seen.append(" ".join(sql.split()[:3])))
    done, answers = {}, set()
    with server, httpx.Client(base_url=server.url) as client:
        for address in ("new@example.org", "active@example.org", "pending@example.org",
                        "gone@example.org"):
            seen.clear()
            answer = client.post("/subscribe", data={"email": address})
            answers.add((answer.status_code, answer.text))
            done[address] = list(seen)
    assert len(answers) == 1
    statements = {tuple(s for s in v if not s.startswith("BEGIN")) for v in done.values()}
    assert statements == {("INSERT INTO notices",)}, done


def test_the_sender_applies_the_request_and_purges_expired_pending(project):
    server, store = serve(project)
    with server, httpx.Client(base_url=server.url) as client:
        client.post("/subscribe", data={"email": "late@example.org", "categories": ["Tech"]})
        settled(store)
        assert store.get_subscriber("late@example.org").status == "pending"
    from datetime import timedelta

    later = datetime.now(timezone.utc) + timedelta(hours=49)
    gone, expired = store.purge(later - timedelta(hours=2), later - timedelta(hours=48))
    assert (gone, expired) == (1, 1) and store.get_subscriber("late@example.org") is None


def test_slow_or_silent_clients_are_cut_off(project):
    server, store = serve(project, "web:\n  body_timeout: 0.5\n  keep_alive: 0.5\n")
    with server:
        for opening in (b"", b"GET / HTTP/1.1\r\nHost: x\r\n"):  # silent; headers never end
            started = time.perf_counter()
            answer = _raw(server.port, opening, read_timeout=5)
            assert time.perf_counter() - started < 2.5 and b"200 OK" not in answer
        # a finished request, then a second one dribbled on the same connection
        with socket.create_connection(("127.0.0.1", server.port)) as conn:
            conn.settimeout(5)
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            first = b""
            while not first.endswith(b"x" * 2000):  # the whole of index.html
                first += conn.recv(65536)
            assert b"200 OK" in first
            conn.sendall(b"GET / HTTP/1.1\r\n")
            started = time.perf_counter()
            assert conn.recv(65536) == b"" and time.perf_counter() - started < 2.5


def test_headers_that_never_end_are_refused_at_16_kb(site):
    answer = _raw(site.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2_000_000)
    assert answer.startswith(b"HTTP/1.1 400") or answer == b""
