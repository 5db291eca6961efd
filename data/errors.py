"""Typed errors.  Every error the toolkit raises on purpose derives from :class:`AigapError`;
the CLI turns one into a single line on stderr and a non-zero exit code."""

from __future__ import annotations

__all__ = [
    "AigapError",
    "DataError",
    "InputError",
    "NoDataError",
    "OfflineError",
    "ProviderError",
    "UniverseError",
    "UnknownTickerError",
]


class AigapError(Exception):
    """Base class of the toolkit's errors; ``str(err)`` is a complete one-line message."""


class InputError(AigapError):
    """A command-line argument or parameter is invalid."""


class UniverseError(AigapError):
    """The universe file is missing, unreadable or inconsistent."""


class DataError(AigapError):
    """The data store is missing, unreadable or lacks what was asked for."""


class UnknownTickerError(DataError):
    def __init__(self, tickers: list[str] | str, where: str = "the data store") -> None:
        self.tickers = [tickers] if isinstance(tickers, str) else list(tickers)
        super().__init__(f"unknown ticker(s) {', '.join(self.tickers)} in {where}")


class NoDataError(DataError):
    """Nothing to compute on (for example an as-of date before any data)."""


class ProviderError(AigapError):
    """A live data provider failed."""


class OfflineError(ProviderError):
    """The live provider returned nothing at all (no network, or every request failed)."""
