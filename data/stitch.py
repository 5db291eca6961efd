"""Stitch one price series from several sources by chaining returns (see :func:`stitch`).

Used by the snapshot build and by ``aigap data update`` to merge a fresh download into the store:
adjusted levels from two downloads differ by the dividends paid between the download dates, so
series are joined on returns and re-anchored, never spliced by level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Source", "stitch"]


@dataclass(frozen=True)
class Source:
    """One price file: ``name`` is the folder, ``frame`` has a ``close`` column (adjusted) and
    optional ``open/high/low/volume``; ``ret`` is the daily return series (indexed like frame)."""

    name: str
    frame: pd.DataFrame
    ret: pd.Series


def stitch(sources: list[Source], *, anchor: str = "last") -> tuple[pd.DataFrame, dict]:
    """Chain daily returns across ``sources`` (highest priority first); see module docstring.

    The first source is the backbone; each further source only extends the stitched series
    before its first or after its last date, linked at the nearest date both cover.  ``anchor``:
    ``"last"`` sets the level so that the last close equals its supplier's (adjusted prices, the
    yfinance convention); ``"backbone"`` keeps the backbone's own levels, extensions scaled at the
    seam (FX: a later fixing series must not move the spot history)."""
    sources = [s for s in sources if not s.frame.empty]
    if not sources:
        raise ValueError("no source")

    def growth(s: Source) -> pd.Series:
        return (1.0 + s.ret.reindex(s.frame.index).fillna(0.0)).cumprod()

    level = growth(sources[0])
    supplier = pd.Series(sources[0].name, index=level.index)
    for s in sources[1:]:
        g = growth(s)
        common = g.index.intersection(level.index)
        if common.empty:
            continue
        after = g.index[g.index > level.index[-1]]
        before = g.index[g.index < level.index[0]]
        parts, names = [level], [supplier]
        if len(after):
            j = common.max()
            parts.append(level[j] * g[after] / g[j])
            names.append(pd.Series(s.name, index=after))
        if len(before):
            j = common.min()
            parts.insert(0, level[j] * g[before] / g[j])
            names.insert(0, pd.Series(s.name, index=before))
        level, supplier = pd.concat(parts), pd.concat(names)
    idx = pd.DatetimeIndex(level.index, name="date")
    if anchor == "backbone":
        j = sources[0].frame.index.intersection(idx).max()
        close = (float(sources[0].frame.loc[j, "close"]) * level / level[j]).to_numpy()
    else:
        end_src = next(s for s in sources if s.name == supplier.iloc[-1])
        level_end = float(end_src.frame.loc[idx[-1], "close"])
        close = (level_end * level / level.iloc[-1]).to_numpy()
    out = pd.DataFrame({"close": close}, index=idx)
    by_src = pd.Series(supplier.to_numpy(), index=idx)
    # OHLC from the supplying source, scaled to the stitched close (adjusted levels differ by
    # source); where the supplier has none, from the first other source with that date;
    # volume as reported
    for col in ["open", "high", "low", "volume"]:
        vals = np.full(len(idx), np.nan)
        for own_pass in (True, False):  # the supplier's own rows first, then any other source
            for s in sources:
                if col not in s.frame.columns:
                    continue
                sub = s.frame.reindex(idx)
                have = (
                    np.isnan(vals) & sub[col].notna().to_numpy() & sub["close"].notna().to_numpy()
                )
                if own_pass:
                    have &= (by_src == s.name).to_numpy()
                if not have.any():
                    continue
                if col == "volume":
                    vals[have] = sub[col].to_numpy()[have]
                else:
                    vals[have] = (sub[col] / sub["close"]).to_numpy()[have] * close[have]
        if np.isfinite(vals).any():
            out[col] = vals
    segments, agreement = [], []
    stitched_ret = out["close"].pct_change()
    for s in sources:
        used = by_src[by_src == s.name]
        common = s.ret.index.intersection(idx)
        diff = (s.ret.reindex(common) - stitched_ret.reindex(common)).abs().dropna()
        if not used.empty:
            segments.append(
                {
                    "source": s.name,
                    "first_date": str(used.index[0].date()),
                    "last_date": str(used.index[-1].date()),
                    "rows": len(used),
                }
            )
        other = diff[~diff.index.isin(used.index)]  # dates it did not supply
        agreement.append(
            {
                "source": s.name,
                "rows_supplied": len(used),
                "overlap_rows_not_supplied": len(other),
                "median_abs_return_diff": round(float(other.median()), 8) if len(other) else None,
                "p99_abs_return_diff": round(float(other.quantile(0.99)), 8)
                if len(other)
                else None,
            }
        )
    return out, {"segments": segments, "agreement": agreement}
