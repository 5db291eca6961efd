"""Long-discount backtest: signals, weights, one vectorbt simulation, metrics, benchmarks,
signal diagnostics and walk-forward selection."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from backtests import defaults
from backtests.costs import check_costs
from backtests.engine import group_frame, simulate_weights, traded_value
from backtests.metrics import (
    MIN_ANNUALISE_DAYS,
    MIN_BACKTEST_DAYS,
    alpha_beta,
    information_ratio,
    summary,
)
from backtests.overfitting import Overfitting, nothing_selected, overfitting_report
from data.calendar import default_period, us_calendar
from data.errors import InputError, NoDataError
from data.fx import close_age_days, usd_closes
from data.jsonsafe import frame_records
from data.store import Store
from data.universe import Universe
from screens.eligibility import Eligibility
from strategies.long_discount import (
    LongDiscountParams,
    Rebalance,
    discount_signal,
    normalise_freq,
    signal_dates,
    target_weights,
)

__all__ = [
    "DiscountResult",
    "DiscountSettings",
    "SignalDiagnostics",
    "eligibility_doc",
    "information_coefficient",
    "one_line_per_company",
    "quantile_returns",
    "run_discount_backtest",
]

BENCH_ETFS = ("KWEB", "MCHI")
WARMUP_DAYS = 420  # history before --start for the trailing windows of the signals


@dataclass
class DiscountResult:
    params: dict[str, LongDiscountParams]
    metrics: pd.DataFrame  #: run x metric (strategies and benchmarks)
    relative: pd.DataFrame  #: (run, benchmark) x alpha/beta/information_ratio
    value: pd.DataFrame  #: date x run, USD
    returns: pd.DataFrame  #: date x run
    weights: dict[str, pd.DataFrame]  #: run -> trade date x ticker target weights
    rebalances: dict[str, list[Rebalance]]
    settings: DiscountSettings  #: what the runs ran on (the period asked, costs, rule)
    diagnostics: dict[str, SignalDiagnostics] = field(default_factory=dict)
    overfitting: Overfitting | None = None
    overfitting_active: Overfitting | None = None  #: on returns less the China EW basket's
    duplicates: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def rebalance_records(self, run: str) -> list[dict]:
        """The rebalances of ``run`` as the document states them (names in order)."""
        return [
            {**asdict(r), "weights": dict(sorted(r.weights.items()))} for r in self.rebalances[run]
        ]

    def to_document(self) -> dict:
        """The JSON document of a long-discount run: the first run in full (parameters, metrics,
        against the benchmarks, rebalances), every run's metrics, the diagnostics, the
        overfitting figures and the notes."""
        runs = list(self.params)
        bench = [r for r in self.metrics.index if r not in self.params]
        first = runs[0]
        return {
            "start": self.value.index[0],
            "end": self.value.index[-1],
            "fees": self.settings.fees,
            "slippage": self.settings.slippage,
            **eligibility_doc(self.settings),
            "currency": "USD",
            "params": {**self.params[first].__dict__, "label": first},
            "metrics": frame_records(self.metrics.loc[[first]])[first],
            "relative": frame_records(self.relative.loc[first]),
            "benchmarks": frame_records(self.metrics.loc[bench]),
            "rebalances": self.rebalance_records(first),
            "runs": [
                {
                    "label": r,
                    "params": self.params[r].__dict__,
                    "metrics": frame_records(self.metrics.loc[[r]])[r],
                    "relative": frame_records(self.relative.loc[r]),
                }
                for r in runs
            ],
            "diagnostics": {
                k: {"ic": frame_records(v.ic), "quantiles": frame_records(v.quantiles)}
                for k, v in self.diagnostics.items()
            },
            "overfitting": _overfitting(self),
            "notes": [*NOTES, *_eligibility_note(self.settings), *self.notes],
        }


def _calendar(store: Store, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """The US trading days of the run (:func:`data.calendar.us_calendar`, the one calendar)."""
    cal = us_calendar(store, start, end)
    if len(cal) < MIN_BACKTEST_DAYS:
        raise NoDataError(
            f"fewer than {MIN_BACKTEST_DAYS} US trading days between {start.date()} and "
            f"{end.date()} in the store (last: {us_calendar(store).max().date()})"
        )
    return cal


def one_line_per_company(
    signal: pd.DataFrame, prices: pd.DataFrame, universe: Universe
) -> pd.DataFrame:
    """The signal of one line per company and date (the primary line where it has a signal
    and a price, else the other): two lines of one company are one bet, and one return."""
    avail = signal.notna() & prices.reindex(index=signal.index, columns=signal.columns).notna()
    out = signal.where(universe.one_line_per_company(avail))
    out.attrs.update(signal.attrs)
    return out


def _equal_weights(
    prices: pd.DataFrame, dates: pd.DatetimeIndex, universe: Universe, tradable: pd.DataFrame
) -> pd.DataFrame:
    """An equal-weight basket of every company with a price (one line each), through the
    strategy's own order placement (same next-bar and market-open rules)."""
    sig = pd.DataFrame(1.0, index=dates, columns=prices.columns)
    sig = one_line_per_company(sig, prices, universe)
    params = LongDiscountParams(top_n=10_000, cap=1.0, weighting="equal")
    return target_weights(sig, prices, params, universe, tradable=tradable)[0]


