"""As-of selection: the figure that was public on each date (one rule, used by every table).

:func:`latest_public` picks, for every ``(date, ticker)`` of a grid, the row whose
``public_date`` is on or before the date and whose period is the latest among those (ties
broken by the row's ``rank`` where one is given, then by the later public date).  All fields
come from that one row, so a multiple never mixes two fiscal periods.  :func:`published`
prepares a table once (sorted, walked in order of publication) for lookups on many grids.

:func:`asof_wide` is the same rule for wide series (prices, FX): the last value on or before each
date and the date of that value (:func:`last_rows` and :func:`take` on arrays).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "Published",
    "as_datetime",
    "as_days",
    "asof_wide",
    "grid_frame",
    "grid_keys",
    "last_rows",
    "latest_public",
    "published",
    "split_restatement",
    "take",
    "to_current_basis",
]


def as_datetime(values) -> pd.Series:
    """Datetimes at one resolution (pandas 3 keeps s/ms/us/ns apart; merge_asof needs one)."""
    return pd.Series(pd.to_datetime(values)).astype("datetime64[us]")


def as_days(dates) -> pd.DatetimeIndex:
    """Dates as the point-in-time panel reads them: midnight, each once, in order."""
    return pd.DatetimeIndex(as_datetime(list(dates))).normalize().unique().sort_values()


def grid_frame(dates: pd.DatetimeIndex, tickers: list[str]) -> pd.DataFrame:
    """Every ``(date, ticker)`` pair as columns, dates at microsecond resolution."""
    idx = pd.MultiIndex.from_product([dates, tickers], names=["date", "ticker"])
    g = idx.to_frame(index=False)
    g["date"] = as_datetime(g["date"]).to_numpy()
    g["ticker"] = g["ticker"].astype(str)
    return g


def grid_keys(grid: pd.DataFrame) -> pd.DataFrame:
    """``grid``'s ``date`` and ``ticker`` as the left side of an as-of merge: in date order,
    tickers as objects (one key dtype, even for an empty table)."""
    g = grid[["date", "ticker"]].sort_values("date", kind="mergesort")
    return g.assign(ticker=g["ticker"].astype(object))


@dataclass(frozen=True)
class Published:
    """Rows ready for as-of selection: sorted and walked once (:func:`published`), then looked
    up for any grid (:meth:`asof`)."""

    rows: pd.DataFrame  #: the rows in lexicographic order of their sort keys, per ticker
    known: pd.DataFrame  #: per ticker and public date, the best row known by then

    def asof(self, grid: pd.DataFrame) -> pd.DataFrame:
        """See :func:`latest_public`."""
        hit = pd.merge_asof(
            grid_keys(grid), self.known, left_on="date", right_on="_known", by="ticker"
        )
        out = self.rows.reindex(hit["_best"].to_numpy())
        out.index = pd.MultiIndex.from_arrays(
            [pd.DatetimeIndex(hit["date"]), hit["ticker"].to_numpy()], names=["date", "ticker"]
        )
        return out


def published(
    rows: pd.DataFrame,
    *,
    period: str = "period_end",
    public: str = "public_date",
    rank: str | None = None,
) -> Published:
    """``rows`` prepared for :func:`latest_public` (the same arguments)."""
    r = rows.copy()
    r["ticker"] = r["ticker"].astype(str)
    r[public] = as_datetime(r[public]).to_numpy()
    r[period] = as_datetime(r[period]).to_numpy()
    r = r.dropna(subset=[public, period])
    keys = [period, rank, public] if rank else [period, public]
    r = r.sort_values(["ticker", *keys], kind="mergesort").reset_index(drop=True)
    r["_order"] = np.arange(len(r))  # lexicographic order of the sort keys, per ticker
    # walk each ticker's rows in order of publication: the best row known so far
    by_pub = r.sort_values(["ticker", public, "_order"], kind="mergesort")
    best = by_pub.groupby("ticker", sort=False)["_order"].cummax()
    known = pd.DataFrame(
        {"ticker": by_pub["ticker"].to_numpy(), "_known": by_pub[public].to_numpy(), "_best": best}
    ).drop_duplicates(["ticker", "_known"], keep="last")
    known = known.assign(ticker=known["ticker"].astype(object)).sort_values("_known")
    return Published(rows=r.drop(columns=["ticker", "_order"]), known=known)


def latest_public(
    rows: pd.DataFrame,
    grid: pd.DataFrame,
    *,
    period: str = "period_end",
    public: str = "public_date",
    rank: str | None = None,
) -> pd.DataFrame:
    """For each row of ``grid`` (columns ``date``, ``ticker``), the row of ``rows`` public on or
    before ``date`` with the latest ``period``, ties broken by the highest ``rank`` (when
    given), then by the latest ``public``.  Returns a frame indexed by ``(date, ticker)`` with
    the columns of ``rows`` (NaN where nothing was public)."""
    return published(rows, period=period, public=public, rank=rank).asof(grid)


def last_rows(index: pd.Index, valid: np.ndarray, dates: pd.DatetimeIndex) -> np.ndarray:
    """Per date and column of ``valid`` (rows on ``index``: sorted, unique, no NaT): the row of
    the last valid value on or before the date, -1 where there is none (and for a NaT date)."""
    if not len(index):
        return np.full((len(dates), valid.shape[1]), -1)
    rows = np.maximum.accumulate(np.where(valid, np.arange(len(index))[:, None], -1), axis=0)
    day = dates.to_numpy(dtype="datetime64[us]")
    at = np.searchsorted(index.to_numpy(dtype="datetime64[us]"), day, "right")
    at[np.isnat(day)] = 0  # searchsorted puts NaT after every date
    return np.where(at[:, None] > 0, rows[np.maximum(at - 1, 0)], -1)


def take(values: np.ndarray, rows: np.ndarray, fill) -> np.ndarray:
    """``values[rows[i, j], j]``, ``fill`` where the row is -1."""
    if not len(values):
        return np.full(rows.shape, fill)
    return np.where(rows >= 0, values[np.maximum(rows, 0), np.arange(values.shape[1])], fill)


def asof_wide(wide: pd.DataFrame, dates: pd.DatetimeIndex) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Last value on or before each date, and the date of that value (NaN and NaT where there is
    none); ``wide``'s index is sorted and unique."""
    values = wide.to_numpy(dtype=float)
    rows = last_rows(wide.index, ~np.isnan(values), dates)
    when = take(wide.index.to_numpy(dtype="datetime64[us]")[:, None], rows, np.datetime64("NaT"))
    return (
        pd.DataFrame(take(values, rows, np.nan), index=dates, columns=wide.columns),
        pd.DataFrame(when.astype("datetime64[us]"), index=dates, columns=wide.columns),
    )


