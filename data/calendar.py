"""The US trading calendar of a store (SPY's dates): the one source of default dates."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from data.dates import parse_period
from data.errors import NoDataError
from data.store import Store
from data.universe import Universe

__all__ = [
    "CALENDAR_TICKER",
    "DataBounds",
    "data_bounds",
    "default_period",
    "period_ends",
    "us_calendar",
]

#: the series whose dates are the US trading calendar
CALENDAR_TICKER = "SPY"


def us_calendar(
    store: Store, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
) -> pd.DatetimeIndex:
    """US trading days in the store between ``start`` and ``end`` (inclusive; default: all)."""
    cal: pd.DatetimeIndex = store.cached("us calendar", lambda: _trading_days(store)).copy()
    if cal.empty:
        raise NoDataError(f"the store has no {CALENDAR_TICKER} series for the US trading calendar")
    if start is not None:
        cal = cal[cal >= pd.Timestamp(start)]
    if end is not None:
        cal = cal[cal <= pd.Timestamp(end)]
    return cal


def default_period(store: Store, start, end=None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``start`` to ``end`` parsed and checked (:func:`data.dates.parse_period`); ``end``
    defaults to the store's last US trading day, the end of every default period."""
    return parse_period(start, end if end is not None else us_calendar(store).max())


def _trading_days(store: Store) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(store.close([CALENDAR_TICKER], strict=False).index)


def period_ends(calendar: pd.DatetimeIndex, freq: str) -> pd.DatetimeIndex:
    """The last trading day of each period of ``freq`` (pandas offset: ``W-FRI``, ``ME``,
    ``QE``) on ``calendar``; the final, possibly incomplete period included."""
    s = pd.Series(calendar, index=calendar)
    return pd.DatetimeIndex(s.groupby(pd.Grouper(freq=freq)).max().dropna().to_numpy())


@dataclass(frozen=True)
class DataBounds:
    """Where a store's data begin and end for a universe (None: no such data)."""

    #: the last US trading day (the calendar's; without it, the US names' last close): the
    #: default as-of date and the end of every default period
    last_us_day: pd.Timestamp | None
    #: the first close of a Chinese name
    first_china_price: pd.Timestamp | None
    #: the first day a valuation input (a filing or a snapshot) was public
    first_public_valuation: pd.Timestamp | None


def data_bounds(store: Store, universe: Universe) -> DataBounds:
    """The :class:`DataBounds` of ``store`` for ``universe`` (kept between runs: the screen
    needs them before anything else, and they would otherwise read every price)."""

    def compute() -> DataBounds:
        try:
            last = us_calendar(store).max()
        except NoDataError:
            last = store.close(universe.us, strict=False).index.max()
        china = store.close(universe.china, strict=False)
        f = store.table("fundamentals")["public_date"].min()
        v = store.table("valuations")["date"].min()
        public = [pd.Timestamp(x) for x in (f, v) if pd.notna(x)]
        return DataBounds(
            None if pd.isna(last) else pd.Timestamp(last),
            None if china.empty else pd.Timestamp(china.index.min()),
            min(public) if public else None,
        )

    bounds: DataBounds = store.cached(f"bounds:{universe.fingerprint()}", compute, persist=True)
    return bounds