def eligibility_doc(settings: DiscountSettings) -> dict:
    e = settings.eligibility
    return {} if e is None else {"eligibility": asdict(e)}


#: what every long-discount document says about how it was run
NOTES = (
    "signal at the close of the signal date; orders at the first later close on which "
    "every name traded had a home-market close (next trading day unless a market was "
    "shut); every leg, benchmarks included, starts on the strategy's first fill",
    "valuation signal: the screen's score on point-in-time data; price "
    "signal: PRICE-RELATIVE to US peers, not a valuation",
    "one line per company on every date (the universe's primary line where it trades)",
    "risk-free rate 0 in Sharpe, Sortino and alpha",
    "hindsight: the universe was chosen in 2026 (SMIC and Cambricon rose about 12x and "
    "10x from 2019), so the China equal-weight basket is not an investable benchmark; "
    "KWEB and MCHI are",
)


def _eligibility_note(settings: DiscountSettings) -> list[str]:
    e = settings.eligibility
    if e is None:
        return []
    return [
        f"held only names the screen would rank on each signal date: market cap at least USD "
        f"{e.min_market_cap:,.0f}, at least {e.min_metrics} metric(s), annual figures older "
        f"than {e.stale_days} days {'excluded' if e.exclude_stale else 'flagged only'}"
    ]


def _overfitting(res: DiscountResult) -> dict:
    """``n_trials``, ``deflated_sharpe`` and ``pbo`` of the sweep (one run: one trial, the
    other two undefined)."""
    o = res.overfitting
    if o is None:
        return nothing_selected(
            len(res.params),
            len(res.params) - len(res.duplicates),
            "one distinct configuration: nothing was selected, nothing to deflate",
        )
    out = o.to_dict()
    if res.overfitting_active is not None:
        out["active_vs_china_ew"] = res.overfitting_active.to_dict()
    return out


@dataclass(frozen=True)
class DiscountSettings:
    """What a long-discount backtest (or sweep) runs on besides its parameter grid: the
    period, the costs, the signal diagnostics and who may be held (``eligibility``: the
    screen's rule, :class:`screens.eligibility.Eligibility`; None: every valued name)."""

    start: str | pd.Timestamp = defaults.START
    end: str | pd.Timestamp | None = None
    fees: float = defaults.FEES
    slippage: float = defaults.SLIPPAGE
    horizons: tuple[int, ...] = (5, 21, 63)
    diagnostics: bool = True
    eligibility: Eligibility | None = None

    def __post_init__(self) -> None:
        check_costs(self.fees, self.slippage)
        object.__setattr__(self, "horizons", tuple(self.horizons))


