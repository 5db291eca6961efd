"""Currency conversion: listing-currency prices to USD with the FX rate as of each date."""

from __future__ import annotations

import numpy as np
import pandas as pd

from data.asof import asof_wide
from data.rules import MAX_PRICE_AGE_DAYS
from data.store import FX_CURRENCY, FX_SYMBOLS, Store
from data.universe import Universe

__all__ = ["close_age_days", "fixing_since", "fx_asof", "fx_coverage_note", "usd_closes"]


def _fx_table(store: Store) -> pd.DataFrame:
    """Units per USD of each currency of :data:`FX_SYMBOLS`, by date (kept per store)."""

    def build() -> pd.DataFrame:
        rates = {}
        for ccy in FX_SYMBOLS:
            try:
                rates[ccy] = store.fx(ccy)
            except Exception:  # a store without that FX series: conversions from it are NaN
                rates[ccy] = pd.Series(dtype=float)
        return pd.DataFrame(rates).sort_index()

    return store.cached("fx rates", build)


def fx_asof(store: Store, dates: pd.DatetimeIndex) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Units per USD of each currency on each date (last rate on or before it) and its date."""
    val, when = asof_wide(_fx_table(store), dates)
    val.insert(0, "USD", 1.0)
    when.insert(0, "USD", dates)
    return val, when


def _ages(when: pd.DataFrame) -> pd.DataFrame:
    """Whole days from ``when`` (the date of each column's last value on or before each date
    of the index: :func:`data.asof.asof_wide`) to the index's date (NaN before a column's first
    value; integer columns where every date has one)."""
    index = pd.DatetimeIndex(when.index)
    seen = when.to_numpy(dtype="datetime64[us]")
    delta = (index.to_numpy(dtype="datetime64[us]")[:, None] - seen).astype("int64")
    days = np.where(np.isnat(seen), np.nan, delta // 86_400_000_000)
    out = pd.DataFrame(days, index=when.index, columns=when.columns)
    whole = [c for c in out.columns if not out[c].isna().any()]
    return out.astype(dict.fromkeys(whole, "int64")) if whole else out


def close_age_days(store: Store, tickers: list[str], index: pd.DatetimeIndex) -> pd.DataFrame:
    """Days since each ticker's last home-market close, on ``index`` (0: it closed that day; NaN
    before its first close).  An order can only fill on a day with age 0."""
    _, when = asof_wide(store.close(tickers, strict=False), index)
    return _ages(when).reindex(columns=list(dict.fromkeys(tickers)))


def usd_closes(
    store: Store,
    universe: Universe,
    tickers: list[str],
    index: pd.DatetimeIndex,
    *,
    max_stale_days: int = MAX_PRICE_AGE_DAYS,
) -> pd.DataFrame:
    """Wide ``date x ticker`` closes in USD on ``index`` (for example the US trading calendar).

    The close used on a date is the ticker's last close on or before it (an HK or A-share close
    of the same calendar day is known before the New York close); the FX rate is the last on or
    before the date.  A close older than ``max_stale_days`` is NaN: a series that stops is not
    carried forward as if it still traded.  A ticker without any stored price is all NaN."""
    close = store.close(tickers, strict=False)
    val, when = asof_wide(close, index)
    val = val.where(_ages(when) <= max_stale_days)
    rates, _ = fx_asof(store, index)
    ccys = {t: universe[t].currency if t in universe.listings else "USD" for t in close.columns}
    for ccy in dict.fromkeys(ccys.values()):
        store.fx(ccy)  # a currency without an FX series: the store's one error
    out = {t: val[t] if ccy == "USD" else val[t] / rates[ccy] for t, ccy in ccys.items()}
    return pd.DataFrame(out, index=index).reindex(columns=list(dict.fromkeys(tickers)))


def fixing_since(store: Store) -> dict[str, pd.Timestamp]:
    """Per currency, the first date from which the stored rate is a central-bank fixing rather
    than a market rate (the manifest's FX segments whose source is a fixing)."""
    out = {}
    for s in store.manifest().get("series", []):
        ccy = FX_CURRENCY.get(s.get("ticker", ""))
        for seg in s.get("segments", []):
            if ccy and "fixing" in str(seg.get("source", "")):
                out[ccy] = pd.Timestamp(seg["first_date"])
    return out


def fx_coverage_note(store: Store, end: pd.Timestamp) -> str | None:
    """A note when USD conversions after an FX series ends carry its last rate forward, or use a
    central-bank fixing instead of a market rate."""
    notes = []
    late = []
    for ccy in FX_SYMBOLS:
        last = store.fx(ccy).index.max()
        if last < end:
            late.append(f"USD/{ccy} after {last.date()}")
    if late:
        notes.append("FX carried forward (last known rate) for " + ", ".join(late))
    for ccy, since in sorted(fixing_since(store).items()):
        if since <= end:
            notes.append(f"USD/{ccy} from {since.date()} is the central-bank fixing, not spot")
    return "; ".join(notes) or None
