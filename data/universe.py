"""The universe: Chinese AI names, their US peers, benchmarks and default pairs.

Read from a human-edited TOML file (the packaged default is ``data/universe.toml``).
"""

from __future__ import annotations

import functools
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from data.errors import UniverseError

__all__ = ["DEFAULT_UNIVERSE", "SEGMENTS", "Listing", "Universe", "load_universe"]

DEFAULT_UNIVERSE = Path(__file__).resolve().parent / "universe.toml"
SEGMENTS = ("cloud", "software", "internet", "chips", "hardware")
_VENUE_TV = {
    "NYSE": "NYSE",
    "NASDAQ": "NASDAQ",
    "NYSEARCA": "AMEX",
    "HKEX": "HKEX",
    "SSE": "SSE",
    "SZSE": "SZSE",
}


@dataclass(frozen=True)
class Listing:
    """One listed line.  ``role`` is ``china``, ``us`` or ``benchmark``."""

    ticker: str
    name: str
    role: str
    venue: str
    currency: str
    reporting_currency: str = "USD"
    country: str = ""
    segment: str = ""
    peers: tuple[str, ...] = ()
    cross_listing: str | None = None
    ads_ratio: float | None = None

    @property
    def tradingview(self) -> str:
        """TradingView import symbol, e.g. ``NYSE:BABA``, ``HKEX:700``, ``SSE:688256``."""
        symbol = self.ticker.split(".")[0]
        if self.venue == "HKEX":
            symbol = symbol.lstrip("0") or "0"
        return f"{_VENUE_TV.get(self.venue, self.venue)}:{symbol}"


@dataclass(frozen=True)
class Universe:
    listings: dict[str, Listing]
    pairs: tuple[tuple[str, str], ...]
    tilt: dict[str, float]
    segments: dict[str, str]
    path: Path = field(default=DEFAULT_UNIVERSE)

    def _role(self, role: str) -> list[str]:
        return [t for t, x in self.listings.items() if x.role == role]

    def fingerprint(self) -> str:
        """Everything a derived figure can depend on (listings, pairs, tilts, segments), for
        cache keys; not the file's path or time."""
        return self._fingerprint

    @functools.cached_property
    def _fingerprint(self) -> str:
        return repr(
            (sorted(self.listings.items()), self.pairs, sorted(self.tilt.items()),
             sorted(self.segments.items()))
        )  # fmt: skip

    @property
    def china(self) -> list[str]:
        return self._role("china")

    @property
    def us(self) -> list[str]:
        return self._role("us")

    @property
    def benchmarks(self) -> list[str]:
        return self._role("benchmark")

    @property
    def tickers(self) -> list[str]:
        return list(self.listings)

    def __getitem__(self, ticker: str) -> Listing:
        try:
            return self.listings[ticker]
        except KeyError:
            raise UniverseError(f"{ticker} is not in the universe ({self.path})") from None

    def company_lines(self, ticker: str) -> tuple[str, ...]:
        """The lines of one company, primary first: the line listed first in the universe file
        (BABA before 9988.HK, KC before 3896.HK, 0981.HK before 688981.SS)."""
        x = self[ticker]
        other = x.cross_listing
        if not other or other not in self.listings:
            return (ticker,)
        order = list(self.listings)
        return tuple(sorted((ticker, other), key=order.index))

    def other_line(self, ticker: str) -> tuple[Listing | None, float]:
        """The company's other listed line and how many units of ``ticker`` one of its units
        is: an HK line of an ADR company counts ADS x ratio, an ADR counts HK shares / ratio,
        an A-share and an HK line of one company count share for share."""
        x = self[ticker]
        other = self.listings.get(x.cross_listing or "")
        if other is None:
            return None, 1.0
        if other.ads_ratio is not None:
            return other, float(other.ads_ratio)
        if x.ads_ratio is not None:
            return other, 1.0 / float(x.ads_ratio)
        return other, 1.0

    def one_line_per_company(self, available: pd.DataFrame) -> pd.DataFrame:
        """``available`` (wide ``date x ticker``, bool) keeping, per date, one line of each
        company: the primary where it is available, else the other."""
        out = available.copy()
        for t in out.columns:
            lines = self.company_lines(t) if t in self.listings else (t,)
            if len(lines) == 2 and t == lines[1] and lines[0] in out.columns:
                out[t] = out[t] & ~available[lines[0]]
        return out

    def peers_of(self, ticker: str) -> tuple[str, ...]:
        """The US peer group of a Chinese name: its own list, else the US names of its segment."""
        x = self[ticker]
        if x.peers:
            return x.peers
        return tuple(t for t in self.us if self.listings[t].segment == x.segment)


