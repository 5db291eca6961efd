"""Reported fundamentals as of a date: one public-date rule, one period per multiple.

The ``fundamentals`` table holds one row per (ticker, fiscal period) with money in millions of
``currency``, per-share figures per listed unit on the share basis of the row's ``public_date``,
and ``public_date``: the first close at which the figures could be used.

* :func:`filing_lag_days` is the one rule for a figure without a reported date (the snapshot
  build and ``aigap data update`` both use it).
* :func:`company_fundamentals` adds the rows of HK lines of ADR companies (the ADR's statements at
  the ADS ratio) and each row's revenue growth over the previous fiscal year.
* :func:`fundamentals_asof` takes, per date and ticker, the latest period public by then (ties
  broken by period end, then by publication): the sales block (revenue and its growth) from the
  latest period that has revenue, the earnings block (net income and diluted EPS) from the latest
  period that has net income, each from one row.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from data.asof import Published, as_datetime, published, split_restatement, to_current_basis
from data.universe import Universe

__all__ = [
    "FiledFundamentals",
    "company_fundamentals",
    "filed",
    "filing_lag_days",
    "fundamentals_asof",
]


def filing_lag_days(ticker: str, *, foreign_issuer: bool) -> int:
    """Days after the period end by which annual figures are public when no reported date is
    known: A-share annual reports are due by April 30 (120), HK annual results within three
    months (90), a 20-F within four months (120), a 10-K within 60-90 days (90)."""
    if ticker.endswith((".SS", ".SZ")):
        return 120
    if ticker.endswith(".HK"):
        return 90
    return 120 if foreign_issuer else 90


def company_fundamentals(
    fundamentals: pd.DataFrame, universe: Universe, actions: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The fundamentals table with ``revenue_growth_pct`` per row and rows for lines that have
    none of their own but whose company reports under its other listing (an HK line of an ADR
    company: per-share figures at the ADS ratio; an A-share line of an HK-listed company: share
    for share)."""
    f = fundamentals.copy()
    for c in ("period_end", "public_date"):
        f[c] = as_datetime(f[c]).to_numpy()
    f["ticker"] = f["ticker"].astype(str)
    if "basis" not in f.columns:
        f["basis"] = "annual"
    f["basis"] = f["basis"].fillna("annual")
    f["revenue_prev"] = _year_earlier(f, "revenue")
    growth = (f["revenue"] / f["revenue_prev"] - 1.0) * 100.0
    f["revenue_growth_pct"] = growth.where(f["revenue_prev"] > 0)
    derived = []
    have = set(f["ticker"])
    for t in universe.china:
        other, ratio = universe.other_line(t)
        if t in have or other is None or other.ticker not in have:
            continue
        d = f[f["ticker"] == other.ticker].copy()
        # the other line's figures on its current basis first (NTES: per 25-share ADS until
        # its 2020-10-02 ratio change, the universe's ratio of 5 after), then per unit of t
        k = to_current_basis(actions, other.ticker, d["public_date"])
        d["ticker"] = t
        d["diluted_eps"] = d["diluted_eps"] / k / ratio
        d["diluted_shares"] = d["diluted_shares"] * k * ratio
        d["source"] = f"{other.ticker}'s statements at {ratio:g} shares per listed unit"
        derived.append(d)
    if derived:
        f = pd.concat([f, *derived], ignore_index=True)
    return f.sort_values(["ticker", "period_end", "public_date"]).reset_index(drop=True)


def _year_earlier(f: pd.DataFrame, col: str) -> pd.Series:
    """``col`` of the same ticker and basis (annual, ttm) one year earlier (period end 345-385
    days before), aligned with ``f``."""
    left = f[["ticker", "basis", "period_end"]].reset_index()
    left["target"] = left["period_end"] - pd.Timedelta(days=365)
    right = f[f[col].notna()][["ticker", "basis", "period_end", col]]
    hit = pd.merge_asof(
        left.sort_values("target"),
        right.sort_values("period_end"),
        left_on="target",
        right_on="period_end",
        by=["ticker", "basis"],
        direction="nearest",
        tolerance=pd.Timedelta(days=20),
        suffixes=("", "_prev"),
    )
    return pd.Series(hit[col].to_numpy(), index=hit["index"].to_numpy()).reindex(f.index)


@dataclass(frozen=True)
class FiledFundamentals:
    """The fundamentals prepared for as-of selection, once per table (:func:`filed`)."""

    sales: Published  #: periods with revenue
    earnings: Published  #: periods with net income
    latest: Published  #: every period, with or without those


def filed(fundamentals: pd.DataFrame) -> FiledFundamentals:
    """:func:`company_fundamentals` ready for :func:`fundamentals_asof`: for one period a
    primary source (filing, release) before an aggregate (``source_rank``)."""
    f = fundamentals
    if "source_rank" not in f.columns:
        f = f.assign(source_rank=1)
    f = f.assign(source_rank=f["source_rank"].fillna(1))
    return FiledFundamentals(
        sales=published(f[f["revenue"].notna()], rank="source_rank"),
        earnings=published(f[f["net_income"].notna()], rank="source_rank"),
        latest=published(f, rank="source_rank"),
    )


def fundamentals_asof(
    fundamentals: FiledFundamentals, actions: pd.DataFrame, grid: pd.DataFrame
) -> pd.DataFrame:
    """Per ``(date, ticker)`` of ``grid``: ``revenue revenue_growth_pct sales_currency
    sales_period_end sales_public_date`` (one row) and ``net_income eps earnings_currency
    earnings_period_end earnings_public_date`` (one row); ``eps`` restated to the share basis of
    the date (splits between its public date and the date)."""
    # the latest period
    sales = fundamentals.sales.asof(grid)
    out = pd.DataFrame(index=sales.index)
    out["revenue"] = sales["revenue"]
    out["revenue_growth_pct"] = sales["revenue_growth_pct"]
    out["sales_currency"] = sales["currency"]
    out["sales_basis"] = sales["basis"] if "basis" in sales else "annual"
    out["sales_period_end"] = sales["period_end"]
    out["sales_public_date"] = sales["public_date"]
    earn = fundamentals.earnings.asof(grid).reindex(out.index)
    out["net_income"] = earn["net_income"]
    dates = out.index.get_level_values("date")
    tickers = out.index.get_level_values("ticker").to_numpy()
    k = split_restatement(actions, tickers, earn["public_date"].to_numpy(), dates.to_numpy())
    out["eps"] = earn["diluted_eps"].to_numpy(dtype=float) / k
    out["earnings_currency"] = earn["currency"]
    out["earnings_period_end"] = earn["period_end"]
    out["earnings_public_date"] = earn["public_date"]
    # the latest period public at all, with or without the fields above
    any_row = fundamentals.latest.asof(grid).reindex(out.index)
    out["latest_period_end"] = any_row["period_end"]
    return out
