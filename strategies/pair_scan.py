"""``aigap pairs scan``: candidate pairs ranked by their statistics (no simulation)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from data.calendar import default_period, us_calendar
from data.errors import NoDataError
from data.fx import usd_closes
from data.store import Store
from data.universe import Universe
from strategies.pair_stats import FIXED_LAGS, pair_statistics
from strategies.pairs import BASKET, PairSpec, pair_prices

#: the false-discovery rate (and the per-half p-value) a pair must pass
FDR = 0.05

__all__ = ["candidate_pairs", "scan_pairs"]


def candidate_pairs(universe: Universe) -> list[PairSpec]:
    """Each Chinese name against each of its US peers, its peer basket and its cross-listing."""
    out: list[PairSpec] = []
    for t in universe.china:
        x = universe[t]
        for p in universe.peers_of(t):
            out.append(PairSpec(t, p))
        out.append(PairSpec(t, BASKET))
        if x.cross_listing and x.currency == "USD":
            out.append(PairSpec(t, x.cross_listing))
    return list(dict.fromkeys(out))


def scan_pairs(
    store: Store,
    universe: Universe,
    start="2019-01-01",
    end=None,
    min_obs: int = 250,
    on_done: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Static statistics over the period and on each half (cointegration that holds in both
    halves is more trustworthy), ranked by Engle-Granger p-value, then half-life.  The unit-root
    regressions use :data:`FIXED_LAGS` lags.  ``on_done`` is called with 1 after each pair."""
    s, e = default_period(store, start, end)
    cal = us_calendar(store, s, e)
    pairs = candidate_pairs(universe)
    needed = sorted(
        {t for p in pairs for t in (p.a, p.b) if t != BASKET}
        | {q for p in pairs if p.b == BASKET for q in universe.peers_of(p.a)}
    )
    closes = usd_closes(store, universe, needed, cal)
    rows = []
    for pair in pairs:
        if on_done:
            on_done(1)
        px = pair_prices(store, universe, pair, cal, closes=closes).dropna()
        if len(px) < min_obs:
            continue
        st = pair_statistics(px, lags=FIXED_LAGS)
        half = len(px) // 2
        st1 = pair_statistics(px.iloc[:half], lags=FIXED_LAGS)
        st2 = pair_statistics(px.iloc[half:], lags=FIXED_LAGS)
        rows.append(
            {
                "pair": pair.label,
                "segment": universe[pair.a].segment,
                "first_date": px.index[0],
                "last_date": px.index[-1],
                **st.as_dict(),
                "coint_pvalue_1st_half": st1.coint_pvalue,
                "coint_pvalue_2nd_half": st2.coint_pvalue,
            }
        )
    df = pd.DataFrame(rows)
    if df.empty:
        raise NoDataError(
            f"no candidate pair has {min_obs} overlapping prices between {s.date()} and {e.date()}"
        )
    # many pairs tested: control the false discovery rate (Benjamini-Hochberg), and say
    # whether the relation held in both halves of the sample
    from statsmodels.stats.multitest import multipletests

    p = df["coint_pvalue"].to_numpy(dtype=float)
    ok = np.isfinite(p)
    q = np.full(len(df), np.nan)
    if ok.any():
        q[ok] = multipletests(p[ok], alpha=FDR, method="fdr_bh")[1]
    df["coint_qvalue"] = q
    df["passes_fdr"] = df["coint_qvalue"] <= FDR
    df["both_halves"] = (df["coint_pvalue_1st_half"] < FDR) & (df["coint_pvalue_2nd_half"] < FDR)
    df = df.sort_values(["coint_pvalue", "half_life_days"], kind="mergesort")
    df.insert(0, "rank", range(1, len(df) + 1))
    df.attrs["tested"] = len(df)
    df.attrs["expected_by_chance"] = FDR * len(df)
    return df.set_index("pair")
