"""Long-discount backtest: the hand check, the look-ahead guard, next-bar execution, FX."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtests.discount import _forward_returns, run_discount_backtest
from backtests.engine import group_frame, simulate_weights
from data.fx import close_age_days, usd_closes
from data.store import Store
from strategies.long_discount import (
    LongDiscountParams,
    cap_weights,
    signal_dates,
    target_weights,
)

from synthetic import bdays, edited_copy, write_store

pytestmark = pytest.mark.vbt


def hand_total_return(close: pd.DataFrame, weights: pd.DataFrame) -> float:
    """Independent re-computation: at each order row the ordered names are set to their target
    share of the portfolio at that close; holdings then drift with prices until the next row."""
    p = close.ffill().to_numpy(dtype=float)
    w = weights.reindex(index=close.index, columns=close.columns).to_numpy(dtype=float)
    hold = np.zeros(p.shape[1])
    cash = 1.0
    for t in range(len(p)):
        if t:
            ratio = np.where(hold != 0, p[t] / p[t - 1], 1.0)
            hold = hold * ratio
        v = cash + hold.sum()
        m = ~np.isnan(w[t])
        if m.any():
            hold[m] = w[t, m] * v
            cash = v - hold.sum()
    return cash + hold.sum() - 1.0


@pytest.fixture(scope="module")
def full_run(embedded, universe):
    p = LongDiscountParams(top_n=5, rebalance="W", weighting="equal", signal="auto")
    return p, run_discount_backtest(
        embedded, universe, [p], start="2019-01-01", end="2026-07-14", fees=0.0, slippage=0.0
    )


def test_total_return_equals_hand_compounded_target_weights(embedded, universe, full_run):
    p, res = full_run
    close = usd_closes(embedded, universe, list(res.weights[p.label].columns), res.value.index)
    expected = hand_total_return(close, res.weights[p.label])
    assert res.metrics.loc[p.label, "total_return"] == pytest.approx(expected, rel=1e-9)
    assert len(res.rebalances[p.label]) > 350  # weekly over 7.5 years


def test_holdings_do_not_change_when_later_data_is_removed(tmp_path, embedded, universe, full_run):
    """The look-ahead guard: a store cut at 2024-12-31 (prices, fundamentals and snapshots
    after it deleted) gives the same holdings on every rebalance up to then."""
    p, res = full_run
    cut = pd.Timestamp("2024-12-31")
    cols = {
        "prices": "date",
        "fundamentals": "public_date",
        "valuations": "date",
        "shares": "public_date",
    }
    root = edited_copy(
        embedded.root,
        tmp_path / "cut",
        {name: (lambda df, c=c: df[df[c] <= cut]) for name, c in cols.items()},
    )
    short = run_discount_backtest(
        Store(root),
        universe,
        [p],
        start="2019-01-01",
        end=cut,
        fees=0.0,
        slippage=0.0,
        diagnostics=False,
    )
    a = {r.trade_date: r.weights for r in res.rebalances[p.label] if r.trade_date <= cut}
    b = {r.trade_date: r.weights for r in short.rebalances[p.label]}
    assert len(b) > 250 and set(b) == set(a)
    for d in b:
        assert b[d] == pytest.approx(a[d]), d


def test_extending_the_run_keeps_earlier_holdings(embedded, universe, full_run):
    p, res = full_run
    short = run_discount_backtest(
        embedded,
        universe,
        [p],
        start="2019-01-01",
        end="2023-06-30",
        fees=0.0,
        slippage=0.0,
        diagnostics=False,
    )
    long_ = {r.signal_date: r.weights for r in res.rebalances[p.label]}
    common = [r for r in short.rebalances[p.label] if r.signal_date < pd.Timestamp("2023-06-23")]
    assert len(common) > 200
    for r in common:
        assert r.weights == pytest.approx(long_[r.signal_date])


def test_orders_fill_on_the_next_bar(tmp_path, synthetic_universe):
    """SYNTHETIC: CNA jumps 50% between the signal close and the next close.  The strategy
    decides at the signal close and fills at the next close, so it must not earn the jump."""
    idx = bdays("2024-01-01", "2024-03-29")
    jump_day = idx[idx.get_loc(pd.Timestamp("2024-01-31")) + 1]
    cna = pd.Series(10.0, index=idx)
    cna[idx >= jump_day] = 15.0
    store = write_store(
        tmp_path / "s",
        {
            "CNA": cna,
            "USA": pd.Series(100.0, index=idx),
            "CNY=X": pd.Series(7.0, index=idx),
            "HKD=X": pd.Series(7.8, index=idx),
        },
    )
    px = usd_closes(store, synthetic_universe, ["CNA"], idx)
    sig_days = signal_dates(idx, "ME")
    signal = pd.DataFrame({"CNA": 1.0}, index=sig_days)
    params = LongDiscountParams(top_n=1, cap=1.0, signal="price")
    w, rec = target_weights(signal, px, params, synthetic_universe)
    assert rec[0].signal_date == pd.Timestamp("2024-01-31")
    assert rec[0].trade_date == jump_day  # the next bar, not the signal bar
    pf = simulate_weights(px, {"run": w})
    value = group_frame(pf, "value")["run"]
    assert value[jump_day] == pytest.approx(value.iloc[0])  # bought at 15, after the jump
    fwd = _forward_returns(signal, px, 1)
    assert fwd.loc["2024-01-31", "CNA"] == pytest.approx(0.0)  # diagnostics start there too


def test_usd_conversion_and_stale_series(tmp_path, synthetic_universe):
    """SYNTHETIC: HKD 78 at 7.8 per USD is USD 10; a series that stops is NaN after 7 days
    (data.rules.MAX_PRICE_AGE_DAYS, the screen's rule too)."""
    idx = bdays("2024-01-01", "2024-02-29")
    hk = pd.Series(78.0, index=idx)
    hk[idx > pd.Timestamp("2024-01-31")] = np.nan
    fx = pd.Series(7.8, index=idx)
    fx[idx >= pd.Timestamp("2024-02-15")] = 7.75
    store = write_store(
        tmp_path / "s", {"9001.HK": hk, "CNY=X": pd.Series(7.0, index=idx), "HKD=X": fx}
    )
    px = usd_closes(store, synthetic_universe, ["9001.HK"], idx)["9001.HK"]
    assert px["2024-01-31"] == pytest.approx(10.0)
    assert px["2024-02-07"] == pytest.approx(10.0)  # 7 days old: still the last close
    assert np.isnan(px["2024-02-08"])  # 8 days: stale, not traded


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.01, 10.0), min_size=1, max_size=12), st.floats(0.05, 1.0))
def test_cap_weights_invariants(raw, cap):
    w = cap_weights(np.array(raw), cap)
    assert (w <= cap + 1e-9).all() and (w >= 0).all()
    if cap * len(raw) >= 1:
        assert w.sum() == pytest.approx(1.0)
    else:
        assert w.sum() == pytest.approx(cap * len(raw))


