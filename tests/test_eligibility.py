"""One rule for who may be ranked and held (screens.eligibility): the screen ranks, and the
long-discount backtest may buy, the same names under the same filters."""

from __future__ import annotations

import pandas as pd
import pytest

from backtests.discount import run_discount_backtest
from data.errors import InputError
from screens.eligibility import Eligibility
from screens.scoring import score_panel
from screens.screen import ScreenFilters, run_screen
from strategies.long_discount import LongDiscountParams, discount_signal

RULE = Eligibility(min_metrics=2, min_market_cap=20e9, stale_days=300, exclude_stale=True)


@pytest.mark.parametrize("date", ["2021-06-30", "2025-12-31"])
def test_the_backtest_signal_has_exactly_the_names_the_screen_ranks(embedded, universe, date):
    d = pd.Timestamp(date)
    flt = ScreenFilters(min_metrics=RULE.min_metrics, min_market_cap=RULE.min_market_cap,
                        stale_days=RULE.stale_days, exclude_stale=RULE.exclude_stale)  # fmt: skip
    screen = run_screen(embedded, universe, d, filters=flt)
    ranked = set(screen.rows.loc[screen.rows["rank"].notna(), "ticker"])
    sig = discount_signal(embedded, universe, pd.DatetimeIndex([d]), pd.DataFrame(),
                          "valuation", eligibility=RULE)  # fmt: skip
    assert set(sig.loc[d].dropna().index) == ranked
    everyone = run_screen(embedded, universe, d)
    assert len(ranked) < int(everyone.rows["rank"].notna().sum())  # the rule removed names


def test_held_names_pass_the_rule_on_their_signal_date(embedded, universe):
    p = LongDiscountParams(top_n=5, rebalance="Q")
    free = run_discount_backtest(embedded, universe, [p], start="2024-01-01", diagnostics=False)
    ruled = run_discount_backtest(embedded, universe, [p], start="2024-01-01",
                                  diagnostics=False, eligibility=RULE)  # fmt: skip
    dates = pd.DatetimeIndex([r.signal_date for r in ruled.rebalances[p.label]])
    mult, scores = score_panel(embedded, universe, dates)
    held = dropped = 0
    for r_free, r in zip(free.rebalances[p.label], ruled.rebalances[p.label], strict=True):
        d = r.signal_date
        for t in r.weights:
            assert mult.at[(d, t), "market_cap"] >= RULE.min_market_cap, (d, t)
            assert scores.at[(d, t), "n_metrics"] >= RULE.min_metrics, (d, t)
            age = (d - pd.Timestamp(mult.at[(d, t), "fundamentals_period_end"])).days
            assert age <= RULE.stale_days or mult.at[(d, t), "valuation_source"] != "annual"
            held += 1
        dropped += len(set(r_free.weights) - set(r.weights))
    assert held > 0 and dropped > 0  # the rule held names and changed what was held


@pytest.mark.parametrize(
    "kw,needle",
    [({"min_metrics": 0}, "--min-metrics"), ({"min_market_cap": -1.0}, "--min-market-cap"),
     ({"stale_days": 0}, "--stale-days")],
)  # fmt: skip
def test_a_bad_rule_is_refused(kw, needle):
    with pytest.raises(InputError, match=needle):
        Eligibility(**kw)


def test_the_cli_backtest_takes_the_screens_options(capsys):
    import json

    from aigap.cli import main

    args = ["backtest", "discount", "--start", "2025-06-01", "--format", "json"]
    assert main([*args, "--min-market-cap", "20e9", "--exclude-stale"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["eligibility"]["min_market_cap"] == 20e9 and doc["eligibility"]["exclude_stale"]
    assert main(args) == 0
    assert "eligibility" not in json.loads(capsys.readouterr().out)  # default: no rule
    assert main([*args, "--min-metrics", "0"]) == 2


@pytest.mark.parametrize("kind", ["price", "auto"])
def test_with_a_rule_every_signal_holds_only_names_the_screen_ranks(embedded, universe, kind):
    from data.calendar import us_calendar
    from data.fx import usd_closes

    d = pd.Timestamp("2025-12-31")
    cal = us_calendar(embedded, end=d)[-400:]
    px = usd_closes(embedded, universe, [*universe.china, *universe.us], cal)
    rule = Eligibility(min_market_cap=5e9)
    sig = discount_signal(embedded, universe, pd.DatetimeIndex([d]), px, kind, eligibility=rule)
    screen = run_screen(embedded, universe, d, filters=ScreenFilters(min_market_cap=5e9))
    ranked = set(screen.rows.loc[screen.rows["rank"].notna(), "ticker"])
    assert set(sig.loc[d].dropna().index) == ranked
    free = discount_signal(embedded, universe, pd.DatetimeIndex([d]), px, kind)
    assert set(free.loc[d].dropna().index) - ranked  # without the rule, more names
