"""Typed errors.  Every error the toolkit raises on purpose derives from :class:`AigapError`;
the CLI turns one into a single line on stderr and the class's documented exit code:

====  ==============================================================================
code  meaning
====  ==============================================================================
2     usage or input error: a bad option, date, pair, path or universe file
3     data error: the store lacks what was asked, or a file in it is corrupted
4     upstream failure: the live provider (Yahoo Finance) failed or is unreachable
====  ==============================================================================

Subclasses carry what a caller needs to act on the error (ticker, dates, path, reason).
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "EXIT_DATA",
    "EXIT_UPSTREAM",
    "EXIT_USAGE",
    "AigapError",
    "CorruptFileError",
    "DataError",
    "DateRangeError",
    "InputError",
    "NoDataError",
    "OfflineError",
    "OutputPathError",
    "ProviderError",
    "StoreLockedError",
    "UniverseError",
    "UnknownTickerError",
]

EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_UPSTREAM = 4


class AigapError(Exception):
    """Base class of the toolkit's errors; ``str(err)`` is a complete one-line message."""

    exit_code = EXIT_USAGE

    def __reduce__(self):
        """Pickled as its message and attributes, whatever its constructor takes (plain
        pickling calls the constructor with the message alone): an error raised in a worker
        process comes back as itself."""
        return _rebuilt, (type(self), self.args, self.__dict__)


def _rebuilt(cls: type[AigapError], args: tuple, state: dict) -> AigapError:
    err = cls.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err


class InputError(AigapError):
    """A command-line argument or parameter is invalid."""

    exit_code = EXIT_USAGE


class OutputPathError(InputError):
    """A file or folder the user asked us to write cannot be written."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot write {self.path}: {reason}")


class DateRangeError(InputError):
    """A period whose start is not before its end."""

    def __init__(self, start, end, message: str | None = None) -> None:
        self.start, self.end = start, end
        super().__init__(message or f"--start {start} must be before --end {end}")


class UniverseError(AigapError):
    """The universe file is missing, unreadable or inconsistent."""

    exit_code = EXIT_USAGE


class DataError(AigapError):
    """The data store is missing, unreadable or lacks what was asked for."""

    exit_code = EXIT_DATA


class CorruptFileError(DataError):
    """A store file is unreadable, truncated or does not match its manifest checksum."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(
            f"{self.path} is corrupted ({reason}); it was not used. Run `aigap data verify`, "
            "then `aigap data update` to re-fetch it"
        )


class StoreLockedError(DataError):
    """Another process is writing the store."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        super().__init__(
            f"another `aigap data update` is writing {self.path}; try again when it has finished"
        )


class UnknownTickerError(DataError):
    def __init__(self, tickers: list[str] | str, where: str = "the data store") -> None:
        self.tickers = [tickers] if isinstance(tickers, str) else list(tickers)
        super().__init__(f"unknown ticker(s) {', '.join(self.tickers)} in {where}")


class NoDataError(DataError):
    """Nothing to compute on (for example an as-of date before any data)."""


class ProviderError(AigapError):
    """A live data provider failed."""

    exit_code = EXIT_UPSTREAM

    def __init__(self, message: str, *, tickers: list[str] | None = None) -> None:
        self.tickers = list(tickers or [])
        super().__init__(message)


class OfflineError(ProviderError):
    """The live provider returned nothing at all (no network, or every request failed)."""
