"""What a command writes and where: one object instead of loose keyword arguments."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console

from data.jsonsafe import to_json

__all__ = ["Output"]


@dataclass(frozen=True)
class Output:
    """``fmt``: table or json on stdout; ``out``: a folder (backtests) or file for the full
    output; ``report``: an HTML report file; ``console``: where tables go."""

    fmt: str = "table"
    out: str | None = None
    report: str | None = None
    console: Console | None = None

    @property
    def screen(self) -> Console:
        return self.console or Console()

    def emit(self, doc: dict, tables: Callable[[Console], None]) -> None:
        """The document on stdout as JSON, or ``tables`` drawn on the console."""
        if self.fmt == "json":
            sys.stdout.write(to_json(doc))
        else:
            tables(self.screen)