def run_discount_backtest(
    store: Store,
    universe: Universe,
    params: list[LongDiscountParams],
    settings: DiscountSettings | None = None,
    **fields,
) -> DiscountResult:
    """Every parameter set of ``params`` under ``settings`` (``fields``: settings to change,
    e.g. ``start="2023-01-01"``)."""
    if not params:
        raise InputError("no parameter set to run")
    cfg = replace(settings or DiscountSettings(), **fields)
    s, e = default_period(store, cfg.start, cfg.end)
    mkt = _market(store, universe, s, e)
    runs: dict[str, LongDiscountParams] = {}
    for p in params:
        runs.setdefault(p.label, p)
    signals, sig_dates = _signals(store, universe, runs, mkt, cfg)
    weights, records = {}, {}
    for label, p in runs.items():
        sig = signals[p.signal].reindex(sig_dates[normalise_freq(p.rebalance)])
        w, rec = target_weights(sig, mkt.china_px, p, universe, tradable=mkt.tradable)
        weights[label], records[label] = w.reindex(columns=mkt.px.columns), rec
    if not any(r.weights for rec in records.values() for r in rec):
        raise NoDataError(
            f"no name could be valued and bought between {s.date()} and {e.date()} "
            f"(aigap data coverage shows which inputs are missing when)"
        )
    duplicates = _same_configurations(weights)
    notes = _run_notes(runs, records, signals, duplicates)
    # every leg starts on the strategy's first fill: no benchmark gets a head start
    first_fill = min((rec[0].trade_date for rec in records.values() if rec), default=mkt.cal[0])
    bench_w = _benchmark_weights(mkt, universe, records, first_fill)
    distinct = {k: v for k, v in weights.items() if k not in duplicates}
    frames = _simulate({**distinct, **bench_w}, mkt.px, cfg, first_fill, duplicates)
    rets = frames["returns"]
    diag = _diagnostics(signals, mkt.china_px, cfg.horizons) if cfg.diagnostics else {}
    over = active = None
    if len(runs) - len(duplicates) >= 2:
        over = overfitting_report(rets[list(runs)])
        # a long-only sweep's Sharpes are mostly the market's: deflate the active returns too
        active = overfitting_report(rets[list(runs)].sub(rets["China EW"], axis=0))
    if len(rets) < MIN_ANNUALISE_DAYS:
        notes.append(
            f"only {len(rets)} trading days: too short to annualise (CAGR, volatility, Sharpe, "
            "Sortino, Calmar, alpha and IR left blank)"
        )
    return DiscountResult(
        params=runs,
        metrics=_metrics(frames, records),
        relative=_relative(rets, list(runs), list(bench_w)),
        value=frames["value"],
        returns=rets,
        weights=weights,
        rebalances=records,
        settings=cfg,
        diagnostics=diag,
        overfitting=over,
        overfitting_active=active,
        duplicates=duplicates,
        notes=notes,
    )


def _simulate(
    weights: dict[str, pd.DataFrame],
    px: pd.DataFrame,
    cfg: DiscountSettings,
    first_fill: pd.Timestamp,
    duplicates: dict[str, str],
) -> dict[str, pd.DataFrame]:
    """Value, returns, cash and traded notional (date x run) of every run from its first
    fill; a duplicate run gets the frames of the run it repeats (one simulation, one trial)."""
    pf = simulate_weights(px, weights, fees=cfg.fees, slippage=cfg.slippage)
    frames = {
        "value": group_frame(pf, "value").loc[first_fill:],
        "returns": group_frame(pf, "returns").loc[first_fill:],
        "cash": group_frame(pf, "cash").loc[first_fill:],
        "traded": traded_value(pf).loc[first_fill:],
    }
    for dup, same in duplicates.items():
        for frame in frames.values():
            frame[dup] = frame[same]
    return frames