def test_cap_weights_with_zero_weights_keeps_cash():
    w = cap_weights(np.array([5.0, 0.0, 0.0]), 0.25)
    assert w.tolist() == [0.25, 0.0, 0.0]  # not NaN: the rest is cash


def test_bad_parameters():
    from data.errors import InputError

    for kw in (
        {"top_n": 0},
        {"weighting": "magic"},
        {"signal": "tea leaves"},
        {"cap": 0},
        {"rebalance": "fortnightly"},
    ):
        with pytest.raises(InputError):
            LongDiscountParams(**kw)


def test_no_order_on_a_day_the_home_market_is_shut(embedded, universe, full_run):
    """Every order (non-NaN target) falls on a day the name's home market closed, so no fill
    uses a close from before the decision (Lunar New Year, Golden Week, HK typhoons...)."""
    p, res = full_run
    w = res.weights[p.label]
    china = [c for c in w.columns if c in universe.china]
    age = close_age_days(embedded, china, w.index)
    orders = w[china].notna()
    assert orders.to_numpy().sum() > 1000
    # the only orders off a home-market close: selling a name whose data stopped (no close for
    # more than 20 days) at its last close, listed in the rebalance record
    ended = {(r.trade_date, t) for r in res.rebalances[p.label] for t in r.data_ended}
    off = orders & (age != 0)
    for d, t in zip(*np.nonzero(off.to_numpy()), strict=True):
        day, name = w.index[d], china[t]
        assert (day, name) in ended and w.at[day, name] == 0.0 and age.at[day, name] > 20
    deferred = [r for r in res.rebalances[p.label] if (r.trade_date - r.signal_date).days > 4]
    assert deferred  # some rebalances had to wait for a market to reopen


