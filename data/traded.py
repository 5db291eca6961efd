"""Closes as traded: undo the dividend adjustment of a stored (Yahoo-style) adjusted close.

An adjusted close multiplies each past close by the product, over every later ex-date, of
``1 - dividend / close before the ex-date`` and divides it by every later split.  Market caps and
per-share multiples need the close *as traded on the date*: the adjusted close bakes in dividends
paid after the date (look-ahead) and later splits (a change of units).

Method (pure functions; the snapshot build and ``aigap data update`` both use them):

1. Every source of *dividend-unadjusted* closes (raw exchange closes, or Yahoo ``Close`` with
   ``auto_adjust=False``, which is split-adjusted as of its download) is put on the store's split
   basis with the recorded splits: :func:`to_store_split_basis`.
2. On each date such a close exists, the dividend factor is ``adjusted / unadjusted``
   (:func:`dividend_factor`); where two sources have the date, the first listed wins.  The last
   stored close is as traded by construction (the stitched series is anchored to it), so the
   factor is 1 there.
3. Between observations the factor is a step function that only moves on ex-dates.  In a gap the
   move is spread evenly over time (log-linear; exact when the factor does not move), unless a
   recorded ex-date places the step.  Dates in a gap whose factor moves by more than
   :data:`GAP_TOLERANCE` without a recorded ex-date are marked ``estimated``.
4. The traded close is ``adjusted / factor x (product of splits after the date)``.

Knowing the past dividend record is not look-ahead: each factor only converts a stored price back to
the price printed on its own date.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "GAP_TOLERANCE",
    "TradedClose",
    "UnadjustedSource",
    "dividend_factor",
    "split_product_after",
    "to_store_split_basis",
    "traded_close",
]

#: a gap between two observed dividend factors that differ by more than this is "estimated"
GAP_TOLERANCE = 0.005
#: observed factors outside this range are bad data (a missed split, a bad print), not dividends
_FACTOR_RANGE = (0.3, 1.02)


@dataclass(frozen=True)
class UnadjustedSource:
    """Dividend-unadjusted closes from one source.

    ``basis``: ``None`` for closes as printed (no split adjustment at all), else the date up to
    which the source applied splits (its download date, for Yahoo ``Close``)."""

    name: str
    close: pd.Series
    basis: pd.Timestamp | None = None


@dataclass(frozen=True)
class TradedClose:
    """Per date of the adjusted series: the close as traded, the dividend factor and where the
    factor came from (a source name, ``end anchor``, or ``filled``); ``estimated`` marks dates whose
    factor was filled across a gap in which it moved by more than :data:`GAP_TOLERANCE`."""

    frame: pd.DataFrame  # columns: close_traded, dividend_factor, factor_source, estimated
    observed: dict[str, int]


def split_product_after(
    dates: pd.DatetimeIndex, splits: pd.DataFrame, *, after: pd.Timestamp | None = None
) -> np.ndarray:
    """Product of the ``factor`` of every split dated after each date (and after ``after``).

    ``splits``: columns ``date`` and ``factor`` (new shares per old share) for one ticker."""
    out = np.ones(len(dates))
    for d, f in zip(pd.to_datetime(splits["date"]), splits["factor"], strict=True):
        if after is not None and d <= after:
            continue
        out *= np.where(dates < d, float(f), 1.0)
    return out


def to_store_split_basis(src: UnadjustedSource, splits: pd.DataFrame) -> pd.Series:
    """The source's closes on the split basis of the store (every recorded split applied)."""
    s = src.close.dropna()
    s = s[s > 0]
    idx = pd.DatetimeIndex(s.index)
    return s / split_product_after(idx, splits, after=src.basis)


def dividend_factor(
    adjusted: pd.Series,
    sources: list[UnadjustedSource],
    splits: pd.DataFrame,
    *,
    ex_dates: tuple[pd.Timestamp, ...] = (),
) -> pd.DataFrame:
    """Dividend factor ``adjusted / unadjusted`` on every date of ``adjusted`` (see module doc)."""
    adjusted = adjusted.dropna()
    idx = pd.DatetimeIndex(adjusted.index)
    obs = pd.Series(np.nan, index=idx)
    who = pd.Series("", index=idx, dtype=object)
    for src in sources:
        u = to_store_split_basis(src, splits).reindex(idx)
        f = adjusted / u
        ok = f.between(*_FACTOR_RANGE) & obs.isna()
        obs[ok] = f[ok]
        who[ok] = src.name
    if len(idx) and pd.isna(obs.iloc[-1]):
        obs.iloc[-1] = 1.0  # the stitched level is anchored to the last close as traded
        who.iloc[-1] = "end anchor"
    nxt = obs.bfill()
    prv = obs.ffill()
    seen = pd.Series(idx.where(obs.notna()), index=idx)
    last_obs, next_obs = seen.ffill(), seen.bfill()
    # inside a gap the unknown ex-dates are spread evenly: the log factor moves linearly in time
    # from the last observed factor to the next (no artificial one-day jump); before the first
    # observation the first factor holds
    span = (next_obs - last_obs).dt.days.astype(float)
    frac = ((idx.to_series(index=idx) - last_obs).dt.days / span.where(span > 0)).fillna(1.0)
    filled = np.exp(np.log(prv) + (np.log(nxt) - np.log(prv)) * frac).fillna(nxt)
    # a recorded ex-date inside a gap places the step: the previous factor before it, the next
    # from it on (exact when it is the gap's only ex-date)
    dated = pd.Series(False, index=idx)
    for e in ex_dates:
        in_gap = obs.isna() & prv.notna() & (last_obs < e) & (next_obs >= e)
        filled[in_gap & (idx < e)] = prv[in_gap & (idx < e)]
        filled[in_gap & (idx >= e)] = nxt[in_gap & (idx >= e)]
        dated |= in_gap
    moved = (nxt / prv - 1.0).abs()
    estimated = obs.isna() & (moved > GAP_TOLERANCE) & ~dated
    source = who.where(obs.notna(), "filled")
    return pd.DataFrame(
        {"dividend_factor": filled, "factor_source": source, "estimated": estimated.fillna(False)}
    )


def traded_close(
    adjusted: pd.Series,
    sources: list[UnadjustedSource],
    splits: pd.DataFrame,
    *,
    ex_dates: tuple[pd.Timestamp, ...] = (),
) -> TradedClose:
    """The close as traded on each date of ``adjusted`` (listing currency, no later adjustment)."""
    f = dividend_factor(adjusted, sources, splits, ex_dates=ex_dates)
    idx = pd.DatetimeIndex(f.index)
    later_splits = split_product_after(idx, splits)
    f.insert(0, "close_traded", adjusted.dropna() / f["dividend_factor"] * later_splits)
    counts = f["factor_source"].value_counts().to_dict()
    return TradedClose(f, {str(k): int(v) for k, v in sorted(counts.items())})
