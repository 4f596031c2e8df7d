"""A tiny Chrome DevTools Protocol client: open a report in headless Chromium and watch it.

For the tests, the benchmark and the README screenshots, not for users: it launches the
system's Chromium (``/usr/bin/chromium`` or ``$CHROMIUM``) with a throwaway profile, opens one
page, records every console error, uncaught exception and failed request, and can evaluate
JavaScript, press keys and take screenshots. It speaks CDP over the websocket aiohttp already
gives us, so it needs no browser-automation package and no browser download.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Flags for a quiet, offline, reproducible headless browser.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
    "--remote-debugging-port=0", "--remote-allow-origins=*", "--force-color-profile=srgb",
)


def chromium_path() -> str | None:
    """The Chromium to use: ``$CHROMIUM``, else ``/usr/bin/chromium``, else one on PATH."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageReport:
    """What happened while a page was open."""

    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [*self.console_errors, *self.exceptions, *self.failed_requests]


class Page:
    """One tab, attached over a flat CDP session."""

    def __init__(self, ws: Any, session: str, report: PageReport) -> None:
        self._ws = ws
        self._session = session
        self._next = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: dict[str, asyncio.Event] = {}
        self.report = report
        #: seconds from the last navigation to each page lifecycle event (firstContentfulPaint, load, ...)
        self.timings: dict[str, float] = {}
        self._navigated = 0.0

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = future
        await self._ws.send_str(json.dumps({"id": self._next, "method": method, "params": params,
                                            "sessionId": self._session}))
        return await asyncio.wait_for(future, 60)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            future = self._waiting.pop(message["id"], None)
            if future is not None and not future.done():
                if "error" in message:
                    future.set_exception(RuntimeError(f"CDP error: {message['error']}"))
                else:
                    future.set_result(message.get("result", {}))
            return
        method, params = message.get("method", ""), message.get("params", {})
        self._events.setdefault(method, asyncio.Event()).set()
        if method == "Page.lifecycleEvent":
            self.timings.setdefault(params.get("name", ""), time.monotonic() - self._navigated)
        if method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.report.console_errors.append(f"console.{params['type']}: {args}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.report.exceptions.append(f"uncaught: {text}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.report.console_errors.append(f"log.{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            self.report.requests.append(params.get("request", {}).get("url", ""))
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            self.report.failed_requests.append(f"failed request: {params.get('errorText')}")
        elif method == "Network.responseReceived" and params.get("response", {}).get("status", 200) >= 400:
            response = params["response"]
            self.report.failed_requests.append(f"HTTP {response['status']}: {response.get('url')}")

    def event(self, method: str) -> asyncio.Event:
        return self._events.setdefault(method, asyncio.Event())

    async def goto(self, url: str) -> None:
        loaded = self.event("Page.loadEventFired")
        loaded.clear()
        self.timings.clear()
        self._navigated = time.monotonic()
        await self.send("Page.navigate", url=url)
        await asyncio.wait_for(loaded.wait(), 60)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                                 awaitPromise=True, userGesture=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    async def view_as(self, width: int, height: int = 900, *, dark: bool = False) -> None:
        """Resize the viewport and pick the colour scheme, as another screen would show the page."""
        await self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                        deviceScaleFactor=1, mobile=False)
        await self.send("Emulation.setEmulatedMedia",
                        features=[{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}])
        await self.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    async def first_contentful_paint_ms(self) -> float:
        """The browser's own first-contentful-paint time, ms after navigation started."""
        deadline = time.monotonic() + 30.0
        while True:
            value = await self.evaluate(
                "(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || null"
            )
            if value is not None:
                return float(value)
            if time.monotonic() > deadline:
                raise TimeoutError("no first-contentful-paint entry")
            await asyncio.sleep(0.05)

    async def press(self, key: str) -> None:
        """Press and release one key (``Enter``, ``Tab``, ``Escape``) on what has focus."""
        codes = {"Enter": 13, "Tab": 9, "Escape": 27, " ": 32}
        base = {"key": key, "code": key if key != " " else "Space", "windowsVirtualKeyCode": codes.get(key, 0)}
        text = {"Enter": "\r", " ": " "}.get(key)
        await self.send("Input.dispatchKeyEvent", type="keyDown", **base, **({"text": text} if text else {}))
        await self.send("Input.dispatchKeyEvent", type="keyUp", **base)

    async def screenshot(self, path: Path, *, full_height: int | None = None) -> bytes:
        """A PNG of the viewport (or of the top ``full_height`` CSS pixels), also written to ``path``."""
        params: dict[str, Any] = {"format": "png"}
        if full_height is not None:
            metrics = await self.send("Page.getLayoutMetrics")
            width = metrics["cssContentSize"]["width"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": width, "height": full_height, "scale": 1})
        shot = await self.send("Page.captureScreenshot", **params)
        png = base64.b64decode(shot["data"])
        await asyncio.to_thread(path.write_bytes, png)
        return png


@contextlib.asynccontextmanager
async def open_page(url: str, *, width: int = 1280, height: int = 900,
                    dark: bool = False) -> AsyncIterator[Page]:
    """Launch Chromium, open ``url`` and wait for its load event; close everything afterwards."""
    import aiohttp

    binary = chromium_path()
    if binary is None:
        raise FileNotFoundError("no Chromium found (install the chromium package, or set $CHROMIUM)")
    profile = Path(tempfile.mkdtemp(prefix="aggregator-chromium-"))
    # the binary is ours to choose (system package or $CHROMIUM); started once, then spoken to over CDP
    process = subprocess.Popen(  # noqa: S603, ASYNC220
        [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or len(port_file.read_text().split()) < 2:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Chromium did not start (exit code {process.poll()})")
            await asyncio.sleep(0.05)
        port, path = port_file.read_text().split()[:2]
        async with aiohttp.ClientSession() as http, http.ws_connect(
            f"ws://127.0.0.1:{port}{path}", max_msg_size=0
        ) as ws:
            report = PageReport()
            pending: dict[int, asyncio.Future[dict[str, Any]]] = {}

            async def browser(method: str, **params: Any) -> dict[str, Any]:
                n = len(pending) + 1_000_000
                future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
                pending[n] = future
                await ws.send_str(json.dumps({"id": n, "method": method, "params": params}))
                return await asyncio.wait_for(future, 30)

            page: Page | None = None

            async def pump() -> None:
                async for message in ws:
                    data = json.loads(message.data)
                    if data.get("sessionId") and page is not None:
                        page._dispatch(data)
                    elif data.get("id") in pending:
                        pending.pop(data["id"]).set_result(data.get("result", {}))

            reader = asyncio.create_task(pump())
            try:
                target = await browser("Target.createTarget", url="about:blank")
                attached = await browser("Target.attachToTarget", targetId=target["targetId"], flatten=True)
                page = Page(ws, attached["sessionId"], report)
                for domain in ("Page", "Runtime", "Log", "Network"):
                    await page.send(f"{domain}.enable")
                await page.send("Page.setLifecycleEventsEnabled", enabled=True)
                await page.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                                deviceScaleFactor=1, mobile=False)
                if dark:
                    await page.send("Emulation.setEmulatedMedia",
                                    features=[{"name": "prefers-color-scheme", "value": "dark"}])
                await page.goto(url)
                yield page
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)