def test_information_coefficient_matches_scipy():
    """SYNTHETIC prices and signal: the mean IC equals scipy's Spearman, date by date."""
    from scipy.stats import spearmanr

    from backtests.discount import information_coefficient

    rng = np.random.default_rng(4)
    idx = bdays("2020-01-01", "2021-12-31")
    prices = pd.DataFrame(
        np.exp(np.cumsum(rng.normal(0, 0.02, (len(idx), 12)), axis=0)),
        index=idx,
        columns=[f"S{i}" for i in range(12)],
    )
    sig_dates = idx[::5][:-10]
    signal = pd.DataFrame(
        rng.normal(size=(len(sig_dates), 12)), index=sig_dates, columns=prices.columns
    )
    signal.iloc[::7, 3] = np.nan  # gaps are dropped pairwise
    ic = information_coefficient(signal, prices, [5])
    fwd = _forward_returns(signal, prices, 5)
    ref = [spearmanr(signal.loc[d], fwd.loc[d], nan_policy="omit")[0] for d in sig_dates]
    assert ic.loc[5, "mean_ic"] == pytest.approx(np.nanmean(ref), rel=1e-9)
    assert ic.loc[5, "dates"] == len(sig_dates)
    # a signal that is tomorrow's return has IC 1
    perfect = _forward_returns(signal, prices, 5)
    assert information_coefficient(perfect, prices, [5]).loc[5, "mean_ic"] == pytest.approx(1.0)


def test_score_weighting_is_proportional_to_the_score_above_the_floor(synthetic_universe):
    from strategies.long_discount import _select, _weigh

    scores = np.array([0.5, 3.5, 2.5, np.nan, 1.5])  # eligible floor: 0.5
    seg = np.array(["cloud"] * 5, dtype=object)
    p = LongDiscountParams(top_n=3, weighting="score", cap=1.0)
    chosen = _select(scores, seg, p)
    assert chosen.tolist() == [1, 2, 4]
    w = _weigh(chosen, np.ones(5), seg, np.ones(5), p, scores)
    np.testing.assert_allclose(w, np.array([3.0, 2.0, 1.0]) / 6.0)
    eq = _weigh(chosen, np.ones(5), seg, np.ones(5), LongDiscountParams(top_n=3, cap=1.0))
    np.testing.assert_allclose(eq, [1 / 3] * 3)


