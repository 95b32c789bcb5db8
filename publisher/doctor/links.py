"""Does a link lead somewhere? Internal ones (under site.url) must be files the build wrote
under the output folder; external ones are asked over HTTP, only when the operator says
`--online` (a send must not wait for the network)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

# Served by `publisher serve` / `run` (the web app), never written by the build.
DYNAMIC = {"subscribe", "unsubscribe", "preferences", "confirm"}


def internal_path(url: str, site_url: str) -> str | None:
    """The path under site.url that `url` names, or None for an external URL."""
    url = urldefrag(url)[0].split("?")[0]
    if url.startswith(site_url):
        return unquote(url[len(site_url):])
    if url + "/" == site_url:
        return ""
    return None


def written(output: Path, path: str) -> bool:
    """True when the build wrote what `path` names (a folder means its index.html), or when
    the web app serves it."""
    if path.strip("/").split("/")[0] in DYNAMIC:
        return True
    target = (output / path).resolve()
    if output.resolve() not in (target, *target.parents):
        return False
    return target.is_file() or (target / "index.html").is_file()


def absolute(href: str, page_url: str) -> str | None:
    """The absolute URL of an href on a page; None for what is not a web link."""
    if href.startswith(("mailto:", "tel:", "data:", "javascript:", "#")):
        return None
    url = urljoin(page_url, href)
    return url if urlsplit(url).scheme in ("http", "https") else None


def fetch_errors(urls: list[str], timeout: float = 10.0) -> dict[str, str]:
    """url -> why it does not answer (status >= 400 or no connection), eight at a time."""
    import urllib.error
    import urllib.request

    def probe(url: str) -> str:
        for method in ("HEAD", "GET"):  # some servers refuse HEAD
            request = urllib.request.Request(url, method=method,
                                             headers={"User-Agent": "publisher-doctor"})
            try:
                with urllib.request.urlopen(request, timeout=timeout):
                    return ""
            except urllib.error.HTTPError as exc:
                if method == "GET" or exc.code not in (403, 405, 501):
                    return f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError, ValueError) as exc:
                return str(getattr(exc, "reason", exc))
        return ""

    unique = list(dict.fromkeys(urls))
    with ThreadPoolExecutor(max_workers=8) as pool:
        return {u: why for u, why in zip(unique, pool.map(probe, unique)) if why}
