"""Send one issue to N subscribers through the whole path (ledger + SMTP) into a local sink,
and, in the same run, measure the sink's own limit with pre-built messages over the same
number of reused connections.

    python bench/send.py [--subscribers 20000] [--connections 4] [--processes 1] [--repeat 3]
                         [--kb 50] [--db URL]

Each run sends a fresh issue (new articles) and blasts as many pre-built messages just before
and just after it; the limit is the mean of the two blasts, the ratio end to end / limit, and
the median ratio of the runs is the result (other load on the machine comes and goes).

The sink runs in its own process: a minimal asyncio SMTP server that reads DATA in bulk
(aiosmtpd's default handler tops out near 300 messages/s, too slow to measure anything).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
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


class _Item:
    """What the blast hands the send's worker in place of a Delivery."""

    __slots__ = ("email", "i")

    def __init__(self, email: str, i: int):
        self.email, self.i = email, i


def _blast_connections(port: int, sample: list, numbers: range, connections: int) -> None:
    """Messages `numbers` over `connections` reused connections with the send's own SMTP
    client: publisher.mail.pipelining's worker, one thread driving every connection, pipelined
    (the threaded lock-step client when the sink offered no PIPELINING). Message i is
    sample[i % len(sample)] (pre-built messages cycled: memory stays bounded); they are
    handed over in chunks kept a little ahead, as the send's ledger loop does."""
    import queue

    from publisher.mail.pipelining import pipelined_connection, pipelined_worker
    from publisher.mail.sending import RateLimiter
    from publisher.mail.sending import threaded_worker as _worker
    from publisher.mail.smtp import SmtpSettings, SmtpTransport

    transport = SmtpTransport(SmtpSettings("127.0.0.1", port))
    work: queue.Queue = queue.Queue()
    results: queue.Queue = queue.Queue()
    compose = lambda item: sample[item.i % len(sample)]  # noqa: E731
    args = (transport, "news@example.org", compose, work, results, RateLimiter(0))
    first = pipelined_connection(transport)
    if first is not None:
        threads = [threading.Thread(target=pipelined_worker,
                                    args=(transport, first, *args[1:], connections))]
    else:
        threads = [threading.Thread(target=_worker, args=args) for _ in range(connections)]
    for t in threads:
        t.start()
    fed = done = 0
    while done < len(numbers):
        while fed < len(numbers) and fed - done < 500:
            work.put([_Item(f"sink{i}@example.org", i) for i in numbers[fed:fed + 25]])
            fed += 25
        outcomes = results.get()
        assert all(kind == "sent" for kind, _, _ in outcomes), outcomes[:1]
        done += len(outcomes)
    for _ in threads:
        work.put(None)
    for t in threads:
        t.join()