def test_a_name_whose_data_end_is_sold_at_its_last_close_without_hindsight(
    tmp_path, synthetic_universe
):
    """SYNTHETIC: CNA's prices stop on Thursday 2024-02-01 and the book rebalances on
    Wednesdays.  Nobody knew on 2024-01-31 that CNA would stop: it stays the pick.  From
    2024-02-07 (its close six days old) it is not eligible, but a market can be shut that long
    (Golden Week), so it is kept; once it has had no close for more than 20 days it has ended
    and is sold at its last close, flagged; nothing is left in the book."""
    idx = bdays("2024-01-01", "2024-03-29")
    cna = pd.Series(10.0, index=idx).where(idx <= pd.Timestamp("2024-02-01"))
    store = write_store(
        tmp_path / "s",
        {
            "CNA": cna,
            "CNB": pd.Series(5.0, index=idx),
            "CNS": pd.Series(20.0, index=idx),
            "CNY=X": pd.Series(7.0, index=idx),
            "HKD=X": pd.Series(7.8, index=idx),
        },
    )
    names = ["CNA", "CNB", "CNS"]
    px = usd_closes(store, synthetic_universe, names, idx)
    trad = close_age_days(store, names, idx) == 0
    sig_days = signal_dates(idx, "W-WED")
    signal = pd.DataFrame({"CNA": 3.0, "CNB": 2.0, "CNS": 1.0}, index=sig_days)
    w, rec = target_weights(
        signal, px, LongDiscountParams(top_n=1, cap=1.0), synthetic_universe, tradable=trad
    )
    by_trade = {r.trade_date: r for r in rec}
    assert by_trade[pd.Timestamp("2024-01-25")].weights == {"CNA": 1.0}
    assert by_trade[pd.Timestamp("2024-02-01")].weights == {"CNA": 1.0}  # no hindsight
    (sale,) = [r for r in rec if r.data_ended]
    assert sale.data_ended == ["CNA"] and sale.weights == {"CNB": 1.0}
    assert sale.trade_date == pd.Timestamp("2024-02-22")  # 21 days after its last close
    assert w.at[sale.trade_date, "CNA"] == 0.0
    assert w["CNA"].dropna().iloc[-1] == 0.0
    assert hand_total_return(px.ffill(), w) == pytest.approx(0.0)  # flat prices, no costs


def test_a_decision_does_not_change_when_later_prices_are_deleted(embedded, universe, tmp_path):
    """The review's case: deleting KC's prices after 2023-08-01 changed the 2023-07-31 pick
    (the backtest knew KC's series would end).  Decisions may use only what was known."""
    p = LongDiscountParams(top_n=5, rebalance="ME", signal="valuation")
    kw = dict(start="2023-01-01", end="2023-12-29", fees=0.0, slippage=0.0, diagnostics=False)
    full = run_discount_backtest(embedded, universe, [p], **kw)

    def drop_kc_tail(px):
        return px[~((px["ticker"] == "KC") & (px["date"] > pd.Timestamp("2023-08-01")))]

    root = edited_copy(embedded.root, tmp_path / "cut", {"prices": drop_kc_tail})
    cut = run_discount_backtest(Store(root), universe, [p], **kw)
    a = {r.signal_date: r.weights for r in full.rebalances[p.label]}
    b = {r.signal_date: r.weights for r in cut.rebalances[p.label]}
    day = pd.Timestamp("2023-07-31")
    assert a[day] == b[day]
    for d in a:
        if d <= day:
            assert a[d] == b[d], d


@pytest.mark.parametrize("freq", ["W-WED", "W-THU", "B"])
def test_every_name_whose_data_end_is_sold_by_its_last_close(embedded, universe, freq):
    p = LongDiscountParams(top_n=20, rebalance=freq, signal="price", cap=0.1)
    res = run_discount_backtest(
        embedded,
        universe,
        [p],
        start="2025-06-01",
        end="2026-07-14",
        fees=0.0,
        slippage=0.0,
        diagnostics=False,
    )
    w = res.weights[p.label]
    age = close_age_days(embedded, list(w.columns), w.index)
    ended = [c for c in w.columns if c in universe.china and age[c].iloc[-1] > 5]
    assert ended
    for c in ended:
        orders = w[c].dropna()
        if len(orders):
            assert orders.iloc[-1] == 0.0, c  # the last order for an ended name is a sale
    for r in res.rebalances[p.label]:
        assert sum(r.weights.values()) <= 1.0 + 1e-9
