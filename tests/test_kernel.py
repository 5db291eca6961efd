"""The compiled pairs loop (backtests.kernel) against the vectorbt portfolio: same positions
and the same equity, bit for bit, on real pairs (one with a leg whose data end, one against the
peer basket, one with an HK leg that does not trade on every US day) and several rules."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from backtests.pairs import _trades, kernel_grid, pair_inputs, run_pairs_backtest, signal_frame
from data.calendar import us_calendar
from strategies.pairs import parse_pair

CASES = [
    ("BABA:AMZN", {}),
    ("JD:9618.HK", {"long_only": True}),  # the HK leg's data end on 2025-10-30
    ("KC:basket", {"borrow_rate": 0.0, "fees": 0.0, "slippage": 0.0}),
    ("BIDU:GOOGL", {"borrow_rate": 0.25, "fees": 0.003}),  # heavy borrow: the re-sizing matters
]


@pytest.mark.parametrize("pair_text,kw", CASES)
def test_kernel_equals_the_vectorbt_portfolio(embedded, universe, pair_text, kw):
    pair = parse_pair(pair_text, universe)
    entries, exits, stops = (1.5, 2.0), (0.0, 0.5), (3.0, 4.0)
    args = (
        dict(
            lookbacks=(20, 60),
            entries=entries,
            exits=exits,
            stops=stops,
            start="2022-01-01",
            max_hold=40,
        )
        | kw
    )
    res = run_pairs_backtest(embedded, universe, [pair], simulator="vectorbt", **args)
    s = pd.Timestamp("2022-01-01")
    cal = us_calendar(embedded, end=res.value.index[-1])
    cal = cal[max(0, cal.searchsorted(s) - 130) :]
    inp = pair_inputs(embedded, universe, pair, cal, s)
    combos = [c for c in itertools.product(entries, exits, stops) if c[1] < c[0] < c[2]]
    n = 0
    for lb in (20, 60):
        values, positions, orders, _ = kernel_grid(
            inp,
            signal_frame(inp, lb, "ols", s),
            combos,
            max_hold=40,
            long_only=kw.get("long_only", False),
            fees=kw.get("fees", 0.001),
            slippage=kw.get("slippage", 0.0005),
            borrow_rate=kw.get("borrow_rate", 0.03),
        )
        for k, (en, ex, st) in enumerate(combos):
            run = f"{pair.label}|L{lb}|E{en:g}|X{ex:g}|S{st:g}"
            np.testing.assert_array_equal(values[:, k], res.value[run].to_numpy())
            np.testing.assert_array_equal(orders[:, k, :], res.weights[run][["a", "b"]].to_numpy())
            v = pd.Series(values[:, k], index=res.value.index)
            w = pd.DataFrame(orders[:, k, :], index=v.index, columns=["a", "b"])
            pos = pd.Series(positions[:, k], index=v.index)
            mine = _trades(pos, v, pair.a, pair.b, w)
            theirs = res.trades[run].drop(columns=["data_ended"])
            pd.testing.assert_frame_equal(mine, theirs)
            assert res.table.at[run, "time_in_market"] == (positions[:, k] != 0).mean()
            n += len(theirs)
    assert n > 10  # trades happened: the comparison is not between two flat lines


@pytest.mark.parametrize("pair_text,kw", CASES[:2])
def test_the_backtest_gives_the_same_table_with_either_simulator(embedded, universe, pair_text, kw):
    pair = parse_pair(pair_text, universe)
    args = (
        dict(
            lookbacks=(20, 60),
            entries=(1.5, 2.0),
            exits=(0.0, 0.5),
            stops=(3.0, 4.0),
            start="2022-01-01",
        )
        | kw
    )
    vb = run_pairs_backtest(embedded, universe, [pair], simulator="vectorbt", **args)
    kn = run_pairs_backtest(embedded, universe, [pair], simulator="kernel", **args)
    pd.testing.assert_frame_equal(vb.table, kn.table, check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(vb.value, kn.value, check_exact=True)
    for run in vb.trades:
        pd.testing.assert_frame_equal(vb.trades[run], kn.trades[run], check_exact=True)


@pytest.mark.parametrize("pair_text,kw", CASES)
def test_the_grid_summary_equals_figures_computed_from_the_full_run(
    embedded, universe, pair_text, kw
):
    """The explorer's per-set figures against numpy on the full kernel's equity and orders."""
    pair = parse_pair(pair_text, universe)
    s = pd.Timestamp("2021-01-01")
    cal = us_calendar(embedded)
    cal = cal[max(0, cal.searchsorted(s) - 130) :]
    inp = pair_inputs(embedded, universe, pair, cal, s)
    zf = signal_frame(inp, 40, "ols", s)
    combos = [c for c in itertools.product((1.0, 1.5, 2.0), (0.0, 0.5), (3.0, 4.0)) if c[1] < c[0]]
    args = dict(
        max_hold=30,
        long_only=kw.get("long_only", False),
        fees=kw.get("fees", 0.001),
        slippage=kw.get("slippage", 0.0005),
        borrow_rate=kw.get("borrow_rate", 0.03),
    )
    values, _, orders, extra = kernel_grid(inp, zf, combos, **args)
    summary = kernel_grid(inp, zf, combos, summary=True, **args)
    for k in range(len(combos)):
        v = values[:, k]
        r = pd.Series(v).pct_change().fillna(0.0)  # the backtest table's returns
        sharpe = r.mean() / r.std(ddof=1) * np.sqrt(252)
        mdd = (v / np.maximum.accumulate(v) - 1.0).min()
        n_orders = np.isfinite(orders[:, k, :]).any(axis=1).sum()
        np.testing.assert_allclose(
            summary[k], [v[-1], sharpe, mdd, n_orders, extra[-1, k, 2]], rtol=1e-9, atol=1e-12
        )
    assert (summary[:, 3] > 0).all()  # every set traded: the figures are not those of cash


def test_the_kernel_equity_equals_backtraders_broker_on_the_same_orders(embedded, universe):
    """An independent broker (backtrader 1.9) fills the kernel's orders: same equity, no costs."""
    pytest.importorskip("backtrader")
    from backtrader_replay import replay

    from backtests.pairs import INIT_CASH

    pair = parse_pair("BABA:AMZN", universe)
    s = pd.Timestamp("2020-01-01")
    inp = pair_inputs(embedded, universe, pair, us_calendar(embedded), s)
    zf = signal_frame(inp, 40, "ols", s)
    values, _, orders, _ = kernel_grid(
        inp, zf, [(1.5, 0.0, 4.0)], max_hold=40, long_only=False, fees=0.0, slippage=0.0,
        borrow_rate=0.0,
    )  # fmt: skip
    close = inp.prices.ffill()
    first = int(np.argmax(close.notna().all(axis=1).to_numpy()))
    w = orders[first:, 0, :]
    theirs = replay(close.iloc[first:], w, INIT_CASH)
    np.testing.assert_allclose(theirs, values[first:, 0], rtol=1e-9)
    assert np.isfinite(w).any(axis=1).sum() > 10  # orders were filled: not two flat lines
    assert abs(values[-1, 0] / INIT_CASH - 1) > 0.01
