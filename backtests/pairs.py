"""Pairs backtest: many pairs x lookbacks x thresholds in one vectorbt simulation.

Each parameter set is a two-column group (leg A, leg B) with cash sharing; target weights are
placed on the bar after each decision and held in shares until the exit.  The short leg pays a
borrow fee: ``borrow_rate / 252`` of its notional at the previous close, every trading day,
deducted from the equity curve (vectorbt's open-source simulator has no borrow accrual).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from backtests import defaults
from backtests.costs import check_costs
from backtests.metrics import DAYS, MIN_BACKTEST_DAYS, alpha_beta, information_ratio, summary
from data.calendar import default_period, us_calendar
from data.errors import DataError, InputError, NoDataError
from data.fx import close_age_days
from data.jsonsafe import clean, iso_day
from data.rules import DATA_ENDED_DAYS
from data.store import Store, open_store
from data.universe import Universe
from strategies.pair_stats import PairStats, pair_statistics, rolling_pair_statistics
from strategies.pairs import (
    BASKET,
    HEDGES,
    PairSpec,
    pair_positions,
    pair_prices,
    position_weights,
    spread_zscore,
)

if TYPE_CHECKING:
    from backtests.overfitting import Overfitting

__all__ = [
    "PairsParams",
    "PairsResult",
    "borrow_cost",
    "heatmap",
    "merge_results",
    "run_pairs_backtest",
    "run_pairs_sweep",
]

#: starting equity of every run (vectorbt's init_cash in backtests.engine)
INIT_CASH = 1_000_000.0
BENCHMARKS = ("SPY", "KWEB")  #: alpha, beta and IR of each run against these (USD ETFs)


@dataclass
class PairsResult:
    table: pd.DataFrame  #: one row per parameter set: parameters + metrics
    trades: dict[str, pd.DataFrame]  #: run -> trades
    stats: dict[str, PairStats]  #: pair -> statistics (with the rolling windows' summary)
    rolling: dict[str, pd.DataFrame]  #: pair -> rolling statistics
    value: pd.DataFrame  #: date x run, after borrow
    returns: pd.DataFrame
    weights: dict[str, pd.DataFrame] = field(default_factory=dict)
    prices: dict[str, pd.DataFrame] = field(default_factory=dict)  #: pair -> fill prices (USD)

    @functools.cached_property
    def overfitting(self) -> Overfitting | None:
        """The sweep's overfitting figures (None for one configuration), computed once for the
        document and the report."""
        if self.returns.shape[1] < 2:
            return None
        from backtests.overfitting import overfitting_report

        return overfitting_report(self.returns)

    def to_document(self, params: PairsParams) -> dict:
        """The JSON document of the run: the settings, the statistics, every run (parameters,
        metrics, trades), the overfitting figures and the notes."""
        t = self.table
        keys = ("pair", "lookback", "entry", "exit", "stop")
        return {
            "start": self.value.index[0],
            "end": self.value.index[-1],
            "currency": "USD",
            "settings": params.settings(),
            "pair_statistics": {p: clean(s.as_dict()) for p, s in self.stats.items()},
            "runs": [
                {
                    "run": r,
                    "params": {k: clean(t.at[r, k]) for k in keys},
                    "metrics": clean({k: t.at[r, k] for k in t.columns if k not in keys}),
                    "trades": clean(self.trades[r].to_dict("records")),
                }
                for r in t.index
            ],
            "overfitting": _overfitting(self),
            "notes": [*NOTES, *_ended_notes(t)],
        }


#: what every pairs document says about how it was run
NOTES = (
    "decision at the New York close; both legs filled at the close of the first later "
    "US trading day on which both markets trade (HK/A-share legs: their close of that "
    "calendar day); --lag delays only the signal of a non-US leg",
    "borrow fee accrued daily on the short leg's notional; orders sized on equity net "
    "of the borrow paid",
    "a pair whose leg's data end is closed at the last close both legs have "
    "(trades flagged data_ended), never carried on a frozen leg; booking the exit there "
    "uses the knowledge that the series ended (hindsight, at most the P&L of the days "
    "in between)",
)


def _overfitting(res: PairsResult) -> dict:
    from backtests.overfitting import nothing_selected

    if res.overfitting is None:
        n = res.returns.shape[1]
        return nothing_selected(n, n, "one configuration: nothing was selected, nothing to deflate")
    return res.overfitting.to_dict()


def _ended_notes(t: pd.DataFrame) -> list[str]:
    ended = t[t["data_ended"].notna()].groupby("pair")["data_ended"].first()
    return [f"{p}: a leg's data end on {d}; positions closed there" for p, d in ended.items()]


def borrow_cost(asset_value: pd.DataFrame, rate: float) -> pd.Series:
    """Daily borrow fee of the short legs: ``rate / 252`` x short notional at the previous close
    (``asset_value`` is signed, columns = legs of one run)."""
    short = (-asset_value.clip(upper=0.0)).sum(axis=1)
    return short.shift(1).fillna(0.0) * rate / DAYS


def _run_label(pair: str, lb: int, en: float, ex: float, st: float) -> str:
    return f"{pair}|L{lb}|E{en:g}|X{ex:g}|S{st:g}"


#: the shortest z-score window a pair can be traded on
MIN_LOOKBACK = 10


@dataclass(frozen=True)
class PairsParams:
    """Everything a pairs backtest or sweep runs on besides the store, the universe and the
    pairs: the grid (lookbacks x entries x exits x stops), the rule, the costs and the period.
    Checked when made (the one home of the rule's parameter checks); lists become tuples."""

    lookbacks: tuple[int, ...] = (defaults.LOOKBACK,)
    entries: tuple[float, ...] = (defaults.ENTRY,)
    exits: tuple[float, ...] = (defaults.EXIT,)
    stops: tuple[float, ...] = (defaults.STOP,)
    max_hold: int = defaults.MAX_HOLD
    hedge: str = defaults.HEDGE
    borrow_rate: float = defaults.BORROW_RATE
    fees: float = defaults.FEES
    slippage: float = defaults.SLIPPAGE
    long_only: bool = False
    #: extra US trading days of delay for a non-US leg's signal
    lag: int = 0
    start: str | pd.Timestamp = defaults.START
    end: str | pd.Timestamp | None = None
    rolling_window: int = 252
    #: also the pair statistics (Engle-Granger, ADF, half-life; whole sample and rolling),
    #: which cost more than the simulation (``aigap backtest pairs --stats``)
    stats: bool = False

    def __post_init__(self) -> None:
        for name in ("lookbacks", "entries", "exits", "stops"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        checks = [
            (self.hedge in HEDGES, f"--hedge must be one of {', '.join(HEDGES)}"),
            (bool(self.lookbacks) and min(self.lookbacks) >= MIN_LOOKBACK,
             f"--lookback must be at least {MIN_LOOKBACK} days"),
            (all(e > 0 for e in self.entries), "--entry must be a positive |z|"),
            (all(x >= 0 for x in self.exits), "--exit must not be negative"),
            (max(self.exits) < max(self.entries),
             "--exit must be below --entry (or no trade would close)"),
            (min(self.stops) > min(self.entries), "--stop must be above --entry"),
            (self.max_hold >= 1, "--max-hold must be at least 1 day"),
            (0 <= self.borrow_rate < 1,
             "--borrow-rate is annual (0.03 = 3%) and must be in [0, 1)"),
            (self.lag >= 0, "--lag must not be negative"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise InputError(message)
        check_costs(self.fees, self.slippage)

    def combos(self) -> list[tuple[float, float, float]]:
        """The threshold sets (entry, exit, stop) with exit < entry < stop."""
        return [
            (en, ex, st)
            for en, ex, st in itertools.product(self.entries, self.exits, self.stops)
            if ex < en < st
        ]

    def costs(self) -> Costs:
        return Costs(self.max_hold, self.long_only, self.fees, self.slippage, self.borrow_rate)

    def settings(self) -> dict[str, object]:
        """The rule and its costs, as the JSON document and the report state them."""
        return {
            "hedge": self.hedge,
            "max_hold": self.max_hold,
            "borrow_rate": self.borrow_rate,
            "fees": self.fees,
            "slippage": self.slippage,
            "long_china_only": self.long_only,
            "lag_non_us_days": self.lag,
        }


def _params(params: PairsParams | None, fields: dict) -> PairsParams:
    """``params`` with ``fields`` changed (a direct caller may pass the fields alone)."""
    return replace(params or PairsParams(), **fields)


def run_pairs_backtest(
    store: Store,
    universe: Universe,
    pairs: list[PairSpec],
    params: PairsParams | None = None,
    *,
    warmup: int | None = None,
    simulator: str = "kernel",
    **fields,
) -> PairsResult:
    """Every parameter set of ``params`` (``fields``: :class:`PairsParams` fields to change,
    e.g. ``lookbacks=(20, 60)``) on every pair.  ``warmup``: trading days loaded before the
    start (default: from the longest lookback; a chunk of a larger sweep passes the sweep's,
    so that it computes on the same calendar).  ``simulator``: ``kernel`` (the compiled loop of
    :mod:`backtests.kernel`) or ``vectorbt`` (the portfolio simulator it reproduces bit for
    bit; tested)."""
    if simulator not in SIMULATORS:
        raise InputError(f"simulator must be one of {', '.join(SIMULATORS)}")
    p = _params(params, fields)
    lookbacks = p.lookbacks
    s, e = default_period(store, p.start, p.end)
    cal = _trading_days(store, s, e, warmup_days(lookbacks) if warmup is None else warmup)
    combos = p.combos()
    if not combos:
        raise InputError("no threshold set satisfies exit < entry < stop")
    costs = p.costs()
    fill_prices: dict[str, pd.DataFrame] = {}
    pair_stats: dict[str, PairStats] = {}
    rolling: dict[str, pd.DataFrame] = {}
    sims: dict[str, RunSim] = {}
    meta: list[dict] = []
    pending: dict[str, tuple[pd.DataFrame, pd.DataFrame, pd.Series]] = {}
    for pair in pairs:
        inp = pair_inputs(store, universe, pair, cal, s, lag=p.lag)
        if inp.raw.dropna().shape[0] < max(lookbacks) + 20:
            raise NoDataError(
                f"pair {pair.label}: too few overlapping prices between {s.date()} and {e.date()}"
            )
        fill_prices[pair.label] = inp.prices
        if p.stats:
            pair_stats[pair.label], rolling[pair.label] = _statistics(inp.raw, p.rolling_window)
        for lb in lookbacks:
            zf = signal_frame(inp, lb, p.hedge, s)
            labels = [_run_label(pair.label, lb, *c) for c in combos]
            meta += [
                {"run": r, "pair": pair.label, "a": pair.a, "b": pair.b, "lookback": lb,
                 "entry": c[0], "exit": c[1], "stop": c[2], "data_ended": inp.ended_at}
                for r, c in zip(labels, combos, strict=True)
            ]  # fmt: skip
            if simulator == "kernel":
                sims |= _kernel_runs(inp, zf, combos, labels, costs)
            else:
                pending |= _vectorbt_orders(inp, zf, combos, labels, p.max_hold, p.long_only)
    if pending:
        sims = _vectorbt_runs(pending, costs)
    return _result(store, meta, sims, pair_stats, rolling, fill_prices)


def _trading_days(store: Store, s: pd.Timestamp, e: pd.Timestamp, warm: int) -> pd.DatetimeIndex:
    """The US trading days to ``e``, from ``warm`` days before ``s`` (the z-score's history)."""
    full = us_calendar(store, end=e)
    first = full.searchsorted(s)
    if len(full[first:]) < MIN_BACKTEST_DAYS:
        raise NoDataError(
            f"fewer than {MIN_BACKTEST_DAYS} US trading days between {s.date()} and {e.date()}"
        )
    return full[max(0, first - warm) :]


def _result(
    store: Store,
    meta: list[dict],
    sims: dict[str, RunSim],
    stats: dict[str, PairStats],
    rolling: dict[str, pd.DataFrame],
    prices: dict[str, pd.DataFrame],
) -> PairsResult:
    """The runs as one result: metrics table, trades, equity and returns (date x run)."""
    idx = next(iter(sims.values())).value.index
    rows, trades = _run_rows(store, meta, sims, idx)
    value = pd.DataFrame({m["run"]: sims[m["run"]].value for m in meta}, index=idx)
    table = pd.DataFrame(rows).set_index("run")
    for col in ("ruined_on", "data_ended"):  # dates or None: one dtype whatever the chunk holds
        values = table[col].astype(object)
        table[col] = values.where(values.notna(), None)
    return PairsResult(
        table=table,
        trades=trades,
        stats=stats,
        rolling=rolling,
        value=value,
        returns=value.pct_change().fillna(0.0),
        weights={m["run"]: sims[m["run"]].weights for m in meta},
        prices=prices,
    )


SIMULATORS = ("kernel", "vectorbt")


@dataclass(frozen=True)
class Costs:
    """The rule's holding limit and side, and what trading costs (the names are
    :func:`kernel_grid`'s keywords)."""

    max_hold: int
    long_only: bool
    fees: float
    slippage: float
    borrow_rate: float


@dataclass
class RunSim:
    """One parameter set simulated: equity net of borrow (zero after a total loss), the
    position decided at each close, the orders placed (weights of legs a and b, NaN where
    none), the gross position value, the traded notional and the borrow paid so far."""

    value: pd.Series
    pos: pd.Series
    weights: pd.DataFrame
    gross: pd.Series
    traded: pd.Series
    paid: pd.Series


def _kernel_runs(
    inp: PairInputs, zf: pd.DataFrame, combos: list, labels: list[str], costs: Costs
) -> dict[str, RunSim]:
    values, positions, orders, extra = kernel_grid(inp, zf, combos, **asdict(costs))
    idx = inp.prices.index
    return {
        run: RunSim(
            value=pd.Series(values[:, k], index=idx),
            pos=pd.Series(positions[:, k], index=idx),
            weights=pd.DataFrame(orders[:, k, :], index=idx, columns=["a", "b"]),
            gross=pd.Series(extra[:, k, 0], index=idx),
            traded=pd.Series(extra[:, k, 1], index=idx),
            paid=pd.Series(extra[:, k, 2], index=idx),
        )
        for k, run in enumerate(labels)
    }


def _vectorbt_orders(
    inp: PairInputs,
    zf: pd.DataFrame,
    combos: list,
    labels: list[str],
    max_hold: int,
    long_only: bool,
) -> dict[str, tuple[pd.DataFrame, pd.DataFrame, pd.Series]]:
    """Positions and orders of each set (the numpy rule), for the vectorbt simulator."""
    px = inp.prices
    z = np.repeat(zf["z"].to_numpy()[:, None], len(combos), axis=1)
    en, ex, st = (np.array(v, dtype=float) for v in zip(*combos, strict=True))
    # a non-positive hedge ratio is no hedge (both legs on one side): no new entry
    pos = pair_positions(z, en, ex, st, np.full(len(combos), max_hold), long_only,
                         can_enter=(zf["beta"] > 0).to_numpy())  # fmt: skip
    if inp.ended_at is not None:  # flat from the day after the last common close
        pos[px.index.get_loc(inp.ended_at) + 1 :] = 0.0
    wa, wb = position_weights(pos, zf["beta"].to_numpy(), inp.tradable)
    return {
        run: (
            px,
            pd.DataFrame({"a": wa[:, k], "b": wb[:, k]}, index=px.index),
            pd.Series(pos[:, k], index=px.index),
        )
        for k, run in enumerate(labels)
    }


def _vectorbt_runs(pending: dict, costs: Costs) -> dict[str, RunSim]:
    from backtests.engine import group_frame, traded_value  # vectorbt: only for the reference

    closes = {r: v[0] for r, v in pending.items()}
    weights = {r: v[1] for r, v in pending.items()}
    big_close = pd.concat({r: closes[r][["a", "b"]] for r in closes}, axis=1, names=["run", "leg"])
    pf, av, weights = _simulate_net_of_borrow(
        big_close, weights, costs.borrow_rate, costs.fees, costs.slippage
    )
    traded = traded_value(pf)
    value_raw = group_frame(pf, "value")
    out = {}
    for run, (_, _, pos) in pending.items():
        paid = borrow_cost(av[run], costs.borrow_rate).cumsum()
        v, _ = _stop_at_ruin(value_raw[run] - paid)
        out[run] = RunSim(v, pos, weights[run], av[run].abs().sum(axis=1), traded[run], paid)
    return out


def _run_rows(
    store: Store, meta: list[dict], sims: dict[str, RunSim], idx: pd.DatetimeIndex
) -> tuple[list[dict], dict[str, pd.DataFrame]]:
    """The metrics row and the trades of every run."""
    years = (idx[-1] - idx[0]).days / 365.25
    bench_px = store.close(list(BENCHMARKS), strict=False).reindex(idx)
    bench = {b: bench_px[b].pct_change(fill_method=None) for b in bench_px.columns}
    rows, trades = [], {}
    for m in meta:
        sim = sims[m["run"]]
        v, ruined = _stop_at_ruin(sim.value)
        tr = _trades(sim.pos, v, m["a"], m["b"], sim.weights)
        if ruined:
            tr = tr[tr["entry_date"] < pd.Timestamp(ruined)].reset_index(drop=True)
        ended = m["data_ended"]
        tr["data_ended"] = (
            tr["exit_date"].notna() & (pd.to_datetime(tr["exit_date"]) > ended)
            if ended is not None
            else False
        )
        trades[m["run"]] = tr
        rows.append(
            {k: m[k] for k in ("run", "pair", "lookback", "entry", "exit", "stop")}
            | _metrics(v, sim, tr, bench, years, ruined, ended)
        )
    return rows, trades


def _metrics(v, sim: RunSim, tr, bench, years, ruined, ended) -> dict[str, object]:
    r = v.pct_change().fillna(0.0)
    met: dict[str, object] = dict(summary(r, v))
    live = v.where(v > 0)
    met["turnover"] = float((sim.traded / live).sum() / 2 / years) if years else np.nan
    for b, br in bench.items():
        a_, beta_ = alpha_beta(r, br)
        met[f"alpha_{b}"], met[f"beta_{b}"] = a_, beta_
        met[f"ir_{b}"] = information_ratio(r, br)
    met.update(
        {
            "ruined_on": ruined,
            "trades": float(len(tr)),
            "win_rate": float((tr["pnl"] > 0).mean()) if len(tr) else np.nan,
            "avg_days_held": float(tr["days_held"].mean()) if len(tr) else np.nan,
            "time_in_market": float((sim.pos != 0).mean()),
            "borrow_paid": float(sim.paid.iloc[-1] / v.iloc[0]),
            "gross_exposure": float(
                (sim.gross / live).where(sim.pos.shift(1).fillna(0) != 0).mean()
            ),
            "data_ended": iso_day(ended),
            "open_at_end": bool(len(tr) and pd.isna(tr["exit_date"].iloc[-1])),
        }
    )
    return met


@dataclass(frozen=True)
class PairInputs:
    """What a pair trades on, prepared once for every lookback and threshold set."""

    pair: PairSpec
    prices: pd.DataFrame  #: USD fill prices from the start, frozen after a leg's data end
    raw: pd.DataFrame  #: the same before freezing (for the statistics)
    signal: pd.DataFrame  #: USD prices the signal sees, with the warm-up (``--lag`` applied)
    tradable: np.ndarray  #: both legs' markets closed that day (an order can fill)
    ended_at: pd.Timestamp | None  #: the last common close when a leg's data ended


def pair_inputs(
    store: Store,
    universe: Universe,
    pair: PairSpec,
    cal: pd.DatetimeIndex,
    start: pd.Timestamp,
    *,
    lag: int = 0,
) -> PairInputs:
    """Fills and valuation at each leg's close of the US date (an HK/A-share close precedes
    the New York close); the signal may lag the non-US leg further (``lag``).  A leg whose
    data stop: the pair is valued and closed at the last close both legs have, never carried on
    one frozen leg while the other moves."""
    px_all = pair_prices(store, universe, pair, cal)
    sig_all = pair_prices(store, universe, pair, cal, lag=lag) if lag else px_all
    raw = px_all.loc[start:]
    legs = [t for t in (pair.a, pair.b) if t != BASKET]
    tradable = (close_age_days(store, legs, raw.index) == 0).all(axis=1).to_numpy()
    px, tradable, ended_at = _freeze_after_data_end(raw, tradable)
    return PairInputs(pair, px, raw, sig_all, tradable, ended_at)


def signal_frame(inp: PairInputs, lookback: int, hedge: str, start: pd.Timestamp) -> pd.DataFrame:
    """``beta``, ``spread`` and ``z`` of the pair on its fill dates."""
    return spread_zscore(inp.signal, lookback, hedge).loc[start:]


def kernel_grid(
    inp: PairInputs,
    zf: pd.DataFrame,
    combos: list[tuple[float, float, float]],
    *,
    max_hold: int,
    long_only: bool,
    fees: float,
    slippage: float,
    borrow_rate: float,
    init_cash: float = INIT_CASH,
    summary: bool = False,
):
    """Equity (net of borrow), positions, order weights and (gross value, traded notional,
    borrow paid) of every threshold set by the compiled loop of :mod:`backtests.kernel`: the
    same rule and accounting as the vectorbt path.  With ``summary``, only each set's
    :data:`backtests.kernel.SUMMARY` figures (a ``K x 5`` array: the grid explorer)."""
    from backtests.kernel import pair_grid, pair_grid_summary

    en, ex, st = (np.array(v, dtype=float) for v in zip(*combos, strict=True))
    ended = -1 if inp.ended_at is None else int(inp.prices.index.get_loc(inp.ended_at))
    close = inp.prices.ffill()  # the kernel relies on forward-filled closes
    return (pair_grid_summary if summary else pair_grid)(
        zf["z"].to_numpy(dtype=float),
        zf["beta"].to_numpy(dtype=float),
        (zf["beta"] > 0).to_numpy(),
        np.asarray(inp.tradable, dtype=bool),
        close["a"].to_numpy(dtype=float),
        close["b"].to_numpy(dtype=float),
        ended,
        en,
        ex,
        st,
        int(max_hold),
        bool(long_only),
        float(fees),
        float(slippage),
        float(borrow_rate),
        float(init_cash),
    )


def warmup_days(lookbacks) -> int:
    """Trading days of history loaded before the start: two windows of the longest lookback."""
    return max(lookbacks) * 2 + 10


def _inputs_version(store: Store, universe: Universe) -> tuple[str, str]:
    """What a sweep runs on, for its chunks to check: the store's version and a digest of
    the universe."""
    return store.version(), hashlib.sha256(universe.fingerprint().encode()).hexdigest()


def _worker_inputs(
    store_root: str, universe_path: str, version: tuple[str, str]
) -> tuple[Store, Universe]:
    """The store and the universe a chunk runs on (chunks carry paths, not data): the store as
    open in this process while its folder is unchanged (:func:`data.store.open_store`), and
    only the version the sweep started on; a store committed again, or another universe at
    that path (a worker of a remote cluster), is an error, not a mix of two versions."""
    from data.universe import load_universe

    store, universe = open_store(Path(store_root)), load_universe(universe_path)
    if _inputs_version(store, universe) != version:
        raise DataError(
            f"the data store {store_root} or the universe {universe_path} is not the one the "
            "sweep started on (a data update committed, or a worker sees other files); "
            "run the sweep again"
        )
    return store, universe


def pairs_chunk(
    store_root: str,
    universe_path: str,
    version: tuple[str, str],
    pair: PairSpec,
    params: PairsParams,
    warmup: int,
) -> PairsResult:
    """One chunk of a sweep (one pair, one lookback, every threshold set): a pure function
    of its arguments, run in this process or on a distributed worker.  ``version``: what
    the sweep started on (:func:`_inputs_version`)."""
    store, universe = _worker_inputs(store_root, universe_path, version)
    return run_pairs_backtest(store, universe, [pair], params, warmup=warmup)


def merge_results(parts: list[PairsResult]) -> PairsResult:
    """The chunks of a sweep as one result, in the order of ``parts``."""
    return PairsResult(
        table=pd.concat([p.table for p in parts]),
        trades={k: v for p in parts for k, v in p.trades.items()},
        stats={k: v for p in parts for k, v in p.stats.items()},
        rolling={k: v for p in parts for k, v in p.rolling.items()},
        value=pd.concat([p.value for p in parts], axis=1),
        returns=pd.concat([p.returns for p in parts], axis=1),
        weights={k: v for p in parts for k, v in p.weights.items()},
        prices={k: v for p in parts for k, v in p.prices.items()},
    )


def run_pairs_sweep(
    store: Store,
    universe: Universe,
    pairs: list[PairSpec],
    params: PairsParams | None = None,
    *,
    engine: str = "local",
    workers: int | None = None,
    on_done=None,
    **fields,
) -> PairsResult:
    """:func:`run_pairs_backtest` over the grid, cut into (pair, lookback) chunks run on
    ``engine`` (:mod:`backtests.engines`); ``local`` runs the grid in one simulation.  Pair
    statistics are computed once per pair (with its first lookback)."""
    from backtests.engines import map_chunks

    p = _params(params, fields)
    if engine == "local":
        return run_pairs_backtest(store, universe, pairs, p)
    warmup = warmup_days(p.lookbacks)
    version = _inputs_version(store, universe)
    if open_store(store.root).version() != version[0]:
        raise DataError(
            f"the data store {store.root} was committed again after it was opened here; "
            "open it again"
        )
    chunks = [
        (str(store.root), str(universe.path), version, pair,
         replace(p, lookbacks=(lb,), stats=p.stats and i == 0), warmup)
        for pair in pairs
        for i, lb in enumerate(p.lookbacks)
    ]  # fmt: skip
    parts = map_chunks(pairs_chunk, chunks, engine=engine, workers=workers, on_done=on_done)
    return merge_results(parts)


def _statistics(px: pd.DataFrame, window: int) -> tuple[PairStats, pd.DataFrame]:
    roll = rolling_pair_statistics(px, window=window)
    return pair_statistics(px).with_rolling(roll), roll


def _freeze_after_data_end(
    px: pd.DataFrame, tradable: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, pd.Timestamp | None]:
    """Both legs are held at their last common close after it (one leg never moves while the
    other is stale); if that is more than :data:`DATA_ENDED_DAYS` before the period ends, the
    leg's data have ended and an order after it fills at that close.  Closing there uses the
    knowledge that the series ended (hindsight, said in the run's notes)."""
    closed = px.index[np.asarray(tradable, dtype=bool) & px.notna().all(axis=1).to_numpy()]
    if closed.empty or closed[-1] == px.index[-1]:
        return px, tradable, None
    last = closed[-1]  # the last day both legs had a close of their own
    frozen = px.copy()  # no leg moves past it (a stale leg never carries a live one)
    frozen.loc[frozen.index > last] = px.loc[last].to_numpy()
    if (px.index[-1] - last).days <= DATA_ENDED_DAYS:
        return frozen, tradable, None  # a holiday at the end: valued, not closed
    trad = tradable.copy()
    trad[frozen.index > last] = True
    return frozen, trad, last


def _simulate_net_of_borrow(
    close: pd.DataFrame,
    weights: dict[str, pd.DataFrame],
    rate: float,
    fees: float,
    slippage: float,
):
    """Simulate, then size every order again on equity net of the borrow paid so far (the
    simulator sizes on its own equity, which knows no borrow): each order's weights times
    (equity - borrow paid) / equity at the close before it, and simulate once more."""

    from backtests.engine import group_frame, simulate_stacked

    def run(w: dict[str, pd.DataFrame]):
        size = pd.concat({r: w[r][["a", "b"]] for r in w}, axis=1, names=["run", "leg"])
        pf = simulate_stacked(close, size, fees=fees, slippage=slippage)
        return pf, pf.asset_value(group_by=False)

    pf, av = run(weights)
    if rate <= 0:
        return pf, av, weights
    value = group_frame(pf, "value")
    scaled = {}
    for r, w in weights.items():
        paid = borrow_cost(av[r], rate).cumsum()
        net = ((value[r] - paid) / value[r]).clip(lower=0.0).shift(1).fillna(1.0)
        scaled[r] = w.mul(net.to_numpy(), axis=0)
    pf, av = run(scaled)
    return pf, av, scaled


def _stop_at_ruin(value: pd.Series) -> tuple[pd.Series, str | None]:
    """A short leg can lose more than the equity: once equity reaches zero the run is over
    (a total loss, as a margin call would make it), not continued on negative capital."""
    bad = np.flatnonzero(value.to_numpy() <= 0)
    if not len(bad):
        return value, None
    out = value.copy()
    out.iloc[bad[0] :] = 0.0
    return out, value.index[bad[0]].date().isoformat()


def _trades(pos: pd.Series, value: pd.Series, a: str, b: str, w: pd.DataFrame) -> pd.DataFrame:
    """One row per trade, from the orders placed: decision date, entry and exit order dates,
    direction, leg weights and P&L (equity at the exit order's close less equity at the close
    before the entry order, so fees and borrow are in; an open trade is marked at the end)."""
    idx = w.index
    p = pos.reindex(idx).to_numpy()
    w_a, w_b = w["a"].to_numpy(dtype=float), w["b"].to_numpy(dtype=float)
    val = value.to_numpy(dtype=float)
    orders = np.flatnonzero(~np.isnan(w_a))
    rows = []
    for n, i in enumerate(orders):
        wa = float(w_a[i])
        if wa == 0 or i == 0:
            continue
        direction = 1.0 if wa > 0 else -1.0
        decided = i - 1
        while decided > 0 and p[decided - 1] == direction:
            decided -= 1
        end = orders[n + 1] if n + 1 < len(orders) else None
        mark = end if end is not None else len(idx) - 1
        # a direct flip: the previous trade was marked to this close, so start from it
        flip = n > 0 and float(w_a[orders[n - 1]]) * wa < 0
        base = i if flip else i - 1
        pnl = float(val[mark] - val[base])
        rows.append(
            {
                "signal_date": idx[decided],
                "entry_date": idx[i],
                "exit_date": idx[end] if end is not None else None,
                "direction": "long spread" if direction > 0 else "short spread",
                "long_leg": a if direction > 0 else b,
                "short_leg": b if direction > 0 else a,
                "weight_a": wa,
                "weight_b": float(w_b[i]),
                "days_held": int(mark - i),
                "pnl": pnl,
                "return": pnl / float(val[base]) if val[base] > 0 else np.nan,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "signal_date",
            "entry_date",
            "exit_date",
            "direction",
            "long_leg",
            "short_leg",
            "weight_a",
            "weight_b",
            "days_held",
            "pnl",
            "return",
        ],
    )


def heatmap(
    table: pd.DataFrame,
    x: str = "entry",
    y: str = "lookback",
    value: str = "sharpe",
    pair: str | None = None,
) -> pd.DataFrame:
    """Heatmap-ready frame: ``value`` averaged over the other parameters, ``y`` rows x ``x``
    columns (optionally for one pair)."""
    t = table if pair is None else table[table["pair"] == pair]
    return t.pivot_table(index=y, columns=x, values=value, aggfunc="mean")
