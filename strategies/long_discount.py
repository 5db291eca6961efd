"""Long-discount strategy: hold the most discounted Chinese names, rebalanced on a schedule.

The strategy is a stack of small steps, each a function of data known at the signal date:

1. :func:`signal_dates` - the last trading day of each rebalance period;
2. :func:`discount_signal` - the score of every name on those dates (the screen's scoring code,
   fed point-in-time; or the labelled price-relative alternative);
3. selection - top N (or a top quantile), optionally per segment (``_select``);
4. weighting - equal, score-proportional or inverse-volatility, per-name cap (``_weigh``);
5. :func:`target_weights` - the weights placed on the **next** trading day (no same-bar fills);
   a held name whose data stop is sold at its last traded close at the next rebalance.

Frames: ``prices_usd`` is wide ``date x ticker`` in USD on the backtest calendar; signals are
wide ``signal date x ticker`` (higher = cheaper); weights are wide ``trade date x ticker``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from data.asof import last_rows
from data.errors import InputError
from data.pointintime import PanelConfig
from data.rules import DATA_ENDED_DAYS
from data.store import Store
from data.universe import Universe
from screens.eligibility import Eligibility, exclusions
from screens.scoring import score_panel
from strategies import defaults

__all__ = [
    "SIGNALS",
    "WEIGHTINGS",
    "DiscountGrid",
    "LongDiscountParams",
    "Rebalance",
    "discount_signal",
    "normalise_freq",
    "price_relative_signal",
    "signal_dates",
    "target_weights",
]

SIGNALS = ("valuation", "price", "auto")
WEIGHTINGS = ("equal", "score", "inverse_vol")
_FREQ_ALIASES = {"W": "W-FRI", "M": "ME", "Q": "QE", "Y": "YE", "A": "YE", "D": "B"}


#: daily returns an inverse-volatility weight needs at least (of the ``vol_window``)
MIN_VOL_DAYS = 20
#: when names whose market is shut must be kept as they drifted, the room left for the rest is
#: reduced by this much more, so that fees on the other orders never overdraw the cash
FEE_BUFFER = 1e-3


@dataclass(frozen=True)
class LongDiscountParams:
    top_n: int = defaults.TOP_N
    rebalance: str = defaults.REBALANCE
    weighting: str = defaults.WEIGHTING
    signal: str = defaults.SIGNAL
    cap: float = defaults.CAP
    quantile: float | None = None
    per_segment: bool = False

    def __post_init__(self) -> None:
        if self.top_n < 1:
            raise InputError("--top must be at least 1")
        if self.weighting not in WEIGHTINGS:
            raise InputError(f"--weighting must be one of {', '.join(WEIGHTINGS)}")
        if self.signal not in SIGNALS:
            raise InputError(f"--signal must be one of {', '.join(SIGNALS)}")
        if not 0 < self.cap <= 1:
            raise InputError(f"--cap {self.cap:g} is a weight and must be in (0, 1]")
        if self.quantile is not None and not 0 < self.quantile <= 1:
            raise InputError("--quantile must be in (0, 1]")
        normalise_freq(self.rebalance)

    @property
    def label(self) -> str:
        sel = f"q{self.quantile:g}" if self.quantile else f"top{self.top_n}"
        return f"{sel}|{self.rebalance}|{self.weighting}|{self.signal}"


@dataclass(frozen=True)
class Rebalance:
    """One rebalance of a long-discount run: decided at the close of ``signal_date``, filled at
    the close of ``trade_date``; the target ``weights`` (name -> weight, held names only) and
    the names sold because their data ended (``data_ended``)."""

    signal_date: pd.Timestamp
    trade_date: pd.Timestamp
    weights: dict[str, float]
    data_ended: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DiscountGrid:
    """A sweep of the long-discount rule: every combination of ``tops`` x ``rebalances`` x
    ``weightings`` x ``signals``, each with the same cap, quantile and per-segment choice."""

    tops: tuple[int, ...] = (defaults.TOP_N,)
    rebalances: tuple[str, ...] = (defaults.REBALANCE,)
    weightings: tuple[str, ...] = (defaults.WEIGHTING,)
    signals: tuple[str, ...] = (defaults.SIGNAL,)
    cap: float = defaults.CAP
    quantile: float | None = None
    per_segment: bool = False

    def __post_init__(self) -> None:
        self.params()  # every set checked when the grid is made, before any data is read

    def params(self) -> list[LongDiscountParams]:
        """The parameter sets, each checked (:class:`LongDiscountParams`)."""
        return [
            LongDiscountParams(
                top_n=n,
                rebalance=r,
                weighting=w,
                signal=s,
                cap=self.cap,
                quantile=self.quantile,
                per_segment=self.per_segment,
            )
            for n, r, w, s in itertools.product(
                self.tops, self.rebalances, self.weightings, self.signals
            )
        ]


def normalise_freq(freq: str) -> str:
    f = _FREQ_ALIASES.get(freq.upper() if len(freq) == 1 else freq, freq)
    try:
        off = pd.tseries.frequencies.to_offset(f)
        if off.n < 1:
            raise ValueError("non-positive multiple")
        pd.Series(0, index=pd.date_range("2024-01-01", periods=3)).resample(off).last()
    except (ValueError, TypeError):
        raise InputError(
            f"unknown rebalance frequency {freq!r} (use W, M, Q or a pandas "
            "offset alias such as W-FRI, ME, 2W-FRI)"
        ) from None
    return f


def signal_dates(calendar: pd.DatetimeIndex, freq: str) -> pd.DatetimeIndex:
    """The last trading day of each period of ``freq`` on ``calendar`` (the final, possibly
    incomplete period included: its last day is known on that day)."""
    f = normalise_freq(freq)
    s = pd.Series(calendar, index=calendar)
    return pd.DatetimeIndex(s.groupby(pd.Grouper(freq=f)).max().dropna().to_numpy())


def price_relative_signal(
    prices_usd: pd.DataFrame, universe: Universe, *, window: int = 252, min_periods: int = 126
) -> pd.DataFrame:
    """PRICE-RELATIVE signal (not a valuation): minus the z-score of ``ln(name / peer basket)``
    against its own trailing ``window``-day history; the basket is an equal-weight index of the
    name's US peers.  Positive = the name has cheapened relative to its peers.  Uses prices up to
    each date only (a trailing window)."""
    rets = prices_usd.pct_change(fill_method=None)
    out = {}
    for t in universe.china:
        if t not in prices_usd.columns:
            continue
        peers = [p for p in universe.peers_of(t) if p in prices_usd.columns]
        if not peers:
            continue
        basket = np.log1p(rets[peers].mean(axis=1, skipna=True).fillna(0.0)).cumsum()
        rel = np.log(prices_usd[t]) - basket
        mu = rel.rolling(window, min_periods=min_periods).mean()
        sd = rel.rolling(window, min_periods=min_periods).std()
        out[t] = -(rel - mu) / sd
    return pd.DataFrame(out, index=prices_usd.index)


def discount_signal(
    store: Store,
    universe: Universe,
    dates: pd.DatetimeIndex,
    prices_usd: pd.DataFrame,
    kind: str = "auto",
    eligibility: Eligibility | None = None,
) -> pd.DataFrame:
    """Signal on ``dates`` (higher = cheaper), wide ``date x Chinese ticker``.  With
    ``eligibility`` (the screen's rule: :func:`screens.eligibility.exclusions` on each date),
    only the names the screen would rank on a date have a signal on it, whatever the kind (a
    name without a valuation is not ranked by the screen, so the price signal then covers the
    valued names that pass the rule).

    * ``valuation``: the screen's score (composite discount to US peers + ln tilt), computed with
      what was public on each date;
    * ``price``: :func:`price_relative_signal`;
    * ``auto``: names with a valuation score ranked by it, the others by the price-relative
      signal, each as a percentile within the date (so the two scales are comparable)."""
    if kind not in SIGNALS:
        raise InputError(f"signal must be one of {', '.join(SIGNALS)}")
    val = None
    excluded = None
    if kind in ("valuation", "auto") or eligibility is not None:
        rule = eligibility or Eligibility()
        config = PanelConfig(stale_fundamentals_days=rule.stale_days)
        mult, scores = score_panel(store, universe, dates, panel_config=config)
        val = scores["score"].unstack("ticker").reindex(index=dates)
        if eligibility is not None:  # only the names the screen would rank on the date
            rows = scores[["composite", "n_metrics"]].join(
                mult[["market_cap", "fundamentals_period_end", "valuation_source"]]
            )
            ex = exclusions(rows, rows.index.get_level_values("date"), eligibility)
            ranked = ex["ranked"].unstack("ticker").reindex(index=dates)
            excluded = ~ranked.eq(True)  # no row, no valuation or left out by the rule
            val = val.where(~excluded.reindex(columns=val.columns, fill_value=True))
    if kind == "valuation":
        return val
    pr = price_relative_signal(prices_usd, universe).reindex(dates)
    if excluded is not None:
        pr = pr.where(~excluded.reindex(columns=pr.columns, fill_value=True))
    if kind == "price":
        return pr
    assert val is not None
    v_pct = val.rank(axis=1, pct=True)
    p_pct = pr.where(val.reindex(columns=pr.columns).isna()).rank(axis=1, pct=True)
    out = v_pct.combine_first(p_pct)
    # which names each date's value came from (the run reports the share of picks per signal)
    out.attrs["from_valuation"] = val.reindex(index=out.index, columns=out.columns).notna()
    return out


def _fit_beside(target: np.ndarray, shut: np.ndarray, kept: float) -> None:
    """In place: no order for the ``shut`` names, and the others scaled to fit beside the
    weight ``kept`` they still hold (plus a fee buffer)."""
    keep = min(1.0, float(kept) + FEE_BUFFER)
    target[shut] = 0.0
    if target.sum() > 1.0 - keep > 0:
        target *= (1.0 - keep) / target.sum()
    elif keep >= 1.0:
        target[:] = 0.0


def _ended(cal: pd.DatetimeIndex, trad: np.ndarray) -> np.ndarray:
    """``date x name``: the name has had no close for longer than :data:`DATA_ENDED_DAYS`
    calendar days (longer than any market holiday), as known on that date."""
    last = last_rows(cal, trad, cal)
    days = cal.to_numpy()
    since = days[:, None] - days[np.maximum(last, 0)]
    return (since > np.timedelta64(DATA_ENDED_DAYS, "D")) & (last >= 0)


def _trade_day(
    i: int, last_j: int, held: np.ndarray, target: np.ndarray, trad: np.ndarray,
    ended: np.ndarray,
) -> tuple[int, np.ndarray]:  # fmt: skip
    """The first row after ``i`` (at the latest ``last_j``) on which every name the rebalance
    trades has a home-market close, and the held names whose data have ended by then."""
    j = i + 1
    while True:
        stopped = (held > 0) & ended[j]
        involved = ((held > 0) & ~stopped) | (target > 0)
        if trad[j, involved].all() or j >= last_j:
            return j, stopped
        j += 1


def _select(s: np.ndarray, seg: np.ndarray, params: LongDiscountParams) -> np.ndarray:
    """Column positions of the selected names, best first (ties keep column order)."""
    ok = np.isfinite(s)
    order = np.argsort(np.where(ok, -s, np.inf), kind="stable")[: int(ok.sum())]
    if not params.per_segment:
        return order[: _count(len(order), params)]
    picked = [
        order[seg[order] == g][: _count(int((seg[order] == g).sum()), params)]
        for g in np.unique(seg[order])
    ]
    chosen = np.concatenate(picked) if picked else order[:0]
    return chosen[np.argsort(-s[chosen], kind="stable")]


def _count(n: int, params: LongDiscountParams) -> int:
    if params.quantile:
        return max(1, math.ceil(n * params.quantile)) if n else 0
    return min(n, params.top_n)


def cap_weights(w: np.ndarray, cap: float) -> np.ndarray:
    """Clip at ``cap`` and hand the excess to the names below it, pro rata; what cannot be
    placed (``cap * n < 1``, or only zero weights left) stays in cash."""
    w = np.asarray(w, dtype=float)
    w = w / w.sum()
    for _ in range(len(w) + 1):
        over = w > cap + 1e-12
        if not over.any():
            break
        excess = (w[over] - cap).sum()
        w[over] = cap
        free = ~over & (w < cap - 1e-12) & (w > 0)  # a zero weight stays zero
        if not free.any():
            break
        w[free] += excess * w[free] / w[free].sum()
    return w


def _weigh(
    chosen: np.ndarray,
    vol: np.ndarray,
    seg: np.ndarray,
    tilt: np.ndarray,
    params: LongDiscountParams,
    scores: np.ndarray | None = None,
) -> np.ndarray:
    """``equal``; ``score``: proportional to how far each chosen score is above the lowest
    score of all eligible names that day (equal when they are all the same); ``inverse_vol``:
    1 / trailing volatility.  Then the per-segment tilt budget and the per-name cap."""
    n = len(chosen)
    if n == 0:
        return np.zeros(0)
    if params.weighting == "equal":
        raw = np.ones(n)
    elif params.weighting == "score":
        sc = np.asarray(scores, dtype=float) if scores is not None else np.zeros(0)
        ok = sc[np.isfinite(sc)]
        above = sc[chosen] - (ok.min() if len(ok) else 0.0)
        raw = above if np.nansum(above) > 0 else np.ones(n)
        raw = np.where(np.isfinite(raw) & (raw > 0), raw, 0.0)
        if raw.sum() <= 0:
            raw = np.ones(n)
    else:
        v = vol[chosen]
        inv = np.where(v > 0, 1.0 / np.where(v > 0, v, 1.0), np.nan)
        fill = np.nanmedian(inv) if np.isfinite(inv).any() else 1.0
        raw = np.where(np.isfinite(inv), inv, fill)
    if params.per_segment:  # each segment's budget is proportional to its tilt
        g = seg[chosen]
        for k in np.unique(g):
            m = g == k
            raw[m] = raw[m] / raw[m].sum() * tilt[chosen][m][0]
    return cap_weights(raw, params.cap)


def _drifted(held: np.ndarray, pff: np.ndarray, j0: int, j1: int) -> np.ndarray:
    """Weights at day ``j1`` of a book set to ``held`` at day ``j0`` and left alone (cash is
    the remainder; a name whose data stopped keeps its last price)."""
    g = np.where(held > 0, pff[j1] / pff[j0], 1.0)
    g = np.where(np.isfinite(g), g, 1.0)
    value = (1.0 - held.sum()) + (held * g).sum()
    return held * g / value if value > 0 else held


def target_weights(
    signal: pd.DataFrame,
    prices_usd: pd.DataFrame,
    params: LongDiscountParams,
    universe: Universe,
    *,
    tradable: pd.DataFrame | None = None,
    vol_window: int = 63,
    max_defer: int = 10,
) -> tuple[pd.DataFrame, list[Rebalance]]:
    """Target weights placed after each signal date, and the :class:`Rebalance` records; the
    frame is NaN where no order is placed.

    * Selection uses only the signal date: a name is eligible with a USD close at most
      :data:`data.rules.MAX_PRICE_AGE_DAYS` old then (``prices_usd`` is NaN past that, see
      :func:`data.fx.usd_closes`).  Nothing about when a series will end is used.
    * Orders fill at a close that happens after the decision: the rebalance is placed on the
      first trading day after the signal date on which every name it trades (the new selection
      and the previous holdings) has a home-market close (``tradable``, default: a price), at
      most ``max_defer`` days later and never past the next signal date.  If no such day exists
      the shut names keep their positions and the rest is scaled to fit beside them.
    * A held name whose data have stopped (no close for more than :data:`DATA_ENDED_DAYS`
      calendar days, longer than any exchange holiday, as known on the trade date) is sold at
      its last traded close, the price it was valued at since; the record lists it under
      ``data_ended``.  A shorter gap (Lunar New Year, Golden Week) defers the order instead."""
    cal = prices_usd.index
    cols = prices_usd.columns
    px = prices_usd.to_numpy(dtype=float)
    trad = (
        (prices_usd.notna() if tradable is None else tradable.reindex(index=cal, columns=cols))
        .fillna(False)
        .to_numpy(dtype=bool)
    )
    pff = prices_usd.ffill().to_numpy(dtype=float)
    seen = np.isfinite(pff)
    vol = (
        prices_usd.pct_change(fill_method=None).rolling(vol_window, min_periods=MIN_VOL_DAYS).std()
    )
    vol_np = vol.to_numpy(dtype=float)
    sig = signal.reindex(columns=cols).to_numpy(dtype=float)
    seg = np.array(
        [universe[t].segment if t in universe.listings else "" for t in cols], dtype=object
    )
    tilt = np.array([universe.tilt.get(g, 1.0) for g in seg], dtype=float)
    w = np.full(px.shape, np.nan)
    records: list[Rebalance] = []
    held = np.zeros(len(cols))  # targets of the last rebalance placed
    prev_j = 0
    ended = _ended(cal, trad)
    pos = cal.get_indexer(signal.index)
    for k, i in enumerate(pos):
        if i < 0 or i + 1 >= len(cal):
            continue  # no later bar to trade on
        nxt = pos[k + 1] if k + 1 < len(pos) and pos[k + 1] > i else len(cal) - 1
        eligible = np.where(np.isfinite(px[i]), sig[k], np.nan)
        chosen = _select(eligible, seg, params)
        wt = _weigh(chosen, vol_np[i], seg, tilt, params, eligible)
        if not np.isfinite(wt).all():  # a weighting bug must never reach the simulator
            raise ValueError(f"non-finite target weights on {signal.index[k].date()}")
        target = np.zeros(len(cols))
        target[chosen] = wt
        j, stopped = _trade_day(i, min(i + 1 + max_defer, nxt, len(cal) - 1), held, target,
                                trad, ended)  # fmt: skip
        target[stopped] = 0.0  # sold at its last traded close (the frozen price)
        involved = ((held > 0) & ~stopped) | (target > 0)
        shut = involved & ~trad[j]
        if shut.any():  # fallback: keep the shut names, fit the rest beside them
            _fit_beside(target, shut, _drifted(held, pff, prev_j, j)[shut & (held > 0)].sum())
        row = np.where(seen[j] & (trad[j] | stopped), 0.0, np.nan)
        row[target > 0] = target[target > 0]
        row[shut] = np.nan
        w[j] = row
        held = np.where(shut, _drifted(held, pff, prev_j, j), target)
        prev_j = j
        records.append(
            Rebalance(
                signal_date=signal.index[k],
                trade_date=cal[j],
                weights={cols[c]: float(target[c]) for c in np.flatnonzero(target > 0)},
                data_ended=[cols[c] for c in np.flatnonzero(stopped)],
            )
        )
    return pd.DataFrame(w, index=cal, columns=cols), records
