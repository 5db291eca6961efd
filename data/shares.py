"""Shares outstanding as of a date.

The ``shares`` table (built by ``data/build_snapshot.py``) holds one row per published count:
``ticker as_of public_date shares_millions basis_date kind source usable note``.  Counts are in
listed units (ADS for an ADR, ordinary shares for an HK or A-share line) on the share basis of
``basis_date``; ``kind`` says what the figure is (:data:`KIND_RANK`).

At a date the count used is the one with the latest ``as_of`` among those public by then, a count
outstanding winning over a weighted average of the same date; it is restated to the share basis
of the date (splits after ``basis_date``) and is too old past ``max_age_days``.  Rows marked
``usable = False`` (a weighted average over an IPO year, which understates the count after the
listing) are never used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data.asof import Published, as_datetime, published, split_restatement, to_current_basis
from data.store import Store
from data.universe import Universe

__all__ = [
    "KIND_RANK",
    "OUTSTANDING_KINDS",
    "SHARE_COLUMNS",
    "company_share_counts",
    "counts_published",
    "share_counts_of",
    "shares_asof",
]

#: columns of the ``shares`` table
SHARE_COLUMNS = [
    "ticker",
    "as_of",
    "public_date",
    "shares_millions",
    "basis_date",
    "kind",
    "usable",
    "source",
    "note",
]
#: preference among counts of the same date (higher wins)
KIND_RANK = {
    "weighted_basic": 0,
    "weighted_diluted": 1,
    "derived_ni_over_eps": 1,
    "aggregator_rounded": 2,
    "ashare_total": 3,
    "balance_outstanding": 3,
    "hkex_filing": 3,
    "cover_outstanding": 4,
}
OUTSTANDING_KINDS = frozenset(
    {
        "aggregator_rounded",
        "ashare_total",
        "balance_outstanding",
        "hkex_filing",
        "cover_outstanding",
    }
)


def share_counts_of(store: Store) -> pd.DataFrame:
    """The store's ``shares`` table; a store written before it existed (``aigap data update``
    of an older version) gets one from what it has: its annual weighted diluted shares and its
    ``shares_outstanding`` table, so the screen still runs (with fewer counts)."""
    if store.has_table("shares"):
        return store.table("shares")
    f = store.table("fundamentals")
    f = f[f["diluted_shares"].notna()]
    rows = [_dated_counts(f, "period_end", "public_date", "diluted_shares", "weighted_diluted")]
    if store.has_table("shares_outstanding"):
        so = store.table("shares_outstanding")
        rows.append(_dated_counts(so, "date", "date", "shares_millions", "aggregator_rounded"))
    return pd.concat(rows, ignore_index=True)


def _dated_counts(t: pd.DataFrame, as_of: str, public: str, value: str, kind: str) -> pd.DataFrame:
    """Rows of the shares table from a table of an older store layout."""
    return pd.DataFrame(
        {
            "ticker": t["ticker"].astype(str),
            "as_of": t[as_of],
            "public_date": t[public],
            "shares_millions": t[value].astype(float),
            "basis_date": t[public],
            "kind": kind,
            "usable": True,
            "source": "older store layout",
            "note": "",
        }
    )


def company_share_counts(
    shares: pd.DataFrame, universe: Universe, actions: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The shares table plus rows for a line with no count of its own whose company's other
    line has counts: an HK line of an ADR company at the ADS ratio (ordinary = ADS x ratio), an
    ADR from its HK line (ADS = ordinary / ratio), an A-share line share for share."""
    s = shares.copy()
    s["ticker"] = s["ticker"].astype(str)
    have = set(s.loc[s["usable"].astype(bool), "ticker"])
    extra = []
    for t in universe.china:
        other, ratio = universe.other_line(t)
        if t in have or other is None or other.ticker not in have:
            continue
        d = s[s["ticker"] == other.ticker].copy()
        # the other line's count on its current share basis first (splits, ADS-ratio changes)
        k = to_current_basis(actions, other.ticker, d["basis_date"])
        d["ticker"] = t
        d["shares_millions"] = d["shares_millions"] * k * ratio
        d["basis_date"] = pd.Timestamp("2262-01-01")  # on the line's current basis
        d["note"] = f"{other.ticker}'s count x {ratio:g}"
        extra.append(d)
    return pd.concat([s, *extra], ignore_index=True) if extra else s


def counts_published(shares: pd.DataFrame) -> Published:
    """The usable counts of :func:`company_share_counts` ready for :func:`shares_asof`: of one
    date, a count outstanding before a weighted average; of one kind, a primary source (filing,
    release) before an aggregate (SimFin, restated)."""
    s = shares[shares["usable"].astype(bool)].copy()
    s["as_of"] = as_datetime(s["as_of"]).to_numpy()
    src_rank = s["source_rank"] if "source_rank" in s.columns else 1
    s["_rank"] = s["kind"].map(KIND_RANK).fillna(0) * 10 + src_rank
    return published(s, period="as_of", rank="_rank")


def shares_asof(
    counts: Published, actions: pd.DataFrame, grid: pd.DataFrame, *, max_age_days: int
) -> pd.DataFrame:
    """Per ``(date, ticker)``: ``shares`` (millions of listed units on the date's basis),
    ``shares_as_of``, ``shares_public_date``, ``shares_kind``, ``shares_source`` and
    ``shares_too_old`` (a count exists but is older than ``max_age_days``)."""
    hit = counts.asof(grid)
    dates = hit.index.get_level_values("date")
    k = split_restatement(
        actions,
        hit.index.get_level_values("ticker").to_numpy(),
        as_datetime(hit["basis_date"]).to_numpy(),
        dates.to_numpy(),
    )
    age = (dates - pd.DatetimeIndex(hit["as_of"])).days
    too_old = np.asarray(age > max_age_days)
    out = pd.DataFrame(index=hit.index)
    out["shares"] = np.where(too_old, np.nan, hit["shares_millions"].to_numpy(dtype=float) * k)
    out["shares_as_of"] = hit["as_of"]
    out["shares_public_date"] = hit["public_date"]
    out["shares_kind"] = hit["kind"]
    out["shares_source"] = hit["source"]
    out["shares_too_old"] = too_old
    return out
