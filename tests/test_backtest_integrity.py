"""Backtests a quant can trust: one line per company, no head start for benchmarks, identical
configurations counted once, short windows not annualised, and overfitting measured (checked
against the papers' worked example and against noise)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtests.discount import run_discount_backtest
from backtests.metrics import MIN_ANNUALISE_DAYS, summary
from backtests.overfitting import (
    deflated_sharpe,
    distinct_trials,
    overfitting_report,
    probability_of_backtest_overfitting,
)
from backtests.walkforward import walk_forward
from strategies.long_discount import LongDiscountParams

from synthetic import edited_copy


@pytest.fixture(scope="module")
def sweep(embedded, universe):
    params = [
        LongDiscountParams(top_n=3, weighting="equal"),
        LongDiscountParams(top_n=3, weighting="inverse_vol"),
        LongDiscountParams(top_n=8, weighting="equal", cap=0.2),
        LongDiscountParams(top_n=5, weighting="equal", signal="auto"),
    ]
    res = run_discount_backtest(
        embedded, universe, params, start="2019-01-01", end="2026-07-14", diagnostics=False
    )
    return params, res


def test_no_rebalance_holds_two_lines_of_one_company(sweep, universe):
    # before: 58 of 90 monthly rebalances held both lines of one company (40-50% in it)
    _, res = sweep
    for label, recs in res.rebalances.items():
        for r in recs:
            companies = [universe.company_lines(t)[0] for t in r.weights]
            assert len(companies) == len(set(companies)), (label, r.signal_date, r.weights)


def test_every_leg_starts_on_the_strategys_first_fill(sweep):
    # before: KWEB and MCHI started a month earlier (a 13-16% head start)
    _, res = sweep
    first_fill = min(r[0].trade_date for r in res.rebalances.values())
    assert res.value.index[0] == first_fill
    # every leg, KWEB and MCHI included, holds only its initial cash (less the first day's
    # fees) on the first fill: nobody has earned anything before it
    start_values = res.value.iloc[0]
    assert ((start_values / 1e6 - 1).abs() < 0.003).all(), start_values


def test_identical_configurations_are_one_trial_and_cap_cash_is_said(sweep):
    params, res = sweep
    eq, iv = params[0].label, params[1].label
    assert res.duplicates == {iv: eq}  # top 3 at a 25% cap: 75% invested either way
    assert res.overfitting is not None and res.overfitting.n_trials == 3
    assert res.overfitting.n_configurations == 4
    assert any("in cash" in n and "top 3 x 0.25 < 100%" in n and eq in n for n in res.notes)
    assert res.metrics.loc[eq, "invested"] < 0.8


def test_auto_reports_which_signal_chose_its_picks(sweep):
    params, res = sweep
    auto = params[3].label
    (note,) = [n for n in res.notes if n.startswith(auto) and "of picks" in n]
    assert "valuation score" in note and "PRICE-RELATIVE" in note


def test_short_windows_are_not_annualised():
    r = pd.Series(0.01, index=pd.bdate_range("2026-07-01", periods=9))
    m = summary(r)
    assert math.isnan(m["sharpe"]) and math.isnan(m["cagr"]) and m["total_return"] > 0
    long = pd.Series(
        np.random.default_rng(1).normal(0.001, 0.01, MIN_ANNUALISE_DAYS),
        index=pd.bdate_range("2025-01-01", periods=MIN_ANNUALISE_DAYS),
    )
    assert math.isfinite(summary(long)["sharpe"])


def test_walk_forward_drops_short_test_windows_and_reports_the_median_choice():
    rng = np.random.default_rng(2)
    idx = pd.bdate_range("2019-01-01", "2024-01-15")  # the last test window: 10 days
    rets = pd.DataFrame(rng.normal(0, 0.01, (len(idx), 5)), index=idx)
    choices, oos, med = walk_forward(rets, train_years=2, test_months=6)
    ends = pd.to_datetime(choices["test_end"])
    starts = pd.to_datetime(choices["test_start"])
    assert ((ends - starts).dt.days > 80).all()
    assert len(oos) == len(med) and {"median_config", "median_test_sharpe"} <= set(choices)


def test_deflated_sharpe_reproduces_the_papers_example():
    # Bailey and Lopez de Prado (2014), section 5: annualised SR 2.5 over 1,250 days, skewness
    # -3, kurtosis 10, best of N = 100 trials with variance 0.5 (annualised): DSR = 0.9004
    days = 250
    trials = np.random.default_rng(0).normal(size=100)
    trials = (trials - trials.mean()) / trials.std(ddof=1) * math.sqrt(0.5 / days)
    dsr = deflated_sharpe(2.5 / math.sqrt(days), 1250, -3.0, 10.0, trials)
    assert dsr == pytest.approx(0.9004, abs=5e-4)


def test_pbo_is_about_a_half_for_noise_and_zero_for_a_real_edge():
    rng = np.random.default_rng(3)
    noise = [
        probability_of_backtest_overfitting(pd.DataFrame(rng.normal(0, 0.01, (1600, 12))))
        for _ in range(6)
    ]
    assert 0.3 < np.mean(noise) < 0.7
    edge = pd.DataFrame(rng.normal(0, 0.01, (1600, 12)))
    edge[0] += 0.003
    assert probability_of_backtest_overfitting(edge) == 0.0


def test_overfitting_report_counts_distinct_trials():
    rng = np.random.default_rng(5)
    r = pd.DataFrame(rng.normal(0, 0.01, (800, 4)), columns=list("abcd"))
    r["e"] = r["a"]  # a duplicate configuration
    assert distinct_trials(r) == list("abcd")
    o = overfitting_report(r)
    assert o.n_trials == 4 and o.n_configurations == 5
    assert 0 <= o.deflated_sharpe <= 1 and 0 <= o.pbo <= 1


def test_default_dates_and_signal_come_from_the_store_not_the_code(embedded, universe, tmp_path):
    # before: the end date 2026-07-14 was written in six places; after `data update` the
    # backtests and the scan would still have stopped there
    from data.store import Store

    root = edited_copy(
        embedded.root,
        tmp_path / "cut",
        {"prices": lambda px: px[px["date"] <= pd.Timestamp("2024-12-31")]},
    )
    p = LongDiscountParams()
    assert p.signal == "valuation"  # the headline run tests the valuation thesis
    res = run_discount_backtest(Store(root), universe, [p], start="2024-01-01", diagnostics=False)
    assert res.value.index[-1] == pd.Timestamp("2024-12-31")
    from backtests.pairs import run_pairs_backtest
    from strategies.pairs import PairSpec

    pr = run_pairs_backtest(Store(root), universe, [PairSpec("BABA", "AMZN")], start="2023-01-01")
    assert pr.value.index[-1] == pd.Timestamp("2024-12-31")


def test_overfitting_report_wires_the_formula_by_hand():
    from scipy.stats import kurtosis, norm, skew

    rng = np.random.default_rng(11)
    r = pd.DataFrame(rng.standard_t(4, (900, 6)) * 0.01, columns=list("abcdef"))
    r["c"] += 0.002
    o = overfitting_report(r)
    sr = (r.mean() / r.std(ddof=1)).to_numpy()
    best = r["c"].to_numpy()
    n, v = len(sr), sr.var(ddof=1)
    g = 0.5772156649015329
    sr0 = math.sqrt(v) * ((1 - g) * norm.ppf(1 - 1 / n) + g * norm.ppf(1 - 1 / (n * math.e)))
    s_, k_ = skew(best), kurtosis(best, fisher=False)  # kurtosis NOT in excess
    z = (
        (sr.max() - sr0)
        * math.sqrt(len(best) - 1)
        / math.sqrt(1 - s_ * sr.max() + (k_ - 1) / 4 * sr.max() ** 2)
    )
    assert o.best == "c" and o.deflated_sharpe == pytest.approx(norm.cdf(z), rel=1e-12)
    assert o.hurdle_sharpe_annualised == pytest.approx(sr0 * math.sqrt(252), rel=1e-12)


def test_walk_forward_median_configuration_is_the_median_of_the_training_ranks():
    idx = pd.bdate_range("2019-01-01", "2022-12-30")
    rng = np.random.default_rng(8)
    noise = rng.normal(0, 0.01, (len(idx), 5))
    drift = np.array([0.0001, 0.0002, 0.0003, 0.0004, 0.0005])  # e ranks first, c in the middle
    rets = pd.DataFrame(noise * 0.01 + drift, index=idx, columns=list("abcde"))
    choices, _, _ = walk_forward(rets, train_years=2, test_months=6)
    assert (choices["chosen"] == "e").all() and (choices["median_config"] == "c").all()
    three, _, _ = walk_forward(rets, train_years=2, test_months=3)  # quarters of ~61 days
    assert len(three) >= 7


def test_china_basket_holds_one_line_per_company(embedded, universe):
    from backtests.discount import _equal_weights
    from data.fx import close_age_days, usd_closes

    cal = pd.bdate_range("2024-01-01", "2024-06-28")
    px = usd_closes(embedded, universe, universe.china, cal)
    trad = close_age_days(embedded, universe.china, cal) == 0
    w = _equal_weights(px, pd.DatetimeIndex(["2024-01-31", "2024-04-30"]), universe, trad)
    for _, row in w.dropna(how="all").iterrows():
        held = [t for t, x in row.items() if x > 0]
        companies = [universe.company_lines(t)[0] for t in held]
        assert held and len(companies) == len(set(companies))
        assert not ({"BABA", "9988.HK"} <= set(held))


def test_auto_pick_share_matches_an_independent_count(sweep, embedded, universe):
    import re

    from strategies.long_discount import discount_signal

    params, res = sweep
    auto = params[3].label
    note = next(n for n in res.notes if n.startswith(auto) and "of picks" in n)
    share = float(re.search(r"(\d+)% of picks ranked by the valuation", note).group(1)) / 100
    picks = [(r.signal_date, t) for r in res.rebalances[auto] for t in r.weights]
    dates = pd.DatetimeIndex(sorted({d for d, _ in picks}))
    val = discount_signal(embedded, universe, dates, pd.DataFrame(), "valuation")
    mine = np.mean([pd.notna(val.at[d, t]) for d, t in picks])
    assert share == pytest.approx(mine, abs=0.006)