def _signals(
    store: Store, universe: Universe, runs: dict, mkt: _Market, cfg: DiscountSettings
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DatetimeIndex]]:
    """Each signal kind the runs use, on every signal date of every rebalance frequency (one
    line per company), and those dates by frequency."""
    sig_dates = {
        f: signal_dates(mkt.cal, f) for f in {normalise_freq(p.rebalance) for p in runs.values()}
    }
    all_dates = pd.DatetimeIndex(sorted(set().union(*[set(d) for d in sig_dates.values()])))
    peers_px = mkt.px_full[[*universe.china, *universe.us]]
    signals = {
        k: one_line_per_company(
            discount_signal(store, universe, all_dates, peers_px, k, eligibility=cfg.eligibility),
            mkt.px_full,
            universe,
        )
        for k in {p.signal for p in runs.values()}
    }
    return signals, sig_dates


@dataclass(frozen=True)
class SignalDiagnostics:
    """What a signal did: its rank IC with forward returns by horizon, and the mean forward
    return by quantile (3 = cheapest) at the middle horizon."""

    ic: pd.DataFrame
    quantiles: pd.DataFrame


def _diagnostics(
    signals: dict, china_px: pd.DataFrame, horizons: tuple[int, ...]
) -> dict[str, SignalDiagnostics]:
    """Rank IC by horizon and quantile returns of each signal, on its every signal date."""
    return {
        k: SignalDiagnostics(
            ic=information_coefficient(sig, china_px, horizons),
            quantiles=quantile_returns(sig, china_px, horizons[1]),
        )
        for k, sig in signals.items()
    }


@dataclass(frozen=True)
class _Market:
    """The prices a run trades on: the US trading days of the period (``cal``; ``full_cal``
    with the warm-up before it), USD closes (``px_full`` from the warm-up, ``px`` from the
    start, ``china_px`` the Chinese lines) and whether each name's home market traded."""

    cal: pd.DatetimeIndex
    px_full: pd.DataFrame
    px: pd.DataFrame
    china_px: pd.DataFrame
    tradable: pd.DataFrame


def _market(store: Store, universe: Universe, s: pd.Timestamp, e: pd.Timestamp) -> _Market:
    full_cal = _calendar(store, s - pd.Timedelta(days=WARMUP_DAYS), e)
    cal = full_cal[full_cal >= s]
    china = list(universe.china)
    tick = [*china, *universe.us, *[b for b in BENCH_ETFS if b in universe.listings]]
    px_full = usd_closes(store, universe, tick, full_cal)
    px = px_full.loc[cal[0] :]
    return _Market(
        cal=cal,
        px_full=px_full,
        px=px,
        china_px=px[[t for t in china if t in px.columns]],
        tradable=close_age_days(store, tick, full_cal).loc[cal[0] :] == 0,
    )