def load_universe(path: str | Path | None = None) -> Universe:
    """Parse and validate a universe file; every problem is a one-line :class:`UniverseError`."""
    p = Path(path) if path is not None else DEFAULT_UNIVERSE
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UniverseError(f"universe file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UniverseError(f"cannot read universe file {p}: {e}") from None
    return _parse(text, p)


def _shown(value) -> str:
    """A value as a message shows it: on one line, and not longer than 60 characters."""
    text = str(value)
    if not text.isprintable():
        text = repr(text)
    return text if len(text) <= 60 else text[:57] + "..."


def _scalar(value) -> bool:
    """Text or a number (TOML's true and false are not)."""
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _text(value, what: str) -> str:
    """Text, or a number written as one (``name = 700``)."""
    if not _scalar(value):
        raise UniverseError(f"{what} must be text, not {_shown(repr(value))}")
    return str(value)


def _tickers(value, what: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise UniverseError(f"{what} must be a list of tickers, not {_shown(repr(value))}")
    out = []
    for t in value:
        if not isinstance(t, str):
            raise UniverseError(f"a ticker in {what} must be text, not {_shown(repr(t))}")
        out.append(t)
    return tuple(out)


def _positive(value, what: str) -> float:
    """A positive finite number, or one written as text (TOML's true/false, nan and inf, and
    integers too large for a float are not)."""
    number = math.nan
    if _scalar(value):
        try:
            number = float(value)
        except (ValueError, OverflowError):
            pass
    if not 0 < number < math.inf:
        raise UniverseError(f"{what} must be a positive number, not {_shown(repr(value))}")
    return number


def _table(raw: dict, key: str, default: dict) -> dict:
    value = raw.get(key, default)
    if not isinstance(value, dict):
        raise UniverseError(f"[{key}] must be a table, not {_shown(repr(value))}")
    return value


def _listing(ticker: str, role: str, d) -> Listing:
    """One entry of ``[china]``, ``[us]`` or ``[benchmarks]``; each field of the type it has
    in the packaged file (the messages name the entry and the field)."""
    who = _shown(ticker)
    if not isinstance(d, dict):
        raise UniverseError(f"entry {who} must be a table of fields, not {_shown(repr(d))}")
    if "venue" not in d:
        raise UniverseError(f"entry {who} is malformed (no venue)")
    text = lambda key, default: _text(d.get(key, default), f"{key} of {who}")  # noqa: E731
    cross = d.get("cross_listing")
    return Listing(
        ticker=ticker,
        name=text("name", ticker),
        role=role,
        venue=text("venue", None),
        currency=text("currency", "USD"),
        reporting_currency=text("reporting_currency", d.get("currency", "USD")),
        country=text("country", ""),
        segment=text("segment", ""),
        peers=_tickers(d.get("peers", []), f"peers of {who}"),
        cross_listing=None if cross is None else _tickers([cross], f"cross_listing of {who}")[0],
        ads_ratio=_positive(d["ads_ratio"], f"ads_ratio of {who}") if "ads_ratio" in d else None,
    )


@functools.lru_cache(maxsize=16)
def _parse(text: str, p: Path) -> Universe:
    """The universe in ``text`` (read from ``p``); one object per text, shared: read-only."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UniverseError(f"universe file {p} is not valid TOML: {e}") from None
    try:
        return _universe(raw, p)
    except UniverseError as e:
        raise UniverseError(f"{p}: {e}") from None


def _universe(raw: dict, p: Path) -> Universe:
    listings: dict[str, Listing] = {}
    for section, role in (("china", "china"), ("us", "us"), ("benchmarks", "benchmark")):
        for ticker, d in _table(raw, section, {}).items():
            if ticker in listings:
                raise UniverseError(f"{_shown(ticker)} is listed twice")
            listings[ticker] = _listing(ticker, role, d)
    segments = {
        s: _text(label, f"the label of segment {_shown(s)}")
        for s, label in _table(raw, "segments", {s: s for s in SEGMENTS}).items()
    }
    weights = _table(raw, "tilt", {})
    tilt = {s: _positive(weights.get(s, 1.0), f"the tilt weight of {_shown(s)}") for s in segments}
    for x in listings.values():
        who = _shown(x.ticker)
        if x.role != "benchmark" and x.segment not in segments:
            raise UniverseError(f"{who} has unknown segment {_shown(repr(x.segment))}")
        for peer in x.peers:
            if peer not in listings:
                raise UniverseError(f"peer {_shown(peer)} of {who} is not in the universe")
        if x.cross_listing and x.cross_listing not in listings:
            raise UniverseError(f"cross-listing {_shown(x.cross_listing)} of {who} is unknown")
    pairs = raw.get("pairs", [])
    if not isinstance(pairs, list):
        raise UniverseError(f"pairs must be a list of [china, us] pairs, not {_shown(repr(pairs))}")
    for pair in pairs:
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or any(not isinstance(t, str) or t not in listings for t in pair)
        ):
            raise UniverseError(f"pair {_shown(pair)} must name two tickers of the universe")
    for role in ("china", "us"):
        if not any(x.role == role for x in listings.values()):
            raise UniverseError(f"no [{role}.TICKER] section: nothing to screen")
    return Universe(
        listings=listings,
        pairs=tuple((a, b) for a, b in pairs),
        tilt=tilt,
        segments=segments,
        path=p,
    )