def split_restatement(
    actions: pd.DataFrame,
    tickers: np.ndarray,
    from_dates: np.ndarray,
    to_dates: np.ndarray,
) -> np.ndarray:
    """Factor that puts a share count on the share basis of ``from_dates`` onto that of
    ``to_dates`` (multiply counts, divide per-share figures): the product of the splits dated in
    ``(from, to]``, or its inverse when ``to`` is earlier.  NaN dates give 1."""
    out = np.ones(len(tickers))
    fr = pd.DatetimeIndex(from_dates)
    to = pd.DatetimeIndex(to_dates)
    ok = ~(fr.isna() | to.isna())
    for t, d, f in zip(
        actions["ticker"], pd.to_datetime(actions["date"]), actions["factor"], strict=True
    ):
        m = (tickers == t) & ok
        if not m.any():
            continue
        fwd = m & (fr < d) & (to >= d)
        back = m & (to < d) & (fr >= d)
        out[fwd] *= float(f)
        out[back] /= float(f)
    return out


def to_current_basis(actions: pd.DataFrame | None, ticker: str, dates) -> np.ndarray:
    """Factor that puts figures of ``ticker`` on the share basis of ``dates`` onto its current
    basis (every recorded split or ADS-ratio change after each date); multiply counts."""
    n = len(dates)
    if actions is None or not len(actions):
        return np.ones(n)
    far = np.full(n, np.datetime64("2262-01-01"), dtype="datetime64[us]")
    tick = np.full(n, ticker, dtype=object)
    return split_restatement(actions, tick, as_datetime(dates).to_numpy(), far)
