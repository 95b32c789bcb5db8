"""Helpers of the dashboard tests (tests/web/admin): a project with a sent issue and thousands
of subscribers, and an HTTP client that keeps the admin cookie. (No conftest.py there: its
module name would shadow tests/conftest.py for `from conftest import ...`.)"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import httpx
from click.testing import CliRunner
from delivery_fixtures import write_articles

from publisher.cli import main
from publisher.store import open_store

PASSWORD = "correct horse battery staple"
NOW = datetime.now(timezone.utc)
MANY = 3000  # pending subscribers besides the few who receive the issue


def fill(project, url: str | None = None):
    """Articles, 3 active subscribers who receive issue 1 (sent), MANY pending ones."""
    write_articles(project.root / "content", NOW)
    base = f"paths:\n  content: {project.root / 'content'}\n  output: {project.root / 'public'}\n"
    project.write(base)
    if url:
        project.path.write_text(project.path.read_text().replace("https://news.example.org/", url))
    store = open_store(project.config())
    store.insert_subscribers([(f"reader{i}@example.org", f"Reader {i}", []) for i in range(3)],
                             "active", NOW - timedelta(days=20))
    result = CliRunner().invoke(main, ["newsletter", "send"], catch_exceptions=False)
    assert "3 sent via outbox" in result.output, result.output
    for start in range(0, MANY, 1000):
        store.insert_subscribers([(f"person{i:05d}@example.net", f"Person {i}", ["Tech"])
                                  for i in range(start, start + 1000)], "pending", NOW)
    return store


class AdminClient(httpx.Client):
    """An HTTP client that keeps the admin cookie itself: the cookie is Secure (the site is
    https) and the server here is plain http, where a cookie jar would not send it."""

    cookie = ""

    def send(self, request, **kwargs):
        if self.cookie:
            request.headers["Cookie"] = f"publisher_admin={self.cookie}"
        response = super().send(request, **kwargs)
        for header in response.headers.get_list("set-cookie"):
            if found := re.match(r"publisher_admin=([^;]*)", header):
                self.cookie = found.group(1).strip('"')
        return response

    def csrf(self, path: str = "/admin/") -> str:
        return re.search(r'name="csrf" value="([^"]+)"', self.get(path).text).group(1)

    def login(self, password: str = PASSWORD) -> httpx.Response:
        token = self.csrf("/admin/login")
        return self.post("/admin/login", data={"csrf": token, "password": password})
