"""The universe: Chinese AI names, their US peers, benchmarks and default pairs.

Read from a human-edited TOML file (the packaged default is ``data/universe.toml``).
"""

from __future__ import annotations

import functools
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


@functools.lru_cache(maxsize=16)
def _parse(text: str, p: Path) -> Universe:
    """The universe in ``text`` (read from ``p``); one object per text, shared: read-only."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UniverseError(f"universe file {p} is not valid TOML: {e}") from None
    listings: dict[str, Listing] = {}
    for section, role in (("china", "china"), ("us", "us"), ("benchmarks", "benchmark")):
        table = raw.get(section, {})
        if not isinstance(table, dict):
            raise UniverseError(f"{p}: [{section}] must be a table of tickers")
        for ticker, d in table.items():
            if ticker in listings:
                raise UniverseError(f"{p}: {ticker} is listed twice")
            try:
                listings[ticker] = Listing(
                    ticker=ticker,
                    name=str(d.get("name", ticker)),
                    role=role,
                    venue=str(d["venue"]),
                    currency=str(d.get("currency", "USD")),
                    reporting_currency=str(d.get("reporting_currency", d.get("currency", "USD"))),
                    country=str(d.get("country", "")),
                    segment=str(d.get("segment", "")),
                    peers=tuple(d.get("peers", ())),
                    cross_listing=d.get("cross_listing"),
                    ads_ratio=float(d["ads_ratio"]) if "ads_ratio" in d else None,
                )
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise UniverseError(f"{p}: entry {ticker} is malformed ({e!r})") from None
    segments = dict(raw.get("segments", {s: s for s in SEGMENTS}))
    for x in listings.values():
        if x.role != "benchmark" and x.segment not in segments:
            raise UniverseError(f"{p}: {x.ticker} has unknown segment {x.segment!r}")
        for peer in x.peers:
            if peer not in listings:
                raise UniverseError(f"{p}: peer {peer} of {x.ticker} is not in the universe")
        if x.cross_listing and x.cross_listing not in listings:
            raise UniverseError(f"{p}: cross-listing {x.cross_listing} of {x.ticker} is unknown")
    pairs = []
    for pair in raw.get("pairs", []):
        if len(pair) != 2 or any(t not in listings for t in pair):
            raise UniverseError(f"{p}: pair {pair} must name two tickers of the universe")
        pairs.append((str(pair[0]), str(pair[1])))
    for role in ("china", "us"):
        if not any(x.role == role for x in listings.values()):
            raise UniverseError(f"{p}: no [{role}.TICKER] section: nothing to screen")
    tilt = {s: float(raw.get("tilt", {}).get(s, 1.0)) for s in segments}
    if any(w <= 0 for w in tilt.values()):
        raise UniverseError(f"{p}: tilt weights must be positive")
    return Universe(listings=listings, pairs=tuple(pairs), tilt=tilt, segments=segments, path=p)
