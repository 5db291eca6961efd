"""Discount to US peers: the one scoring implementation, used by the screen and the backtests.

Definitions (per date, per Chinese name, per metric ``m``):

* peer median ``M`` = median of ``m`` over the name's US peer group (its own ``peers`` from the
  universe, else the US names of its segment); needs at least ``min_peers`` peers with a value;
* log gap ``g = ln(m / M)`` (negative: trades below its peers); discount ``d = -g``, clipped to
  ``[-clip, clip]`` so one extreme multiple cannot dominate; percent discount ``1 - m / M``;
* composite discount = weighted mean of the available ``d`` with :data:`DEFAULT_WEIGHTS`,
  renormalised over the metrics present, with ``n_metrics`` saying how many it rests on;
* robust z = ``(composite - median) / (1.4826 * MAD)`` across the Chinese names of the same segment
  on that date (undefined with fewer than three names or zero MAD);
* tilt = the segment's weight from the universe; score = composite + ln(tilt) (a tilt of 1.25
  adds 0.22 log points, the same as trading 20% cheaper on every metric);
* rank = 1 for the highest score on the date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data.pointintime import PanelConfig, valuation_panel
from data.store import Store
from data.universe import Universe
from screens.multiples import METRICS, compute_multiples

__all__ = [
    "DEFAULT_WEIGHTS",
    "ScoreConfig",
    "discount_scores",
    "robust_z",
    "score_panel",
    "segment_medians",
    "segment_medians_by_date",
]

#: documented default weights of the composite (renormalised over the metrics available)
DEFAULT_WEIGHTS = {
    "ev_sales": 0.25,
    "pe_forward": 0.25,
    "ps": 0.15,
    "pe_trailing": 0.15,
    "ev_ebitda": 0.10,
    "ps_growth": 0.10,
}


class ScoreConfig:
    def __init__(
        self,
        *,
        weights: dict[str, float] | None = None,
        tilt: dict[str, float] | None = None,
        min_peers: int = 2,
        clip: float = 2.0,
    ) -> None:
        self.weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
        unknown = set(self.weights) - set(METRICS)
        if unknown:
            raise ValueError(f"unknown metric(s) in weights: {sorted(unknown)}")
        if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ValueError("metric weights must be non-negative and not all zero")
        self.tilt = tilt
        self.min_peers = min_peers
        self.clip = clip


def robust_z(values: pd.Series) -> pd.Series:
    """(x - median) / (1.4826 * MAD); NaN with fewer than three values or zero MAD."""
    x = values.dropna()
    if len(x) < 3:
        return pd.Series(np.nan, index=values.index)
    med = x.median()
    mad = (x - med).abs().median() * 1.4826
    if not mad > 0:
        return pd.Series(np.nan, index=values.index)
    return (values - med) / mad


def _grouped_robust_z(values: pd.Series, keys: list) -> pd.Series:
    """:func:`robust_z` within each group, vectorised."""
    g = values.groupby(keys)
    med = g.transform("median")
    dev = (values - med).abs()
    mad = dev.groupby(keys).transform("median") * 1.4826
    n = g.transform("count")
    return ((values - med) / mad).where((n >= 3) & (mad > 0))


def _peer_medians(
    wide: pd.DataFrame, peers: tuple[str, ...], min_peers: int
) -> tuple[pd.Series, pd.Series]:
    cols = [p for p in peers if p in wide.columns]
    if not cols:
        nan = pd.Series(np.nan, index=wide.index)
        return nan, nan.fillna(0)
    sub = wide[cols]
    n = sub.notna().sum(axis=1)
    return sub.median(axis=1, skipna=True).where(n >= min_peers), n


def discount_scores(
    multiples: pd.DataFrame, universe: Universe, config: ScoreConfig | None = None
) -> pd.DataFrame:
    """Score the Chinese names of ``multiples`` (long, indexed by ``(date, ticker)``).

    Returns one row per (date, Chinese ticker) with, for each metric ``m``: ``m``, ``m_peer``,
    ``m_peers_n``, ``m_gap``, ``m_disc_pct``; then ``composite``, ``n_metrics``,
    ``metrics_used``, ``z_segment``, ``tilt``, ``score``, ``rank`` and ``segment``.
    """
    cfg = config or ScoreConfig()
    tilt = cfg.tilt if cfg.tilt is not None else universe.tilt
    china = [t for t in universe.china if t in multiples.index.get_level_values("ticker")]
    dates = multiples.index.get_level_values("date").unique()
    idx = pd.MultiIndex.from_product([dates, china], names=["date", "ticker"])
    out = pd.DataFrame(index=idx)
    groups: dict[tuple[str, ...], list[str]] = {}
    for t in china:
        groups.setdefault(universe.peers_of(t), []).append(t)
    wsum = pd.Series(0.0, index=idx)
    dsum = pd.Series(0.0, index=idx)
    used = pd.Series("", index=idx)
    n_metrics = pd.Series(0, index=idx)
    for m in METRICS:
        wide = multiples[m].unstack("ticker")
        own = multiples[m].reindex(idx)
        peer = pd.Series(np.nan, index=idx)
        npeer = pd.Series(0.0, index=idx)
        for peers, names in groups.items():
            med, n = _peer_medians(wide, peers, cfg.min_peers)
            for t in names:
                sel = idx.get_level_values("ticker") == t
                peer[sel] = med.reindex(idx[sel].get_level_values("date")).to_numpy()
                npeer[sel] = n.reindex(idx[sel].get_level_values("date")).to_numpy()
        gap = np.log(own / peer)
        out[m] = own
        out[f"{m}_peer"] = peer
        out[f"{m}_peers_n"] = npeer.astype(int)
        out[f"{m}_gap"] = gap
        out[f"{m}_disc_pct"] = 1.0 - own / peer
        w = cfg.weights.get(m, 0.0)
        ok = gap.notna() & (w > 0)
        disc = (-gap).clip(-cfg.clip, cfg.clip)
        dsum = dsum + (disc * w).where(ok, 0.0)
        wsum = wsum + pd.Series(np.where(ok, w, 0.0), index=idx)
        n_metrics = n_metrics + ok.astype(int)
        used = used.where(~ok, used + np.where(used == "", "", ",") + m)
    out["composite"] = (dsum / wsum).where(wsum > 0)
    out["n_metrics"] = n_metrics
    out["metrics_used"] = used
    seg = pd.Series([universe[t].segment for t in idx.get_level_values("ticker")], index=idx)
    out["segment"] = seg
    out["z_segment"] = _grouped_robust_z(
        out["composite"], [idx.get_level_values("date"), seg.to_numpy()]
    )
    out["tilt"] = seg.map(lambda s: float(tilt.get(s, 1.0)))
    out["score"] = out["composite"] + np.log(out["tilt"])
    out["rank"] = out.groupby(level="date")["score"].rank(ascending=False, method="first")
    return out


def segment_medians(
    multiples: pd.DataFrame, universe: Universe, date: pd.Timestamp
) -> pd.DataFrame:
    """The segment gap view on one date: China vs US median of each metric and the log gap,
    per segment and for the whole universe (``ALL``)."""
    one = multiples[multiples.index.get_level_values("date") == pd.Timestamp(date)]
    return segment_medians_by_date(one, universe, [date]).drop(columns="date")


def segment_medians_by_date(multiples: pd.DataFrame, universe: Universe, dates) -> pd.DataFrame:
    """:func:`segment_medians` on each of ``dates`` at once (one group-by, not a loop): rows in
    date, segment (the universe's order, then ``ALL``) and metric order, a median of no name
    NaN with a count of 0."""
    metrics = list(METRICS)
    segs = [*universe.segments, "ALL"]
    side = {t: "china" for t in universe.china} | {t: "us" for t in universe.us}
    long = multiples[metrics].stack().rename("value").reset_index()
    long.columns = ["date", "ticker", "metric", "value"]
    long = long[long["ticker"].isin(side) & long["value"].notna()]
    long["side"] = long["ticker"].map(side)
    long["segment"] = long["ticker"].map(lambda t: universe[t].segment)
    both = pd.concat([long, long.assign(segment="ALL")], ignore_index=True)
    g = both.groupby(["date", "segment", "metric", "side"])["value"].agg(["median", "size"])
    g = g.unstack("side")
    grid = pd.MultiIndex.from_product(
        [pd.DatetimeIndex(dates), segs, metrics], names=["date", "segment", "metric"]
    )
    g = g.reindex(grid)

    def col(stat: str, s: str) -> np.ndarray:
        key = (stat, s)
        return g[key].to_numpy(dtype=float) if key in g.columns else np.full(len(g), np.nan)

    ca, cb = col("median", "china"), col("median", "us")
    na = np.nan_to_num(col("size", "china")).astype(int)
    nb = np.nan_to_num(col("size", "us")).astype(int)
    both_sides = (na > 0) & (nb > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_gap = np.where(both_sides, np.log(ca / cb), np.nan)
        gap_pct = np.where(both_sides, ca / cb - 1.0, np.nan)
    return pd.DataFrame(
        {
            "date": grid.get_level_values("date"),
            "segment": grid.get_level_values("segment"),
            "metric": grid.get_level_values("metric"),
            "china_median": ca,
            "china_n": na,
            "us_median": cb,
            "us_n": nb,
            "log_gap": log_gap,
            "gap_pct": gap_pct,
        }
    )


def score_panel(
    store: Store,
    universe: Universe,
    dates,
    *,
    panel_config: PanelConfig | None = None,
    score_config: ScoreConfig | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Point-in-time multiples of every name and discount scores of the Chinese names on each of
    ``dates``.  The screen calls it with one date; the long-discount backtest with every
    rebalance date.  Computed once per store object and arguments (copies are returned)."""
    key = (
        "score_panel",
        universe.fingerprint(),
        tuple(pd.DatetimeIndex(pd.to_datetime(list(dates))).asi8),
        repr(panel_config),
        repr(sorted(vars(score_config).items())) if score_config is not None else None,
    )

    def compute() -> tuple[pd.DataFrame, pd.DataFrame]:
        panel = valuation_panel(store, universe, dates, config=panel_config)
        mult = compute_multiples(panel)
        return mult, discount_scores(mult, universe, score_config)

    mult, scores = store.cached(repr(key), compute, persist=True)
    return mult.copy(), scores.copy()
