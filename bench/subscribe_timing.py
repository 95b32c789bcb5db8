"""Does POST /subscribe answer a new, a pending, an active and a departed address in the same
time? Real HTTP (uvicorn on 127.0.0.1 with `publisher serve`'s settings), the background
sender off so only the request is timed; rounds interleave the four kinds.

    python bench/subscribe_timing.py [--rounds 300]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import uvicorn

from publisher.config import load_config
from publisher.store import open_store
from publisher.web.app import create_app
from publisher.web.server import uvicorn_config


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    rounds = parser.parse_args().rounds
    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "config.yaml").write_text("web:\n  subscribe_rate: 1000000\n", encoding="utf-8")
        config = load_config(root / "config.yaml", env={"PUBLISHER_SECRET_KEY": "x" * 40})
        store = open_store(config)
        for email, status in (("active@example.org", "active"), ("pending@example.org", "pending"),
                              ("gone@example.org", "unsubscribed")):
            store.add_subscriber(email, "", [], status, now)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn_config(create_app(config, store), config, "127.0.0.1",
                                               port, lifespan="off"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.01)
        kinds = ("new", "pending", "active", "gone")
        times: dict[str, list[float]] = {k: [] for k in kinds}
        answers = set()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for i in range(rounds):
                for kind in kinds:
                    email = f"new{i}@example.org" if kind == "new" else f"{kind}@example.org"
                    started = time.perf_counter()
                    answer = client.post("/subscribe", data={"email": email})
                    times[kind].append((time.perf_counter() - started) * 1000)
                    answers.add((answer.status_code, answer.text))
        server.should_exit = True
    print(f"{len(answers)} distinct answer(s) over {rounds * 4} requests")
    for kind in kinds:
        v = sorted(times[kind][10:])
        print(f"{kind:8} median {statistics.median(v):6.2f} ms  p90 {v[len(v) * 9 // 10]:6.2f} ms")
    medians = [statistics.median(times[k][10:]) for k in kinds]
    print(f"spread of medians: {max(medians) - min(medians):.2f} ms")


if __name__ == "__main__":
    main()
