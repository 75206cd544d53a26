"""Headless Chromium driven over the DevTools protocol through a pipe: no port, no network.

Used by the report page's browser tests, ``tools/bench_report.py`` and to take the screenshots in
``docs/``. Only the standard library: Chromium is started with ``--remote-debugging-pipe`` and
reads protocol messages (JSON, each ended by a NUL byte) on its file descriptor 3 and writes
answers and events on 4.

    with Browser() as browser:                      # Chromium found on PATH (or CAROUSEL_CHROMIUM)
        page = browser.new_page(width=1280, height=900)
        page.goto(Path("report/index.html"))
        rows = page.evaluate("document.querySelectorAll('tbody tr').length")
        page.screenshot("shot.png")
        assert not page.errors()                    # console errors and uncaught exceptions
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--remote-debugging-pipe")


class BrowserError(RuntimeError):
    """Chromium could not be started, did not answer, or a protocol call failed."""


def find_chromium() -> str | None:
    """The Chromium executable: ``$CAROUSEL_CHROMIUM``, else the first of ``CHROMIUM_NAMES`` on
    PATH; None when there is none."""
    explicit = os.environ.get("CAROUSEL_CHROMIUM")
    if explicit:
        return explicit if shutil.which(explicit) else None
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


class Page:
    """One tab, attached to its own protocol session."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    def call(self, method: str, params: dict[str, Any] | None = None,
             timeout: float = 60.0) -> dict[str, Any]:
        """A protocol command in this tab's session; its result."""
        return self.browser.call(method, params, session=self.session, timeout=timeout)

    def goto(self, target: str | os.PathLike, timeout: float = 120.0) -> None:
        """Open a URL or a local file and wait for its load event."""
        url = str(target)
        if "://" not in url:
            url = Path(target).resolve().as_uri()
        self.browser.discard_events("Page.loadEventFired", self.session)
        result = self.call("Page.navigate", {"url": url}, timeout=timeout)
        if result.get("errorText"):
            raise BrowserError(f"cannot open {url}: {result['errorText']}")
        self.browser.wait_event("Page.loadEventFired", self.session, timeout=timeout)

    def evaluate(self, expression: str, timeout: float = 120.0) -> Any:
        """The value of a JavaScript expression (promises are awaited); BrowserError naming the
        exception when it throws."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript error: {text}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, interval: float = 0.05) -> Any:
        """Poll until ``expression`` is truthy; its value. BrowserError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out after {timeout} s waiting for: {expression}")
            time.sleep(interval)

    def screenshot(self, path: str | os.PathLike, *, full_page: bool = False) -> Path:
        """Write a PNG of the viewport (or of the whole page) to ``path``."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.evaluate("[document.documentElement.scrollWidth, "
                                 "document.documentElement.scrollHeight]")
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
        data = self.call("Page.captureScreenshot", params)["data"]
        out = Path(path)
        out.write_bytes(base64.b64decode(data))
        return out

    def errors(self) -> list[str]:
        """Console errors, failed loads and uncaught exceptions seen in this tab so far."""
        self.browser.drain()
        found = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                found.append(details.get("exception", {}).get("description")
                             or details.get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error",
                                                                                "assert"):
                found.append(" ".join(str(a.get("value", a.get("description", "")))
                                      for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                found.append(f"{entry.get('text', '')} {entry.get('url', '')}".strip())
        return found


class Browser:
    """A headless Chromium process and its protocol pipe; a context manager that closes it."""

    def __init__(self, executable: str | None = None, extra_flags: tuple[str, ...] = ()) -> None:
        executable = executable or find_chromium()
        if executable is None:
            raise BrowserError("no Chromium found (install Debian's chromium package or set "
                               "CAROUSEL_CHROMIUM)")
        self.profile = tempfile.mkdtemp(prefix="carousel-chromium-")
        self.log = Path(self.profile) / "stderr.log"
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()
        # the child gets them as fds 3 and 4; above 10 first, so dup2 cannot clobber either
        high_in = fcntl.fcntl(to_browser, fcntl.F_DUPFD_CLOEXEC, 10)
        high_out = fcntl.fcntl(from_browser, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser)
        os.close(from_browser)

        def child_fds() -> None:
            # runs in the child before exec; close_fds=False keeps what dup2 makes (Python opens
            # every other descriptor non-inheritable, PEP 446)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        try:
            with self.log.open("wb") as log:
                self.process = subprocess.Popen(
                    [executable, *FLAGS, *extra_flags, f"--user-data-dir={self.profile}",
                     "about:blank"], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    close_fds=False, preexec_fn=child_fds)
        except OSError as err:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise BrowserError(f"cannot start {executable}: {err}") from None
        finally:
            os.close(high_in)
            os.close(high_out)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self._replies: dict[int, dict[str, Any]] = {}
        try:
            self.version = self.call("Browser.getVersion", timeout=60.0)
        except BrowserError:
            self.close()
            raise

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stderr_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def _read_messages(self, timeout: float) -> bool:
        """Read what arrives within ``timeout`` s into replies and events; False on timeout."""
        ready, _, _ = select.select([self._read], [], [], max(timeout, 0.0))
        if not ready:
            return False
        chunk = os.read(self._read, 1 << 20)
        if not chunk:
            raise BrowserError("Chromium closed its pipe\n" + self._stderr_tail())
        self._buffer += chunk
        *messages, self._buffer = self._buffer.split(b"\0")
        for raw in messages:
            message = json.loads(raw)
            if "id" in message:
                self._replies[message["id"]] = message
            else:
                self.events.append(message)
        return True

    def drain(self) -> None:
        """Take in whatever messages are already waiting."""
        while self._read_messages(0.0):
            pass

    def call(self, method: str, params: dict[str, Any] | None = None, *,
             session: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
        """Send one command and wait for its answer; its result, or BrowserError."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._write, data):]
        deadline = time.monotonic() + timeout
        while self._next_id not in self._replies:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no answer to {method} within {timeout} s")
            self._read_messages(left)
        reply = self._replies.pop(self._next_id)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message', reply['error'])}")
        return reply.get("result", {})

    def discard_events(self, method: str, session: str | None) -> None:
        """Forget earlier events of ``method`` in ``session``."""
        self.drain()
        self.events = [e for e in self.events
                       if not (e["method"] == method and e.get("sessionId") == session)]

    def wait_event(self, method: str, session: str | None, timeout: float = 60.0
                   ) -> dict[str, Any]:
        """The first event ``method`` of ``session`` (waiting up to ``timeout`` s); its params."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event["method"] == method and event.get("sessionId") == session:
                    return event.get("params", {})
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no {method} within {timeout} s")
            self._read_messages(left)

    def new_page(self, width: int = 1280, height: int = 900) -> Page:
        """A new tab with a ``width`` x ``height`` viewport, console and log collected."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log"):
            page.call(f"{domain}.enable")
        page.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        return page

    def close(self) -> None:
        """Close Chromium (killed if it does not exit within 10 s) and remove its profile."""
        if getattr(self, "process", None) is not None and self.process.poll() is None:
            try:
                self.call("Browser.close", timeout=5.0)
            except (BrowserError, OSError):
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass
        self._read = self._write = -1
        shutil.rmtree(self.profile, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m ctc.metrics.headless PAGE OUT.png [--js CODE]``: a screenshot of a page (how
    ``docs/report-page.png`` is made), after running ``--js`` in it; prints console errors."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m ctc.metrics.headless",
                                     description=main.__doc__.splitlines()[0])
    parser.add_argument("page", help="a URL or a local HTML file")
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--js", action="append", default=[],
                        help="JavaScript to run before the screenshot (repeatable; promises "
                             "are awaited)")
    parser.add_argument("--full-page", action="store_true", help="the whole page, not the view")
    args = parser.parse_args(argv)
    with Browser() as browser:
        page = browser.new_page(args.width, args.height)
        page.goto(args.page)
        for code in args.js:
            page.evaluate(code)
        page.evaluate("new Promise((done) => requestAnimationFrame(() => setTimeout(done, 100)))")
        page.screenshot(args.out, full_page=args.full_page)
        for error in page.errors():
            print(f"console error: {error}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
