"""How old a figure may be and still count: the one home of the staleness rules (plain numbers,
no imports, so the command line can state them as defaults without loading pandas)."""

from __future__ import annotations

__all__ = ["DATA_ENDED_DAYS", "MAX_PRICE_AGE_DAYS", "STALE_FUNDAMENTALS_DAYS"]

#: a close older than this (calendar days: a weekend and a two- or three-day holiday) is no
#: price on a date, in the point-in-time panel (:class:`data.pointintime.PanelConfig`) and in
#: the backtests' USD closes (:func:`data.fx.usd_closes`)
MAX_PRICE_AGE_DAYS = 7
#: a series with no close for longer than this (calendar days; the longest exchange holidays,
#: Lunar New Year and Golden Week, are 9-10 days) has ended, as far as anyone could tell
DATA_ENDED_DAYS = 20
#: annual figures whose period ended longer ago than this are stale (a year and three months:
#: the next annual report is late)
STALE_FUNDAMENTALS_DAYS = 456
