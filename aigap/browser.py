"""Open a report in headless Chromium (Debian's ``chromium``): what the page reports about
itself after load (JavaScript errors, charts drawn), and screenshots for the README.

:class:`Browser` drives one Chromium over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: messages are JSON ended by a NUL byte, read on the browser's
fd 3 and written on its fd 4), so that several pages load one after another in one tab, each
as a user opens it, without starting a browser per page."""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data.errors import InputError

__all__ = ["Browser", "PageCheck", "chromium", "screenshot"]

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]

#: read after the page's load event, once the probe's own ``setTimeout(0)`` has run
_READ_PROBE = """new Promise(function (done) { setTimeout(function () {
  var body = document.body;
  done(JSON.stringify({errors: body.getAttribute('data-errors'),
                       drawn: body.getAttribute('data-drawn'),
                       charts: document.querySelectorAll('.plotly-graph-div').length}));
}, 0); })"""


def chromium() -> str | None:
    """The Chromium executable, or None where it is not installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _executable() -> str:
    exe = chromium()
    if exe is None:
        raise InputError("Chromium is not installed (apt-get install chromium)")
    return exe


def _spawn(argv: list[str], reads: int, writes: int) -> int:
    """Start ``argv`` with ``reads`` on its fd 3 and ``writes`` on its fd 4, stdin, stdout and
    stderr on /dev/null.  ``posix_spawn`` does the file actions in the child without running
    Python there (``subprocess``'s ``preexec_fn`` is unsafe where threads run: the test
    workers have some).  The ends are first copied to fds >= 10 so that neither is 3 or 4."""
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (reads, writes)]
    try:
        return os.posix_spawn(argv[0], argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_DUP2, high[0], 3),
            (os.POSIX_SPAWN_DUP2, high[1], 4),
        ])  # fmt: skip
    finally:
        for fd in high:
            os.close(fd)


def _ended(pid: int, within: float) -> bool:
    """Whether the child ``pid`` has ended (and is reaped) within ``within`` seconds."""
    deadline = time.monotonic() + within
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@dataclass(frozen=True)
class PageCheck:
    errors: list[str]  #: JavaScript errors caught by the page's probe
    charts: int  #: plotly charts in the page
    drawn: int  #: charts whose SVG is in the DOM after load


class Browser:
    """One headless Chromium with one tab; ``with Browser() as b: b.load(page)``."""

    def __init__(self, timeout: float = 90.0) -> None:
        self.timeout = timeout
        ours_in, theirs_out = os.pipe()  # the browser writes on its fd 4
        theirs_in, ours_out = os.pipe()  # and reads on its fd 3
        try:
            self._pid = _spawn(
                [_executable(), *_FLAGS, "--remote-debugging-pipe", "about:blank"],
                theirs_in, theirs_out,
            )  # fmt: skip
        except BaseException:
            for fd in (ours_in, ours_out):
                os.close(fd)
            raise
        finally:
            os.close(theirs_in)
            os.close(theirs_out)
        self._in, self._out = ours_in, ours_out
        self._buf = b""
        self._id = 0
        try:
            target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self._call(
                "Target.attachToTarget", {"targetId": target, "flatten": True}
            )["sessionId"]
            self._call("Page.enable", session=self._session)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Ask the browser to close; killed if it has not ended within 10 s."""
        if self._pid:
            try:
                self._send("Browser.close")
            except OSError:
                pass
            if not _ended(self._pid, within=10.0):
                os.kill(self._pid, signal.SIGKILL)
                os.waitpid(self._pid, 0)
            self._pid = 0
        for fd in (self._in, self._out):
            try:
                os.close(fd)
            except OSError:
                pass

    def load(self, html_file: str | Path) -> PageCheck:
        """Open the page in the tab, wait for its load event and read the probe's attributes
        on ``<body>``."""
        self._send("Page.navigate", {"url": Path(html_file).resolve().as_uri()}, self._session)
        deadline = time.monotonic() + self.timeout
        while self._receive(deadline).get("method") != "Page.loadEventFired":
            pass
        got = self._call(
            "Runtime.evaluate",
            {"expression": _READ_PROBE, "awaitPromise": True, "returnByValue": True},
            self._session,
        )
        seen = json.loads(got["result"]["value"])
        errors = seen["errors"]
        return PageCheck(
            errors=json.loads(errors) if errors is not None else ["the probe did not run"],
            charts=int(seen["charts"]),
            drawn=int(seen["drawn"] or 0),
        )

    # ------------------------------------------------------------------ the protocol
    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        return self._id

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([self._in], [], [], wait)[0]:
                raise TimeoutError(f"Chromium did not answer within {self.timeout:g} s")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self._buf += chunk
        message, _, self._buf = self._buf.partition(b"\0")
        return json.loads(message)

    def _call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        wanted = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._receive(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"Chromium: {method}: {message['error'].get('message')}")
                return message["result"]


def screenshot(html_file: str | Path, png: str | Path, width: int = 1280,
               height: int = 2400, timeout: float = 90.0) -> None:  # fmt: skip
    subprocess.run(
        [_executable(), *_FLAGS, "--virtual-time-budget=15000", f"--window-size={width},{height}",
         f"--screenshot={Path(png).resolve()}", Path(html_file).resolve().as_uri()],
        capture_output=True, timeout=timeout, check=True,
    )  # fmt: skip
