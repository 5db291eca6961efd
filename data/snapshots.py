"""Valuation snapshots as of a date, field by field.

A snapshot row (Nasdaq or yfinance ``Ticker.info``, money in USD) can lack some fields: BABA's
Nasdaq row of 2026-06-30 has a market cap but no sales.  Each field is therefore taken from the
latest snapshot, of any source, that has it, was usable on or before the date
(``usable_from``) and is at most ``max_age_days`` old; its snapshot date and source are kept.
"""

from __future__ import annotations

import pandas as pd

from data.asof import as_datetime, grid_keys

__all__ = ["SNAPSHOT_FIELDS", "snapshot_fields_asof", "snapshot_rows"]

#: per-field money in USD; ``price`` is the snapshot's own quote (USD) at ``date``
SNAPSHOT_FIELDS = (
    "market_cap",
    "price",
    "sales",
    "net_income",
    "debt",
    "cash",
    "eps_ttm",
    "eps_fwd",
    "ebitda",
)


def _usable(v: pd.DataFrame) -> pd.DataFrame:
    v = v.copy()
    v["ticker"] = v["ticker"].astype(str)
    v["date"] = as_datetime(v["date"]).to_numpy()
    default = v["date"] + pd.Timedelta(days=1)
    if "usable_from" in v.columns:
        v["usable_from"] = as_datetime(v["usable_from"]).fillna(default).to_numpy()
    else:
        v["usable_from"] = default
    # one row per (date, ticker): Nasdaq first where both sources recorded the same close
    v["_pref"] = (v["source"] == "nasdaq").astype(int)
    v = v.sort_values(["ticker", "date", "_pref"], kind="mergesort")
    return v.drop_duplicates(["date", "ticker", "source"], keep="last")


def snapshot_rows(valuations: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per field of :data:`SNAPSHOT_FIELDS` in ``valuations``: the rows that have it, one per
    ticker and moment it became usable (the latest close first, Nasdaq before yfinance on the
    same close), ready for :func:`snapshot_fields_asof`."""
    v = _usable(valuations)
    # one stable sort for every field: a field's rows, taken in this order, are in the order
    # a stable sort of those rows alone would give
    v = v.sort_values(["usable_from", "date", "_pref"], kind="mergesort")
    v = v.assign(ticker=v["ticker"].astype(object))
    out = {}
    for f in SNAPSHOT_FIELDS:
        if f not in v.columns:
            continue
        extra = {"market_cap": ["price"], "sales": ["sales_basis"]}.get(f, [])
        rows = v.loc[v[f].notna(), ["ticker", "date", "usable_from", "source", "_pref", f, *extra]]
        rows = rows.drop_duplicates(["ticker", "usable_from"], keep="last").drop(columns="_pref")
        names = {"date": f"{f}_date", "source": f"{f}_source"}
        if f == "market_cap":
            names["price"] = "market_cap_price"  # the quote the market cap was taken at
        out[f] = rows.rename(columns=names)
    return out


def snapshot_fields_asof(
    rows: dict[str, pd.DataFrame], grid: pd.DataFrame, *, max_age_days: int
) -> pd.DataFrame:
    """Per ``(date, ticker)`` of ``grid``: for each field ``f`` of :data:`SNAPSHOT_FIELDS`,
    ``f``, ``f_date`` (the close the figure refers to) and ``f_source``; plus
    ``sales_basis`` (``latest_fy`` or ``ttm``) with the sales figure.  A market cap comes with
    the quote it was taken at (``market_cap_price``) from the same row.  ``rows``:
    :func:`snapshot_rows` of the valuations table."""
    g = grid_keys(grid)
    out = pd.DataFrame(index=pd.MultiIndex.from_frame(g))
    tol = pd.Timedelta(days=max_age_days)
    for field_rows in rows.values():
        hit = pd.merge_asof(
            g,
            field_rows,
            left_on="date",
            right_on="usable_from",
            by="ticker",
            direction="backward",
            tolerance=tol,
        )
        hit.index = out.index
        for c in hit.columns:
            if c not in ("date", "ticker", "usable_from"):
                out[c] = hit[c].to_numpy()
    return out
