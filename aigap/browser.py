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
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data.errors import InputError

__all__ = ["Browser", "PageCheck", "chromium", "screenshot"]

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]

#: read after the page's load event, once the probe's own ``setTimeout(0)`` has run
_READ_PROBE = """new Promise(function (done) { setTimeout(function () {
  try {
    var body = document.body;
    done(JSON.stringify({errors: body.getAttribute('data-errors'),
                         drawn: body.getAttribute('data-drawn'),
                         charts: document.querySelectorAll('.plotly-graph-div').length}));
  } catch (e) { done(JSON.stringify({failed: String(e)})); }
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


def _inheritable_fds() -> list[int]:
    """This process's descriptors above 2 that a child would inherit (Python's own are not
    inheritable; a caller may have made some so)."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return []
    out = []
    for name in names:
        fd = int(name)
        try:
            if fd > 2 and os.get_inheritable(fd):
                out.append(fd)
        except OSError:  # the listing's own descriptor, closed since
            pass
    return out


def _spawn(argv: list[str], reads: int, writes: int) -> int:
    """Start ``argv`` with ``reads`` on its fd 3 and ``writes`` on its fd 4, stdin, stdout and
    stderr on /dev/null, no other descriptor of ours and SIGPIPE at its default.
    ``posix_spawn`` does this in the child without running Python there (``subprocess``'s
    ``preexec_fn`` is unsafe where threads run: the test workers have some).  The ends are
    first copied to fds >= 10 so that neither is 3 or 4."""
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (reads, writes)]
    try:
        closes = [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable_fds()]
        return os.posix_spawn(argv[0], argv, os.environ, setsigdef=(signal.SIGPIPE,),
                              file_actions=[
            *closes,
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
    """One headless Chromium with one tab; ``with Browser() as b: b.load(page)``.  A page that
    does not load within ``timeout`` seconds, or crashes its tab, raises, and closes the
    browser (a later :meth:`load` raises at once)."""

    def __init__(self, timeout: float = 90.0) -> None:
        self.timeout = timeout
        self._pid = 0
        self._buf = b""
        self._id = 0
        self._events: list[dict] = []  # events read while waiting for a reply, in order
        self._profile = tempfile.TemporaryDirectory(prefix="aigap-chromium-")
        self._in, theirs_out = os.pipe()  # the browser writes on its fd 4
        theirs_in, self._out = os.pipe()  # and reads on its fd 3
        try:
            try:
                self._pid = _spawn(
                    [_executable(), *_FLAGS, "--remote-debugging-pipe",
                     f"--user-data-dir={self._profile.name}", "about:blank"],
                    theirs_in, theirs_out,
                )  # fmt: skip
            finally:
                os.close(theirs_in)  # the browser's ends: its own copies are open
                os.close(theirs_out)
            deadline = time.monotonic() + self.timeout
            target = self._call("Target.createTarget", {"url": "about:blank"}, None, deadline)
            self._session = self._call(
                "Target.attachToTarget",
                {"targetId": target["targetId"], "flatten": True}, None, deadline,
            )["sessionId"]  # fmt: skip
            self._call("Page.enable", None, self._session, deadline)
            self._call("Page.setLifecycleEventsEnabled", {"enabled": True}, self._session,
                       deadline)  # fmt: skip
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Ask the browser to close; killed if it has not ended within 10 s.  Its profile
        folder is removed.  Closing twice does nothing more."""
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
            if fd >= 0:
                os.close(fd)
        self._in = self._out = -1
        self._profile.cleanup()

    def load(self, html_file: str | Path) -> PageCheck:
        """Open the page in the tab, wait for the load event of that navigation and read the
        probe's attributes on ``<body>``."""
        if not self._pid:
            raise RuntimeError("the browser is closed (an earlier page failed)")
        try:
            return self._load(Path(html_file).resolve().as_uri())
        except (TimeoutError, RuntimeError, OSError):
            self.close()  # a tab stuck in a script or crashed: no later page would load
            raise

    def _load(self, url: str) -> PageCheck:
        deadline = time.monotonic() + self.timeout
        self._events.clear()
        nav = self._call("Page.navigate", {"url": url}, self._session, deadline)
        if nav.get("errorText"):  # a missing file: the browser shows its own error page
            return PageCheck(errors=[f"the page did not load: {nav['errorText']}"], charts=0,
                             drawn=0)  # fmt: skip
        while True:
            event = self._event(deadline)
            p = event.get("params", {})
            if (event.get("method") == "Page.lifecycleEvent" and p.get("name") == "load"
                    and p.get("loaderId") == nav.get("loaderId")):  # fmt: skip
                break
        got = self._call(
            "Runtime.evaluate",
            {"expression": _READ_PROBE, "awaitPromise": True, "returnByValue": True},
            self._session, deadline,
        )  # fmt: skip
        seen = json.loads(got["result"]["value"])
        if "failed" in seen:
            return PageCheck(errors=[f"the probe could not be read: {seen['failed']}"],
                             charts=0, drawn=0)  # fmt: skip
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
                raise TimeoutError(f"Chromium did not finish the page within {self.timeout:g} s")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self._buf += chunk
        message, _, self._buf = self._buf.partition(b"\0")
        got = json.loads(message)
        method = got.get("method")
        if method == "Inspector.targetCrashed":
            raise RuntimeError("the page crashed its tab")
        if method == "Page.javascriptDialogOpening":  # alert(): dismissed, or the page waits
            self._send("Page.handleJavaScriptDialog", {"accept": True}, got.get("sessionId"))
        return got

    def _event(self, deadline: float) -> dict:
        """The next event: first those read while waiting for a reply."""
        if self._events:
            return self._events.pop(0)
        return self._receive(deadline)

    def _call(self, method: str, params: dict | None, session: str | None,
              deadline: float) -> dict:  # fmt: skip
        wanted = self._send(method, params, session)
        while True:
            message = self._receive(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"Chromium: {method}: {message['error'].get('message')}")
                return message["result"]
            if "method" in message:
                self._events.append(message)


def screenshot(html_file: str | Path, png: str | Path, width: int = 1280,
               height: int = 2400, timeout: float = 90.0) -> None:  # fmt: skip
    subprocess.run(
        [_executable(), *_FLAGS, "--virtual-time-budget=15000", f"--window-size={width},{height}",
         f"--screenshot={Path(png).resolve()}", Path(html_file).resolve().as_uri()],
        capture_output=True, timeout=timeout, check=True,
    )  # fmt: skip
