"""`--dev`: the browser reloads by itself after each rebuild, as with `hugo server`.

A thread watches the output folder and counts the rebuilds that changed it; an event stream
(Server-Sent Events, `GET /__publisher/reload`) tells open pages the count, and a one-line
script, added to HTML answers only in dev mode, reloads the page when it changes. Nothing of
this is in the built files: a deployed site never carries it.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.responses import StreamingResponse

PATH = "/__publisher/reload"
SCRIPT = (b'<script>(()=>{let v;const s=new EventSource("' + PATH.encode() + b'");'
          b's.onmessage=e=>{if(v===undefined)v=e.data;else if(e.data!==v)location.reload()}})()'
          b"</script>")
POLL = 0.25  # seconds between looks at the count, per open page
KEEPALIVE = 15.0  # seconds between comments that keep proxies from closing the stream


class DevReload:
    """The count of changes to `folder`, kept by a watching thread until `stopping` is set."""

    def __init__(self, folder: Path, stopping: threading.Event):
        self.folder, self.stopping, self.version = Path(folder), stopping, 0

    def start(self) -> DevReload:
        threading.Thread(target=self._watch, name="dev-reload", daemon=True).start()
        return self

    def _watch(self) -> None:
        from watchfiles import watch

        self.folder.mkdir(parents=True, exist_ok=True)
        for _changes in watch(self.folder, debounce=300, stop_event=self.stopping,
                              raise_interrupt=False):
            self.version += 1

    async def events(self):
        seen, quiet = self.version, 0.0
        yield f"retry: 1000\ndata: {seen}\n\n"
        while not self.stopping.is_set():
            await asyncio.sleep(POLL)
            quiet += POLL
            if self.version != seen:
                seen, quiet = self.version, 0.0
                yield f"data: {seen}\n\n"
            elif quiet >= KEEPALIVE:
                quiet = 0.0
                yield ": still here\n\n"


class DevApp:
    """The app, plus the event stream and the script in every HTML page it answers."""

    def __init__(self, app, reload: DevReload):
        self.app, self.reload = app, reload

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["path"] == PATH:
            response = StreamingResponse(self.reload.events(), media_type="text/event-stream",
                                         headers={"Cache-Control": "no-store"})
            return await response(scope, receive, send)
        if scope["method"] != "GET":
            return await self.app(scope, receive, send)
        start: dict | None = None
        chunks: list[bytes] = []

        async def inject(message):
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=message["headers"])
                if headers.get("content-type", "").startswith("text/html"):
                    start = message
                    return
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = add_script(b"".join(chunks))
                MutableHeaders(raw=start["headers"])["content-length"] = str(len(body))
                await send(start)
                return await send({"type": "http.response.body", "body": body})
            await send(message)

        await self.app(scope, receive, inject)


def add_script(html: bytes) -> bytes:
    at = html.rfind(b"</body>")
    return html + SCRIPT if at < 0 else html[:at] + SCRIPT + html[at:]


def dev_app(app, folder: Path, stopping: threading.Event) -> DevApp:
    return DevApp(app, DevReload(folder, stopping).start())
