"""The US trading calendar of a store (SPY's dates): the one source of default dates."""

from __future__ import annotations

import pandas as pd

from data.errors import NoDataError
from data.store import Store

__all__ = ["CALENDAR_TICKER", "DATA_ENDED_DAYS", "period_ends", "us_calendar"]

#: the series whose dates are the US trading calendar
CALENDAR_TICKER = "SPY"
#: a series with no close for longer than this (calendar days; the longest exchange holidays,
#: Lunar New Year and Golden Week, are 9-10 days) has ended, as far as anyone could tell
DATA_ENDED_DAYS = 20


def us_calendar(
    store: Store, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
) -> pd.DatetimeIndex:
    """US trading days in the store between ``start`` and ``end`` (inclusive; default: all)."""
    spy = store.close([CALENDAR_TICKER], strict=False)
    if spy.empty:
        raise NoDataError(f"the store has no {CALENDAR_TICKER} series for the US trading calendar")
    cal = pd.DatetimeIndex(spy.index)
    if start is not None:
        cal = cal[cal >= pd.Timestamp(start)]
    if end is not None:
        cal = cal[cal <= pd.Timestamp(end)]
    return cal


def period_ends(calendar: pd.DatetimeIndex, freq: str) -> pd.DatetimeIndex:
    """The last trading day of each period of ``freq`` (pandas offset: ``W-FRI``, ``ME``,
    ``QE``) on ``calendar``; the final, possibly incomplete period included."""
    s = pd.Series(calendar, index=calendar)
    return pd.DatetimeIndex(s.groupby(pd.Grouper(freq=freq)).max().dropna().to_numpy())
