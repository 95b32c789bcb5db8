"""Past one machine: import a million subscribers, queue an issue for all of them, drain the
queue with 1, 2 and 4 `publisher worker` processes into a local sink that accepts and discards.

    python bench/scale.py [--subscribers 1000000] [--workers 1,2,4] [--seconds 20]
                          [--drain-all] [--db URL] [--kb 10] [--connections 4]

Default database: a throwaway PostgreSQL database (PUBLISHER_TEST_PG names the admin URL,
default postgresql+psycopg://postgres@127.0.0.1:5432/postgres), dropped at the end; --db sqlite
uses SQLite in a temp folder. Every step is the real command in its own process:
`publisher subscribers import` (time, peak RSS, and the peak of a 10x smaller import beside it:
flat memory means the same), `publisher newsletter send --queue-only`, then N workers for
--seconds each, in turn (throughput measured at the sink, after the first message). With
--drain-all the largest worker count then drains what is left. The sink's own limit is
measured in the same run: pre-built messages over as many connections as the most workers use.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from send import _sink, blast, free_port  # noqa: E402  (the sink of bench/send.py)

ADMIN = os.environ.get("PUBLISHER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pg_database(create: bool, name: str) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(ADMIN)
    with psycopg.connect(host=admin.host, port=admin.port or 5432, user=admin.username,
                         dbname=admin.database, autocommit=True) as conn:
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')
        else:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return admin.set(database=name).render_as_string(hide_password=False)


def write_csv(path: Path, count: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "name", "categories"])
        for i in range(count):
            writer.writerow([f"Reader.{i:07}@Example.org", f"Lecteur {i}", ""])


def make_project(root: Path, port: int, kb: int, connections: int, db: str) -> Path:
    content = root / "content"
    content.mkdir(parents=True)
    now = datetime.now(timezone.utc)
    paragraph = ("Le conseil municipal a adopté le budget après un long débat sur les écoles, "
                 "les transports et la rénovation des équipements sportifs du quartier. ") * 6
    per_article = max(1, (kb * 1024) // (4 * len(paragraph) * 2))
    for i in range(4):
        body = "\n\n".join(paragraph for _ in range(per_article))
        (content / f"a{i}.md").write_text(
            f"---\ntitle: \"Article {i}\"\ndate: {(now - timedelta(hours=i + 1)).isoformat()}\n"
            f"category: Ville\n---\n\n{body}\n", encoding="utf-8")
    cfg = root / "config.yaml"
    cfg.write_text(
        "site:\n  url: https://news.example.org/\n  title: Bench News\n  email: news@example.org\n"
        f"paths:\n  content: {content}\n  var: {root / 'var'}\n  output: {root / 'public'}\n"
        "newsletter:\n  content: full\n"
        f"mail:\n  transport: smtp\n  host: 127.0.0.1\n  port: {port}\n"
        f"  connections: {connections}\n  batch_size: 500\n  max_html_bytes: 1000000\n"
        f"database_url: {db}\n", encoding="utf-8")
    return cfg


def run(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, stdout) of one command in its own process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024, out


def _blast_part(args) -> tuple[int, float, float]:
    port, messages, connections = args
    start = time.time()
    blast(port, messages, connections)
    return len(messages), start, time.time()


def sink_limit(port: int, messages: list[bytes], processes: int, connections: int) -> float:
    """Pre-built messages from `processes` client processes of `connections` connections each
    (the workers' shape: one Python process cannot load the sink alone): messages/s."""
    with mp.Pool(processes) as pool:
        parts = pool.map(_blast_part, [(port, messages[i::processes], connections)
                                       for i in range(processes)])
    return sum(n for n, _, _ in parts) / (max(e for _, _, e in parts) - min(s for _, s, _ in parts))


def remaining(cfg: Path) -> int:
    from publisher.config import load_config
    from publisher.store import open_store

    store = open_store(load_config(cfg, env={}))
    try:
        counts = store.delivery_counts(store.last_issue().id)
    finally:
        store.close()
    return counts.get("queued", 0) + counts.get("claimed", 0)


def phase(cfg: Path, env: dict, workers: int, seconds: float | None, counter) -> tuple[int, float]:
    """`workers` worker processes for `seconds` (None: until the queue is empty):
    (messages, messages/s at the sink from its first message to the stop)."""
    cmd = [sys.executable, "-m", "publisher", "--config", str(cfg), "worker", "--poll", "0.2"]
    if seconds is None:
        cmd.append("--drain")
    before = counter.value
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for _ in range(workers)]
    deadline = time.perf_counter() + 60
    while counter.value == before and time.perf_counter() < deadline:
        time.sleep(0.01)
        if all(p.poll() is not None for p in procs):
            break
    first, start = counter.value, time.perf_counter()
    if seconds is None:
        for p in procs:
            p.wait()
    else:
        time.sleep(seconds)
    done, elapsed = counter.value, time.perf_counter() - start
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        if p.wait(timeout=120):
            raise SystemExit(p.stderr.read().decode())
        p.stderr.close()
    return counter.value - before, (done - first) / elapsed if elapsed else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subscribers", type=int, default=1_000_000)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--seconds", type=float, default=20.0, help="each worker count's run")
    ap.add_argument("--drain-all", action="store_true", help="then drain the rest")
    ap.add_argument("--connections", type=int, default=4, help="SMTP connections per worker")
    ap.add_argument("--kb", type=int, default=10, help="approximate size of each message")
    ap.add_argument("--db", default=None, help="database URL, or 'sqlite' (default: PostgreSQL)")
    args = ap.parse_args()
    counts = [int(n) for n in args.workers.split(",")]

    root = Path(tempfile.mkdtemp(prefix="publisher-scale-"))
    names = [f"publisher_bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    own_db = args.db is None
    if own_db:
        db, small_db = (pg_database(True, n) for n in names)
    elif args.db == "sqlite":
        db, small_db = f"sqlite:///{root / 'big.db'}", f"sqlite:///{root / 'small.db'}"
    else:
        db, small_db = args.db, None
    port = free_port()
    counter, ready = mp.Value("q", 0), mp.Event()
    sink = mp.Process(target=_sink, args=(port, counter, ready), daemon=True)
    sink.start()
    ready.wait(10)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")},
           "PUBLISHER_SECRET_KEY": "bench-secret",
           "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    try:
        cfg = make_project(root / "big", port, args.kb, args.connections, db)
        cli = [sys.executable, "-m", "publisher", "--config", str(cfg)]
        print(f"{os.cpu_count()} CPUs; database {db.split('://')[0]}; {args.kb} KB messages; "
              f"{args.connections} SMTP connections per worker", flush=True)

        csv_path = root / "subscribers.csv"
        write_csv(csv_path, args.subscribers)
        if small_db:
            small_cfg = make_project(root / "small", port, args.kb, args.connections, small_db)
            small_csv = root / "small.csv"
            write_csv(small_csv, args.subscribers // 10)
            small_s, small_mb, _ = run([sys.executable, "-m", "publisher", "--config",
                                        str(small_cfg), "subscribers", "import", str(small_csv)], env)
        seconds, peak, out = run([*cli, "subscribers", "import", str(csv_path)], env)
        print(f"import            {args.subscribers:,} rows in {seconds:.1f} s "
              f"({args.subscribers / seconds:,.0f} rows/s), peak RSS {peak:.0f} MB: {out.strip()}")
        if small_db:
            print(f"  beside          {args.subscribers // 10:,} rows in {small_s:.1f} s, "
                  f"peak RSS {small_mb:.0f} MB (memory flat: the same peak for 10x the rows)")
        seconds, _, out = run([*cli, "newsletter", "send", "--queue-only"], env)
        print(f"queue             {seconds:.1f} s: {out.strip()}", flush=True)

        from publisher.config import load_config
        from publisher.content import load_articles
        from publisher.newsletter.issue import plan_issue, render_issue
        from publisher.newsletter.personalise import Recipient, compile_issue

        config = load_config(cfg, env={})
        now = datetime.now(timezone.utc)
        articles = load_articles(config).published(now)
        compiled = compile_issue(render_issue(plan_issue(articles, None, 1, now, config), config),
                                 config)
        sample = [compiled.message_bytes(Recipient(
            email=f"r{i}@example.org", name=f"Lecteur {i}",
            unsubscribe_url="https://news.example.org/u?t=x")) for i in range(5000)]
        size = sum(map(len, sample)) / len(sample)
        limit = sink_limit(port, sample, max(counts), args.connections)
        counter.value = 0
        print(f"sink limit        {limit:8.0f} messages/s (pre-built {size / 1024:.1f} KB "
              f"messages from {max(counts)} processes x {args.connections} connections)",
              flush=True)

        for n in counts:
            sent, rate = phase(cfg, env, n, args.seconds, counter)
            print(f"{n} worker{'s' if n > 1 else ' '}         {rate:8.0f} messages/s "
                  f"({rate / limit:.0%} of the sink's limit; {sent:,} sent in this run)",
                  flush=True)
        if args.drain_all:
            start = time.perf_counter()
            sent, rate = phase(cfg, env, max(counts), None, counter)
            print(f"drain the rest    {sent:,} with {max(counts)} workers in "
                  f"{time.perf_counter() - start:.0f} s ({rate:.0f}/s)")
        left = remaining(cfg)
        print(f"left in the queue {left:,}; the sink received {counter.value:,} messages")
    finally:
        sink.terminate()
        shutil.rmtree(root, ignore_errors=True)
        if own_db:
            for name in names:
                pg_database(False, name)


if __name__ == "__main__":
    main()
