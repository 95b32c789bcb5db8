"""The built site as `publisher serve` answers it, beyond plain files:

- an old address (an `aliases:` entry, or where an article was before its URL changed) is
  answered 301 to the new one, from the `_redirects` file the build writes;
- a missing page is answered 404 with the site's themed 404.html (Starlette's html mode);
- a feed asked for by a browser (an Accept header preferring text/html to XML and JSON) is
  answered with an HTML view of it: Chromium is removing XSLT, so the feeds' XSL stylesheet
  will no longer be enough. Feed readers, which ask for XML or anything, get the feed itself.
  Both answers carry `Vary: Accept`.
"""

from __future__ import annotations

import json
import os
from xml.etree import ElementTree

from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from publisher.site.sitemap import read_redirects

ATOM = "{http://www.w3.org/2005/Atom}"
FEED_TYPES = ("application/atom+xml", "application/rss+xml", "application/xml", "text/xml",
              "application/feed+json", "application/json")
MAX_FEED_BYTES = 20 * 1024 * 1024  # a view is made only of the site's own, bounded, feeds


def prefers_html(accept: str) -> bool:
    """Whether an Accept header puts text/html above every XML and JSON type (browsers do:
    `text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8`)."""
    html, feed = 0.0, 0.0
    for part in accept.split(",")[:50]:
        kind, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        kind = kind.strip().lower()
        if kind in ("text/html", "application/xhtml+xml"):
            html = max(html, q)
        elif kind in FEED_TYPES:
            feed = max(feed, q)
    return html > feed


def read_feed(data: bytes, path: str) -> dict:
    """Title, home page and entries of one of the site's feeds, whatever its format."""
    if path.endswith(".json"):
        doc = json.loads(data)
        return {"title": doc.get("title", ""), "home": doc.get("home_page_url", ""),
                "description": doc.get("description", ""),
                "entries": [{"title": i.get("title", ""), "url": i.get("url", ""),
                             "date": i.get("date_published", "")[:10],
                             "summary": i.get("summary", "")} for i in doc.get("items", [])]}
    root = ElementTree.fromstring(data)  # noqa: S314 - the site's own file, written by the build
    if root.tag == f"{ATOM}feed":
        def home(el):
            return next((ln.get("href", "") for ln in el.findall(f"{ATOM}link")
                         if ln.get("rel", "alternate") == "alternate"), "")

        return {"title": root.findtext(f"{ATOM}title", ""), "home": home(root),
                "description": root.findtext(f"{ATOM}subtitle", ""),
                "entries": [{"title": e.findtext(f"{ATOM}title", ""), "url": home(e),
                             "date": (e.findtext(f"{ATOM}published") or
                                      e.findtext(f"{ATOM}updated", ""))[:10],
                             "summary": e.findtext(f"{ATOM}summary", "")}
                            for e in root.findall(f"{ATOM}entry")]}
    channel = root.find("channel")
    if channel is None:
        raise ValueError("neither Atom nor RSS")
    return {"title": channel.findtext("title", ""), "home": channel.findtext("link", ""),
            "description": channel.findtext("description", ""),
            "entries": [{"title": i.findtext("title", ""), "url": i.findtext("link", ""),
                         "date": i.findtext("pubDate", "")[5:16],
                         "summary": i.findtext("description", "")}
                        for i in channel.findall("item")]}


def feed_view_env(config):
    """The pages' templates, with the site's language for the view's own strings."""
    from publisher import i18n
    from publisher.audience.notices import template_env

    env = template_env(str(config.path("templates")), strict=False)
    i18n.install(env, config.site.lang)
    return env


class SiteFiles(StaticFiles):
    """StaticFiles in html mode (which answers 404.html with 404), plus redirects and the
    HTML view of feeds."""

    def __init__(self, *, directory, config, env):
        super().__init__(directory=directory, html=True, check_dir=False)
        self.config, self.env = config, env
        self._redirects: tuple[float, dict[str, str]] = (-1.0, {})

    def redirects(self) -> dict[str, str]:
        """`_redirects`, read again when it changes (each build may rewrite it)."""
        file = os.path.join(self.directory, "_redirects")
        try:
            mtime = os.stat(file).st_mtime
        except OSError:
            return {}
        if mtime != self._redirects[0]:
            with open(file, encoding="utf-8") as f:
                self._redirects = (mtime, read_redirects(f.read(1024 * 1024)))
        return self._redirects[1]

    async def get_response(self, path: str, scope) -> Response:
        url_path = "/" + path.lstrip("/") if path not in ("", ".") else "/"
        if url_path.endswith("/index.html"):
            url_path = url_path.removesuffix("index.html")
        moved = self.redirects()
        target = moved.get(url_path) or moved.get(url_path + "/")
        if target:
            return RedirectResponse(target, status_code=301)
        if path.lstrip("/") in ("_redirects", "404.html"):  # the server's, not pages
            return await super().get_response("__not_served__", scope)
        is_feed = path.lstrip("/").startswith("feeds/") and path.endswith((".xml", ".json"))
        headers = dict(scope.get("headers") or [])
        accept = headers.get(b"accept", b"").decode("latin-1")
        if is_feed and prefers_html(accept):
            view = self.feed_view(path)
            if view is not None:
                return view
        response = await super().get_response(path, scope)
        if is_feed:
            response.headers["Vary"] = "Accept"
        return response

    def feed_view(self, path: str) -> Response | None:
        full, _ = self.lookup_path(path)
        if not full or os.path.getsize(full) > MAX_FEED_BYTES:
            return None
        try:
            with open(full, "rb") as f:
                feed = read_feed(f.read(), path)
        except (ValueError, ElementTree.ParseError):
            return None
        html = self.env.get_template("web/feed.html").render(
            site=self.config.site, feed=feed, feed_url=self.config.site.url + path.lstrip("/"))
        return HTMLResponse(html, headers={"Vary": "Accept", "Cache-Control": "no-cache"})