def _benchmark_weights(
    mkt: _Market, universe: Universe, records: dict, first_fill: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    """The China and US peer equal-weight baskets (rebalanced monthly through the strategy's own
    order placement) and the ETFs (bought on the first fill and held)."""
    px = mkt.px
    monthly = signal_dates(mkt.cal, "ME")
    monthly = pd.DatetimeIndex(
        sorted({*monthly[monthly >= first_fill - pd.Timedelta(days=1)], _signal_of(records)})
    )
    bench_w = {
        "China EW": _equal_weights(mkt.china_px, monthly, universe, mkt.tradable).reindex(
            columns=px.columns
        ),
        "US peers EW": _equal_weights(
            px.reindex(columns=universe.us), monthly, universe, mkt.tradable
        ).reindex(columns=px.columns),
    }
    for b in BENCH_ETFS:
        if b in px.columns and px[b].loc[first_fill:].notna().any():
            w = pd.DataFrame(np.nan, index=px.index, columns=px.columns)
            first = px[b].loc[first_fill:].first_valid_index()
            w.loc[first] = 0.0
            w.loc[first, b] = 1.0
            bench_w[b] = w
    return bench_w


def _metrics(frames: dict[str, pd.DataFrame], records: dict) -> pd.DataFrame:
    """run x metric: the summary metrics, turnover, exposure and how invested each run was."""
    value, rets, cash, traded = (frames[k] for k in ("value", "returns", "cash", "traded"))
    years = (value.index[-1] - value.index[0]).days / 365.25
    rows = {}
    for run in value.columns:
        m = summary(rets[run], value[run])
        m["turnover"] = float((traded[run] / value[run]).sum() / 2 / years) if years else np.nan
        m["exposure"] = float((1 - cash[run] / value[run]).mean())
        m["rebalances"] = float(len(records.get(run, [])))
        rec = records.get(run, [])
        m["invested"] = float(np.mean([sum(r.weights.values()) for r in rec])) if rec else 1.0
        m["days"] = float(len(rets[run]))
        rows[run] = m
    metrics = pd.DataFrame(rows).T
    metrics.index.name = "run"
    return metrics


def _relative(rets: pd.DataFrame, runs: list[str], benchmarks: list[str]) -> pd.DataFrame:
    """(run, benchmark) x alpha, beta and information ratio."""
    rel = []
    for run in runs:
        for b in benchmarks:
            a, beta = alpha_beta(rets[run], rets[b])
            rel.append(
                {
                    "run": run,
                    "benchmark": b,
                    "alpha": a,
                    "beta": beta,
                    "information_ratio": information_ratio(rets[run], rets[b]),
                }
            )
    return pd.DataFrame(rel).set_index(["run", "benchmark"])


def _signal_of(records: dict[str, list]) -> pd.Timestamp:
    """The first signal date of the runs (the baskets' first rebalance uses the same date)."""
    firsts = [rec[0].signal_date for rec in records.values() if rec]
    return min(firsts) if firsts else pd.Timestamp.max


def _same_configurations(weights: dict[str, pd.DataFrame]) -> dict[str, str]:
    """Runs whose target weights equal an earlier run's (e.g. equal and inverse-vol weights
    that the per-name cap makes equal): ``{duplicate: the run it repeats}``."""
    out: dict[str, str] = {}
    keys = list(weights)
    for i, k in enumerate(keys):
        a = weights[k].fillna(-1.0).to_numpy()
        for j in keys[:i]:
            if j not in out and np.allclose(a, weights[j].fillna(-1.0).to_numpy(), atol=1e-12):
                out[k] = j
                break
    return out


def _run_notes(
    runs: dict[str, LongDiscountParams],
    records: dict[str, list],
    signals: dict[str, pd.DataFrame],
    duplicates: dict[str, str],
) -> list[str]:
    """What a reader must know about the runs: cash the per-name cap leaves, which signal the
    ``auto`` picks came from, configurations that repeat another."""
    notes = []
    for label, p in runs.items():
        rec = records[label]
        if not rec:
            continue
        invested = float(np.mean([sum(r.weights.values()) for r in rec]))
        if invested < 0.99:
            why = (
                f"top {p.top_n} x {p.cap:g} < 100%"
                if p.top_n * p.cap < 1 and not p.quantile
                else "the cap binds on uneven weights, or fewer names were eligible"
            )
            notes.append(
                f"{label}: {1 - invested:.0%} in cash on average under the per-name cap of "
                f"{p.cap:g} ({why})"
            )
        if p.signal == "auto":
            from_val = signals["auto"].attrs.get("from_valuation")
            picks = [(r.signal_date, t) for r in rec for t in r.weights]
            if from_val is not None and picks:
                share = float(np.mean([bool(from_val.at[d, t]) for d, t in picks]))
                notes.append(
                    f"{label}: {share:.0%} of picks ranked by the valuation score, "
                    f"{1 - share:.0%} by the PRICE-RELATIVE signal (no multiple that day)"
                )
        ended = sorted({t for r in rec for t in r.data_ended})
        if ended:
            notes.append(
                f"{label}: sold at their last close after their data ended: {', '.join(ended)}"
            )
    for dup, same in duplicates.items():
        notes.append(f"{dup} has the same weights as {same}: one trial, not two")
    return notes


def _forward_returns(signal: pd.DataFrame, prices: pd.DataFrame, h: int) -> pd.DataFrame:
    """Return from the close of the trading day after each signal date to ``h`` bars later (the
    first return a strategy acting on the signal can earn)."""
    fwd = prices.shift(-(1 + h)) / prices.shift(-1) - 1.0
    return fwd.reindex(index=signal.index, columns=signal.columns)


def _row_spearman(a: pd.DataFrame, b: pd.DataFrame, min_names: int = 5) -> pd.Series:
    """Spearman correlation per row over the columns where both are present."""
    both = a.notna() & b.notna()
    ra = a.where(both).rank(axis=1)
    rb = b.where(both).rank(axis=1)
    ra = ra.sub(ra.mean(axis=1), axis=0)
    rb = rb.sub(rb.mean(axis=1), axis=0)
    num = (ra * rb).sum(axis=1)
    den = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    return (num / den).where((both.sum(axis=1) >= min_names) & (den > 0))


def information_coefficient(signal: pd.DataFrame, prices: pd.DataFrame, horizons) -> pd.DataFrame:
    """Spearman rank correlation of the signal with forward returns, per horizon: mean IC, its
    standard deviation, the t-statistic of the mean with Newey-West (HAC) errors - forward
    windows longer than the spacing of the signal dates overlap, which a plain t-statistic
    ignores - and the number of dates (dates with >= 5 names)."""
    from statsmodels.regression.linear_model import OLS

    pos = prices.index.get_indexer(signal.index)
    step = float(np.median(np.diff(pos[pos >= 0]))) if (pos >= 0).sum() > 1 else 1.0
    rows = []
    for h in horizons:
        ic = _row_spearman(signal, _forward_returns(signal, prices, h)).dropna()
        n = len(ic)
        t = np.nan
        if n > 5 and ic.std() > 0:
            lags = max(1, int(np.ceil(h / max(step, 1.0))))
            fit = OLS(ic.to_numpy(), np.ones(n)).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
            t = float(fit.tvalues[0])
        rows.append(
            {
                "horizon_days": h,
                "mean_ic": float(ic.mean()) if n else np.nan,
                "ic_std": float(ic.std()) if n > 1 else np.nan,
                "t_stat_hac": t,
                "dates": n,
            }
        )
    return pd.DataFrame(rows).set_index("horizon_days")


def quantile_returns(
    signal: pd.DataFrame, prices: pd.DataFrame, horizon: int, q: int = 3
) -> pd.DataFrame:
    """Average forward return of each signal quantile (1 = most expensive, q = cheapest): names
    are bucketed by their within-date rank; dates with fewer than ``2 q`` names are skipped."""
    fwd = _forward_returns(signal, prices, horizon)
    both = signal.notna() & fwd.notna()
    n = both.sum(axis=1)
    pct = signal.where(both).rank(axis=1, method="first").sub(1).div(n, axis=0)
    bucket = np.floor(pct * q) + 1
    ok = (n >= 2 * q).to_numpy()[:, None] & both.to_numpy()
    rows = []
    for k in range(1, q + 1):
        m = ok & (bucket.to_numpy() == k)
        per_date = pd.DataFrame(np.where(m, fwd.to_numpy(), np.nan)).mean(axis=1).dropna()
        rows.append(
            {
                "quantile": k,
                "mean_forward_return": float(per_date.mean()) if len(per_date) else np.nan,
                "dates": len(per_date),
            }
        )
    return pd.DataFrame(rows).set_index("quantile")
