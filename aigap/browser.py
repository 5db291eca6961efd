"""Open a report in headless Chromium (Debian's ``chromium``): what the page reports about
itself after load (JavaScript errors, charts drawn), and screenshots for the README."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from data.errors import InputError

__all__ = ["PageCheck", "chromium", "load_page", "screenshot"]

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
          "--virtual-time-budget=15000"]  # fmt: skip


def chromium() -> str | None:
    """The Chromium executable, or None where it is not installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass(frozen=True)
class PageCheck:
    errors: list[str]  #: JavaScript errors caught by the page's probe
    charts: int  #: plotly charts in the page
    drawn: int  #: charts whose SVG is in the DOM after load


def load_page(html_file: str | Path, timeout: float = 90.0) -> PageCheck:
    """Load the page and read the probe's attributes on ``<body>``."""
    exe = chromium()
    if exe is None:
        raise InputError("Chromium is not installed (apt-get install chromium)")
    url = Path(html_file).resolve().as_uri()
    dom = subprocess.run([exe, *_FLAGS, "--dump-dom", url], capture_output=True, text=True,
                         timeout=timeout, check=True).stdout  # fmt: skip

    def attr(name: str) -> str | None:
        m = re.search(rf'<body[^>]*\s{name}="([^"]*)"', dom)
        return None if m is None else m.group(1).replace("&quot;", '"')

    errors = attr("data-errors")
    return PageCheck(
        errors=json.loads(errors) if errors is not None else ["the probe did not run"],
        charts=dom.count('class="plotly-graph-div'),
        drawn=int(attr("data-drawn") or 0),
    )


def screenshot(html_file: str | Path, png: str | Path, width: int = 1280,
               height: int = 2400, timeout: float = 90.0) -> None:  # fmt: skip
    exe = chromium()
    if exe is None:
        raise InputError("Chromium is not installed (apt-get install chromium)")
    subprocess.run(
        [exe, *_FLAGS, f"--window-size={width},{height}", f"--screenshot={Path(png).resolve()}",
         Path(html_file).resolve().as_uri()],
        capture_output=True, timeout=timeout, check=True,
    )  # fmt: skip
