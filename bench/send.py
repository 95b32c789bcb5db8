"""Send one issue to N subscribers through the whole path (ledger + SMTP) into a local sink,
and, in the same run, measure the sink's own limit with pre-built messages over the same
number of reused connections.

    python bench/send.py [--subscribers 20000] [--connections 4] [--kb 50] [--db URL]

The sink runs in its own process: a minimal asyncio SMTP server that reads DATA in bulk
(aiosmtpd's default handler tops out near 300 messages/s, too slow to measure anything).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


# -- the sink ---------------------------------------------------------------------------------


async def _session(reader, writer, counter) -> None:
    writer.write(b"220 sink ESMTP\r\n")
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 0\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await reader.readuntil(b"\r\n.\r\n")
                with counter.get_lock():
                    counter.value += 1
                writer.write(b"250 accepted\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:  # MAIL, RCPT, RSET, NOOP
                writer.write(b"250 OK\r\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    writer.close()


def _sink(port: int, counter, ready) -> None:
    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: _session(r, w, counter), "127.0.0.1",
                                            port, limit=1 << 20)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the sink's limit -------------------------------------------------------------------------


def blast(port: int, messages: list[bytes], connections: int) -> float:
    """Pre-built messages over `connections` reused connections (the same SMTP client as
    the send, so only the sink and the wire limit it): messages/s."""
    chunks = [messages[i::connections] for i in range(connections)]

    from publisher.mailer import SmtpConnection, SmtpSettings

    def run(chunk: list[bytes]) -> None:
        conn = SmtpConnection(SmtpSettings("127.0.0.1", port))
        for i, data in enumerate(chunk):
            conn.send("news@example.org", f"sink{i}@example.org", data)
        conn.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in chunks]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(messages) / (time.perf_counter() - start)


# -- the project ------------------------------------------------------------------------------


def make_project(root: Path, port: int, kb: int, connections: int, db: str | None) -> Path:
    content = root / "content"
    content.mkdir(parents=True)
    now = datetime.now(timezone.utc)
    paragraph = ("Le conseil municipal a adopté le budget après un long débat sur les écoles, "
                 "les transports et la rénovation des équipements sportifs du quartier. ") * 6
    articles = 8
    per_article = max(1, (kb * 1024) // (articles * len(paragraph) * 2))
    for i in range(articles):
        body = "\n\n".join(paragraph for _ in range(per_article))
        (content / f"a{i}.md").write_text(
            f"---\ntitle: \"Article numéro {i}\"\ndate: {(now - timedelta(hours=i + 1)).isoformat()}\n"
            f"category: {'Ville' if i % 2 else 'Culture'}\n---\n\n{body}\n", encoding="utf-8")
    cfg = root / "config.yaml"
    cfg.write_text(
        "site:\n  url: https://news.example.org/\n  title: Bench News\n  email: news@example.org\n"
        f"paths:\n  content: {content}\n  var: {root / 'var'}\n  output: {root / 'public'}\n"
        "newsletter:\n  content: full\n"
        f"mail:\n  transport: smtp\n  host: 127.0.0.1\n  port: {port}\n"
        f"  connections: {connections}\n  batch_size: 500\n  max_html_bytes: 1000000\n"
        + (f"database_url: {db}\n" if db else ""),
        encoding="utf-8")
    return cfg


def add_subscribers(store, count: int) -> None:
    from sqlalchemy import insert

    from publisher.store.tables import subscribers

    now = datetime.now(timezone.utc)
    rows = [dict(email=f"reader{i:06}@example.org", name=f"Lecteur {i}", status="active",
                 categories="[]", created=now, hard_bounces=0) for i in range(count)]
    with store.engine.begin() as conn:
        for i in range(0, count, 5000):
            conn.execute(insert(subscribers), rows[i:i + 5000])


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subscribers", type=int, default=20_000)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--kb", type=int, default=50, help="approximate size of each message")
    ap.add_argument("--db", default=None, help="database URL (default: SQLite in a temp folder)")
    args = ap.parse_args()

    from publisher import campaign
    from publisher.config import load_config
    from publisher.content import load_articles
    from publisher.mailer import make_transport
    from publisher.store import open_store
    from publisher.tokens import Tokens

    port = free_port()
    counter, ready = mp.Value("q", 0), mp.Event()
    sink = mp.Process(target=_sink, args=(port, counter, ready), daemon=True)
    sink.start()
    ready.wait(10)
    root = Path(tempfile.mkdtemp(prefix="publisher-bench-"))
    try:
        config = load_config(make_project(root, port, args.kb, args.connections, args.db), env={})
        store = open_store(config)
        add_subscribers(store, args.subscribers)
        now = datetime.now(timezone.utc)
        articles = load_articles(config).published(now)
        tokens = Tokens("bench-secret")

        # the sink's limit: the same messages, pre-built (as the send makes them: pieces and
        # their DATA form, see mailer.Prepared), over the same connections
        from publisher.newsletter import plan_issue, render_issue
        from publisher.personalise import Recipient, compile_issue

        compiled = compile_issue(render_issue(plan_issue(articles, None, 1, now, config), config), config)
        sample = [compiled.prepared(Recipient(email=f"r{i}@example.org", name=f"Lecteur {i}",
                                              unsubscribe_url="https://news.example.org/u?t=x"))
                  for i in range(min(5000, args.subscribers))]
        size = sum(map(len, sample)) / len(sample)
        blast_cpu, sink_cpu, blast_time = time.process_time(), cpu_of(sink.pid), time.perf_counter()
        limit = blast(port, sample, args.connections)
        blast_cpu = (time.process_time() - blast_cpu) / len(sample)
        sink_blast = (cpu_of(sink.pid) - sink_cpu) / (time.perf_counter() - blast_time)
        del sample

        counter.value = 0
        rss_before = rss_mb()
        start, cpu, sink_cpu = time.perf_counter(), time.process_time(), cpu_of(sink.pid)
        outcome = campaign.send_newsletter(config, store, make_transport(config), tokens, articles,
                                           datetime.now(timezone.utc))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        sink_send = (cpu_of(sink.pid) - sink_cpu) / elapsed
        [(issue, report)] = outcome.reports
        assert report.sent == args.subscribers == counter.value, (report, counter.value)
        rate = report.sent / elapsed
        print(f"messages          {report.sent} of {size / 1024:.1f} KB each, "
              f"{args.connections} connections, {store.engine.dialect.name}")
        print(f"sink limit        {limit:8.0f} messages/s (pre-built, same client and connections)")
        print(f"end to end        {rate:8.0f} messages/s ({elapsed:.1f} s: issue, queue, "
              f"claim, personalise, SMTP, mark)")
        print(f"  of which sending{report.sent / report.elapsed:8.0f} messages/s ({report.elapsed:.1f} s: "
              "claim, personalise, SMTP, mark; the rest is rendering and queueing)")
        print(f"ratio             {rate / limit:8.0%} of the sink's limit "
              f"({rate / 100:.1f}x listmonk's default 100/s)")
        print(f"sender CPU        {cpu / elapsed:8.0%} of one core ({cpu / report.sent * 1e6:.0f} us "
              f"per message; the blast: {blast_cpu * 1e6:.0f} us)")
        print(f"sink CPU          {sink_blast:8.0%} of one core during the blast, "
              f"{sink_send:.0%} during the send")
        print(f"memory            {rss_before:.0f} MB before the send, {rss_mb():.0f} MB after")
        store.close()
    finally:
        sink.terminate()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