def blast(port: int, sample: list, total: int, connections: int, processes: int = 1) -> float:
    """`total` pre-built messages over `connections` reused connections, the same SMTP client
    and layout as the send (so only the sink and the wire limit it, as far as one client
    can): messages/s. With processes > 1, the connections are shared out between as many
    forked processes, as the send's (mail.processes)."""
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]
    parts = [range(p, total, processes) for p in range(processes)]
    start = time.perf_counter()
    if processes == 1:
        _blast_connections(port, sample, parts[0], connections)
    else:
        ctx = mp.get_context("fork")
        procs = [ctx.Process(target=_blast_connections, args=(port, sample, parts[p], shares[p]))
                 for p in range(processes)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
            assert p.exitcode == 0, p.exitcode
    return total / (time.perf_counter() - start)


# -- the project ------------------------------------------------------------------------------


def write_articles(content: Path, kb: int, tag: str) -> None:
    """Eight articles of about `kb` KB in all, just published: the next issue's content."""
    now = datetime.now(timezone.utc)
    paragraph = ("Le conseil municipal a adopté le budget après un long débat sur les écoles, "
                 "les transports et la rénovation des équipements sportifs du quartier. ") * 6
    articles = 8
    per_article = max(1, (kb * 1024) // (articles * len(paragraph) * 2))
    for i in range(articles):
        body = "\n\n".join(paragraph for _ in range(per_article))
        (content / f"{tag}-a{i}.md").write_text(
            f"---\ntitle: \"Article numéro {i}\"\n"
            f"date: {(now - timedelta(seconds=i + 1)).isoformat()}\n"
            f"category: {'Ville' if i % 2 else 'Culture'}\n---\n\n{body}\n", encoding="utf-8")


def make_project(root: Path, port: int, connections: int, processes: int, db: str | None) -> Path:
    content = root / "content"
    content.mkdir(parents=True)
    cfg = root / "config.yaml"
    cfg.write_text(
        "site:\n  url: https://news.example.org/\n  title: Bench News\n  email: news@example.org\n"
        f"paths:\n  content: {content}\n  var: {root / 'var'}\n  output: {root / 'public'}\n"
        "newsletter:\n  content: full\n"
        f"mail:\n  transport: smtp\n  host: 127.0.0.1\n  port: {port}\n"
        f"  connections: {connections}\n"
        + (f"  processes: {processes}\n" if processes != 1 else "")
        + "  batch_size: 500\n  max_html_bytes: 1000000\n"
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


def cpu_here() -> float:
    """CPU seconds of this process (every thread) and of its children that have ended."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def peak_child_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


@dataclass
class Run:
    limits: tuple[float, float]  # the blast before and after the send: messages/s
    rate: float  # end to end: messages/s
    sending: float  # of which claim, personalise, SMTP, mark: messages/s
    elapsed: float
    cpu: float  # sender CPU per message, s (children included)
    blast_cpu: float  # the blast's client CPU per message, s
    sink_blast: float  # the sink's share of one core during the blasts
    sink_send: float  # and during the send
    rss: tuple[float, float]  # MB before and after the send

    @property
    def limit(self) -> float:
        return sum(self.limits) / 2

    @property
    def ratio(self) -> float:
        return self.rate / self.limit


def one_run(n: int, args, config, store, sink, counter, tokens) -> Run:
    from publisher.content import load_articles
    from publisher.mail.transport import make_transport
    from publisher.newsletter import campaign
    from publisher.newsletter.issue import plan_issue, render_issue
    from publisher.newsletter.personalise import Recipient, compile_issue

    write_articles(config.path("content"), args.kb, f"run{n}")
    now = datetime.now(timezone.utc)
    articles = load_articles(config).published(now)
    last = store.last_issue()
    plan = plan_issue(articles, last.created if last else None, n + 1, now, config,
                      sent=store.sent_article_ids() if last else frozenset())
    # the limit: this issue's messages pre-built as the send makes them (pieces and their
    # DATA form, see mail.message.Prepared), 5,000 of them cycled, as many as the send sends, over
    # the same processes x connections with the same client
    compiled = compile_issue(render_issue(plan, config), config)
    sample = [compiled.prepared(Recipient(email=f"r{i}@example.org", name=f"Lecteur {i}",
                                          unsubscribe_url="https://news.example.org/u?t=x"))
              for i in range(min(5000, args.subscribers))]
    limits, blast_cpu, sink_blast, blast_time = [], 0.0, 0.0, 0.0

    def measure_limit() -> None:
        nonlocal blast_cpu, sink_blast, blast_time
        cpu, sink_cpu, start = cpu_here(), cpu_of(sink.pid), time.perf_counter()
        limits.append(blast(sink.port, sample, args.subscribers, args.connections,
                            args.processes))
        blast_cpu += cpu_here() - cpu
        sink_blast += cpu_of(sink.pid) - sink_cpu
        blast_time += time.perf_counter() - start

    measure_limit()
    counter.value = 0
    rss_before = rss_mb()
    start, cpu, sink_cpu = time.perf_counter(), cpu_here(), cpu_of(sink.pid)
    outcome = campaign.send_newsletter(config, store, make_transport(config), tokens, articles,
                                       datetime.now(timezone.utc))
    elapsed, cpu = time.perf_counter() - start, cpu_here() - cpu
    sink_send = (cpu_of(sink.pid) - sink_cpu) / elapsed
    [(issue, report)] = outcome.reports
    assert report.sent == args.subscribers == counter.value, (report, counter.value)
    rss_after = rss_mb()
    measure_limit()
    return Run(limits=(limits[0], limits[1]), rate=report.sent / elapsed,
               sending=report.sent / report.elapsed, elapsed=elapsed, cpu=cpu / report.sent,
               blast_cpu=blast_cpu / (2 * args.subscribers), sink_blast=sink_blast / blast_time,
               sink_send=sink_send, rss=(rss_before, rss_after))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subscribers", type=int, default=20_000)
    ap.add_argument("--connections", type=int, default=4,
                    help="in all (mail.connections), shared out between the processes")
    ap.add_argument("--processes", type=int, default=1,
                    help="sender processes (mail.processes); the blast uses as many")
    ap.add_argument("--repeat", type=int, default=3, help="runs of blast, send, blast")
    ap.add_argument("--kb", type=int, default=50, help="approximate size of each message")
    ap.add_argument("--db", default=None, help="database URL (default: SQLite in a temp folder)")
    args = ap.parse_args()

    from publisher.audience.tokens import Tokens
    from publisher.config import load_config
    from publisher.store import open_store

    port = free_port()
    counter, ready = mp.Value("q", 0), mp.Event()
    sink = mp.Process(target=_sink, args=(port, counter, ready), daemon=True)
    sink.start()
    sink.port = port  # type: ignore[attr-defined]
    ready.wait(10)
    root = Path(tempfile.mkdtemp(prefix="publisher-bench-"))
    try:
        config = load_config(make_project(root, port, args.connections, args.processes, args.db),
                             env={})
        store = open_store(config)
        add_subscribers(store, args.subscribers)
        tokens = Tokens("bench-secret")
        print(f"{args.subscribers} messages of about {args.kb} KB a run, {args.processes} "
              f"process(es), {args.connections} connections, {store.engine.dialect.name}; "
              "each run: blast, send, blast (the limit: their mean)")
        runs = []
        for n in range(args.repeat):
            r = one_run(n, args, config, store, sink, counter, tokens)
            runs.append(r)
            print(f"run {n + 1}: limit {r.limits[0]:5.0f} / {r.limits[1]:5.0f} -> {r.limit:5.0f}/s, "
                  f"end to end {r.rate:5.0f}/s ({r.elapsed:.1f} s; sending alone {r.sending:.0f}/s)"
                  f", ratio {r.ratio:4.0%} | client CPU {r.cpu * 1e6:3.0f} us/msg "
                  f"(blast {r.blast_cpu * 1e6:3.0f}) | sink CPU {r.sink_send:4.0%} of a core "
                  f"(blast {r.sink_blast:4.0%}) | RSS {r.rss[0]:.0f} -> {r.rss[1]:.0f} MB",
                  flush=True)
        mid = statistics.median
        print(f"median ratio      {mid(r.ratio for r in runs):8.0%} of the sink's limit "
              f"(runs: {', '.join(f'{r.ratio:.0%}' for r in runs)})")
        print(f"median end to end {mid(r.rate for r in runs):8.0f} messages/s "
              f"({mid(r.rate for r in runs) / 100:.1f}x listmonk's default 100/s); "
              f"limit {mid(r.limit for r in runs):.0f}/s")
        print(f"client CPU        {mid(r.cpu for r in runs) * 1e6:8.0f} us per message "
              f"(the blast: {mid(r.blast_cpu for r in runs) * 1e6:.0f} us)")
        print(f"sink CPU          {mid(r.sink_send for r in runs):8.0%} of one core during the "
              f"send, {mid(r.sink_blast for r in runs):.0%} during the blasts")
        print(f"memory            {runs[0].rss[0]:.0f} MB before the first send, "
              f"{runs[-1].rss[1]:.0f} MB after the last; largest child {peak_child_mb():.0f} MB")
        store.close()
    finally:
        sink.terminate()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
