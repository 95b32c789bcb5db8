"""Local preview: links follow the port of a local site.url, log times carry the zone, and
`--dev` pages get a reload script and an event stream that ticks after a rebuild."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from delivery_fixtures import LiveServer
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route

from publisher.cli.preview import ZoneFormatter, follow_address
from publisher.config import parse_config
from publisher.web.devreload import PATH, SCRIPT, dev_app


def config(url: str | None = None):
    text = f"site:\n  url: {url}\n" if url else ""
    return parse_config(text, "config.yaml", Path("."), {})


def test_a_local_site_url_follows_the_address_served_and_a_public_one_is_noted():
    served, note = follow_address(config(), "127.0.0.1", 18080)
    assert served.site.url == "http://127.0.0.1:18080/" and note is None
    served, note = follow_address(config("http://localhost:8000/"), "0.0.0.0", 9000)
    assert served.site.url == "http://127.0.0.1:9000/" and note is None
    same = config()
    assert follow_address(same, "127.0.0.1", 8000) == (same, None)
    public = config("https://news.example.org/")
    served, note = follow_address(public, "127.0.0.1", 8001)
    assert served is public
    assert note == "links point at https://news.example.org/ (site.url), not at http://127.0.0.1:8001/"


def test_log_times_are_in_the_site_zone_with_its_name():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "built", None, None)
    record.created = 1717228800.0  # 2024-06-01 08:00 UTC
    line = ZoneFormatter(ZoneInfo("Europe/Paris")).format(record)
    assert line == "2024-06-01 10:00:00 CEST built"


def test_dev_pages_get_the_script_and_the_stream_ticks_after_a_change(tmp_path):
    async def page(request):
        return HTMLResponse("<html><body><p>hi</p></body></html>")

    async def text(request):
        return PlainTextResponse("plain </body>")

    stopping = threading.Event()
    app = dev_app(Starlette(routes=[Route("/", page), Route("/t", text)]), tmp_path, stopping)
    try:
        with LiveServer(app) as server, httpx.Client(base_url=server.url) as client:
            html = client.get("/")
            assert html.text == "<html><body><p>hi</p>" + SCRIPT.decode() + "</body></html>"
            assert int(html.headers["content-length"]) == len(html.content)
            assert client.get("/t").text == "plain </body>"  # only HTML answers
            with client.stream("GET", PATH, timeout=10) as events:
                lines = events.iter_lines()
                assert next(lines) == "retry: 1000" and next(lines) == "data: 0"
                time.sleep(0.5)  # the watcher is up
                (tmp_path / "index.html").write_text("new")
                assert next(line for line in lines if line.startswith("data:")) == "data: 1"
    finally:
        stopping.set()
