"""The dashboard's subscribers page at a million subscribers, on SQLite and on PostgreSQL.

    python bench/admin.py [--subscribers 1000000] [--backends sqlite,postgresql] [--runs 20]

Fills a fresh database through the store (85% active, 8% unsubscribed, 5% pending, 2%
bounced; 30% chose "Tech"), serves the real app with uvicorn on loopback, logs in, then times
GET /admin/subscribers over HTTP for the first page, a page deep in the list (keyset), each
filter, a search by exact address and by name prefix. Prints the median and the worst of
--runs requests beside the goal (200 ms). PostgreSQL: a throwaway database (PUBLISHER_TEST_PG
names the admin URL), dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

GOAL_MS = 200
PASSWORD = "bench password 0123"
PG_ADMIN = os.environ.get("PUBLISHER_TEST_PG",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
MIX = (("active", 0.85), ("unsubscribed", 0.08), ("pending", 0.05), ("bounced", 0.02))


def pg(create: bool, name: str) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(PG_ADMIN)
    with psycopg.connect(host=admin.host, port=admin.port or 5432, user=admin.username,
                         dbname=admin.database, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' if create
                     else f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return admin.set(database=name).render_as_string(hide_password=False)


def fill(store, total: int) -> None:
    now = datetime.now(timezone.utc)
    start, chunk = time.perf_counter(), 5000
    for n in range(0, total, chunk):
        rows = {status: [] for status, _ in MIX}
        for i in range(n, min(total, n + chunk)):
            r = (i * 7919) % 100 / 100
            status = "active" if r < .85 else "unsubscribed" if r < .93 else \
                "pending" if r < .98 else "bounced"
            rows[status].append((f"user{i:07d}@example.org", f"User {i}",
                                 ["Tech"] if i % 10 < 3 else []))
        for status, batch in rows.items():
            store.merge_subscribers(batch, status, now - timedelta(days=(total - n) * 90 // total))
    print(f"  filled {total:,} subscribers in {time.perf_counter() - start:.0f} s", flush=True)


def measure(url: str, total: int, runs: int) -> list[tuple[str, float, float]]:
    import httpx

    with httpx.Client(base_url=url) as client:
        cookie = {}

        def get(path, **kw):
            answer = client.get(path, headers={"Cookie": "; ".join(f"{k}={v}" for k, v in
                                                                    cookie.items())}, **kw)
            for header in answer.headers.get_list("set-cookie"):
                name, _, rest = header.partition("=")
                cookie[name] = rest.split(";")[0].strip('"')
            return answer

        page = get("/admin/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        answer = client.post("/admin/login", data={"csrf": csrf, "password": PASSWORD},
                             headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookie.items())})
        assert answer.status_code == 303, answer.text
        cookie["publisher_admin"] = answer.cookies.get("publisher_admin") or re.search(
            r"publisher_admin=([^;]+)", answer.headers["set-cookie"]).group(1).strip('"')
        deep = total * 2 // 3
        cases = [
            ("first page", {}),
            (f"keyset page after id {deep:,}", {"after": deep}),
            ("status=active", {"status": "active"}),
            ("status=bounced", {"status": "bounced"}),
            ("category=Tech", {"category": "Tech"}),
            ("q=exact address", {"q": f"user{total // 2:07d}@example.org"}),
            ("q=name prefix 'user 4242'", {"q": "user 4242"}),
            ("q=address prefix 'user00012'", {"q": "user00012"}),
            ("status=pending&q='user 9'", {"status": "pending", "q": "user 9"}),
        ]
        results = []
        for label, params in cases:
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                answer = get("/admin/subscribers", params=params)
                times.append((time.perf_counter() - t) * 1000)
                assert answer.status_code == 200 and "/admin/subscribers/" in answer.text, label
            results.append((label, statistics.median(times), max(times)))
        return results


def run(backend: str, total: int, runs: int) -> bool:
    from delivery_fixtures import LiveServer

    from publisher.config import load_config
    from publisher.store import open_store
    from publisher.web.app import create_app

    print(f"{backend}: {total:,} subscribers", flush=True)
    name = f"publisher_bench_{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory() as tmp:
        db = pg(True, name) if backend == "postgresql" else f"sqlite:///{tmp}/publisher.db"
        try:
            cfg = Path(tmp) / "config.yaml"
            cfg.write_text(f"site:\n  url: http://127.0.0.1/\n  title: Bench\n"
                           f"paths:\n  content: {tmp}/content\n  output: {tmp}/public\n"
                           f"  var: {tmp}/var\ndatabase_url: {db}\n", encoding="utf-8")
            config = load_config(cfg, env={})
            store = open_store(config)
            fill(store, total)
            if backend == "postgresql":
                with store.engine.begin() as conn:
                    conn.exec_driver_sql("ANALYZE subscribers")
            os.environ["PUBLISHER_ADMIN_PASSWORD"] = PASSWORD
            os.environ.setdefault("PUBLISHER_SECRET_KEY", "bench-secret-0123456789abcdefghijklmnop")
            with LiveServer(create_app(config, store=store)) as server:
                results = measure(server.url, total, runs)
            store.close()
        finally:
            if backend == "postgresql":
                pg(False, name)
    ok = True
    for label, median, worst in results:
        met = worst < GOAL_MS
        ok &= met
        print(f"  {label:<36} median {median:6.1f} ms   worst {worst:6.1f} ms   "
              f"goal < {GOAL_MS} ms  {'ok' if met else 'MISSED'}", flush=True)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    ok = True
    for backend in args.backends.split(","):
        ok &= run(backend, args.subscribers, args.runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
