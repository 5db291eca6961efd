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

import warnings

import numpy as np
import pandas as pd

from data.asof import as_days
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
    wide: np.ndarray, cols: list[int], min_peers: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``wide`` (dates x names), the median over the peer columns ``cols`` (NaN with
    fewer than ``min_peers`` values) and the number of peers with a value."""
    if not cols:
        return np.full(len(wide), np.nan), np.zeros(len(wide))
    sub = wide[:, cols]
    n = (~np.isnan(sub)).sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a date on which no peer has a value
        med = np.nanmedian(sub, axis=1)
    return np.where(n >= min_peers, med, np.nan), n.astype(float)


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
    tickers = list(multiples.index.get_level_values("ticker").unique())
    position = {t: i for i, t in enumerate(tickers)}
    china = [t for t in universe.china if t in position]
    dates = multiples.index.get_level_values("date").unique()
    idx = pd.MultiIndex.from_product([dates, china], names=["date", "ticker"])
    groups: dict[tuple[str, ...], list[int]] = {}
    for j, t in enumerate(china):
        groups.setdefault(universe.peers_of(t), []).append(j)
    # every array below is dates x Chinese names (row-major, the order of ``idx``)
    wide_all = multiples[list(METRICS)].unstack("ticker").reindex(dates)
    out: dict[str, np.ndarray] = {}
    wsum = np.zeros((len(dates), len(china)))
    dsum = np.zeros_like(wsum)
    n_metrics = np.zeros(wsum.shape, dtype=np.int64)
    used = np.full(wsum.shape, "", dtype=object)
    present = set(wide_all.columns.get_level_values(0))
    for m in METRICS:
        if m in present:
            wide = wide_all[m].reindex(columns=tickers).to_numpy(dtype=float)
        else:  # no rows at all
            wide = np.full((len(dates), len(tickers)), np.nan)
        own = wide[:, [position[t] for t in china]]
        peer = np.full_like(own, np.nan)
        npeer = np.zeros_like(own)
        for peers, cols in groups.items():
            med, n = _peer_medians(wide, [position[p] for p in peers if p in position],
                                   cfg.min_peers)  # fmt: skip
            peer[:, cols] = med[:, None]
            npeer[:, cols] = n[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = np.log(own / peer)
            out[m], out[f"{m}_peer"], out[f"{m}_peers_n"] = own, peer, npeer.astype(int)
            out[f"{m}_gap"], out[f"{m}_disc_pct"] = gap, 1.0 - own / peer
        w = cfg.weights.get(m, 0.0)
        ok = ~np.isnan(gap) & (w > 0)
        dsum = dsum + np.where(ok, np.clip(-gap, -cfg.clip, cfg.clip) * w, 0.0)
        wsum = wsum + np.where(ok, w, 0.0)
        n_metrics = n_metrics + ok
        used = np.where(ok, used + np.where(used == "", "", ",") + m, used)
    frame = pd.DataFrame({k: v.ravel() for k, v in out.items()}, index=idx)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["composite"] = np.where(wsum > 0, dsum / wsum, np.nan).ravel()
    frame["n_metrics"] = n_metrics.ravel()
    frame["metrics_used"] = pd.array(used.ravel(), dtype="str")
    segs = [universe[t].segment for t in china]
    seg = pd.Series(np.tile(np.array(segs, dtype=object), len(dates)), index=idx)
    frame["segment"] = seg
    frame["z_segment"] = _grouped_robust_z(
        frame["composite"], [idx.get_level_values("date"), seg.to_numpy()]
    )
    frame["tilt"] = np.tile([float(tilt.get(s, 1.0)) for s in segs], len(dates))
    frame["score"] = frame["composite"] + np.log(frame["tilt"])
    frame["rank"] = frame.groupby(level="date")["score"].rank(ascending=False, method="first")
    return frame


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
    panel_config = panel_config or PanelConfig()
    score_config = score_config or ScoreConfig()
    days = as_days(dates)
    key = (  # equal inputs, one key: the defaults spelled out, the dates as the panel reads them
        "score_panel",
        universe.fingerprint(),
        tuple(days.asi8),
        repr(panel_config),
        repr(sorted(vars(score_config).items())),
    )

    def compute() -> tuple[pd.DataFrame, pd.DataFrame]:
        panel = valuation_panel(store, universe, days, config=panel_config)
        mult = compute_multiples(panel)
        return mult, discount_scores(mult, universe, score_config)

    mult, scores = store.cached(repr(key), compute, persist=True)
    return mult.copy(), scores.copy()
