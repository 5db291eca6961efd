"""The screen's arithmetic against hand-computed values on a SYNTHETIC store (see conftest)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from data.errors import InputError, NoDataError
from screens.screen import ScreenFilters, run_screen

from synthetic import fund_row, write_store

AS_OF = "2024-06-28"


def row(res, t):
    r = res.rows.set_index("ticker")
    return r.loc[t]


def test_multiples_and_discounts_match_hand_computation(synthetic_store, synthetic_universe):
    res = run_screen(synthetic_store, synthetic_universe, AS_OF)
    cna = row(res, "CNA")
    # CNA: 100m ADS x USD 10 = USD 1,000m; revenue CNY 700m / 7.0 = USD 100m
    assert cna["ps"] == pytest.approx(10.0)
    assert cna["pe_trailing"] == pytest.approx(100.0)  # 10 / (0.7 / 7.0)
    assert cna["ps_peer"] == pytest.approx(2.0)  # median(2, 10, 2)
    assert cna["pe_trailing_peer"] == pytest.approx(30.0)  # median(20, 50, 30)
    assert cna["ps_gap"] == pytest.approx(math.log(5.0))
    assert cna["ps_disc_pct"] == pytest.approx(1 - 10.0 / 2.0)
    expected = (-math.log(5.0) * 0.15 - math.log(100 / 30) * 0.15) / 0.30
    assert cna["composite"] == pytest.approx(expected)
    assert cna["n_metrics"] == 2
    assert cna["ps_growth"] == pytest.approx(10.0 / 100.0)  # revenue doubled: growth 100%
    assert np.isnan(cna["ps_growth_peer"])  # no US peer has two years of revenue
    cns = row(res, "CNS")
    assert cns["ps_peer"] == pytest.approx(3.0)  # median(4, 2)
    assert cns["composite"] == pytest.approx((math.log(3 / 2) + math.log(50 / 20)) / 2)
    assert cns["score"] == pytest.approx(cns["composite"])  # software tilt 1.0


def test_hk_line_of_adr_uses_ads_ratio_and_fx(synthetic_store, synthetic_universe):
    res = run_screen(synthetic_store, synthetic_universe, AS_OF)
    hk = row(res, "9001.HK")
    # 800m shares (100m ADS x 8) x HKD 9.75 / 7.8 = USD 1,000m: the same company value as the ADR
    assert hk["market_cap"] == pytest.approx(1000e6)
    assert hk["ps"] == pytest.approx(10.0)
    assert hk["pe_trailing"] == pytest.approx(100.0)


def test_negative_earnings_have_no_pe_and_tilt_orders_rank(synthetic_store, synthetic_universe):
    res = run_screen(synthetic_store, synthetic_universe, AS_OF)
    cnb = row(res, "CNB")
    assert np.isnan(cnb["pe_trailing"])
    assert "negative earnings" in cnb["flags"]
    assert cnb["composite"] == pytest.approx(math.log(2.0))  # P/S 1 vs peer median 2
    assert cnb["score"] == pytest.approx(math.log(2.0) + math.log(1.25))
    ranked = res.rows[res.rows["rank"].notna()]["ticker"].tolist()
    # CNA and its HK line 9001.HK tie (one company, one valuation): ticker order breaks the tie,
    # never the order of the universe file
    assert row(res, "CNA")["score"] == pytest.approx(row(res, "9001.HK")["score"])
    assert ranked == ["CNB", "CNS", "9001.HK", "CNA"]
    assert list(res.rows["rank"].dropna()) == [1, 2, 3, 4]


def test_as_of_cutoff_ignores_later_data(tmp_path, synthetic_store, synthetic_universe):
    base = run_screen(synthetic_store, synthetic_universe, AS_OF).rows
    px = synthetic_store.table("prices")
    series = {t: g.set_index("date")["close"] for t, g in px.groupby("ticker")}
    later = series["CNA"].index > pd.Timestamp(AS_OF)
    series["CNA"] = series["CNA"].where(~later, 1.0)  # crash after the as-of date
    series["USB"] = series["USB"].where(~later, 999.0)
    fund = synthetic_store.table("fundamentals").to_dict("records")
    fund.append(
        fund_row(
            "CNA",
            2024,
            "2024-07-01",
            currency="CNY",
            revenue=1e6,
            net_income=1e5,
            eps=1e3,
            shares=1.0,
        )
    )
    vals = [
        {
            "date": pd.Timestamp("2024-06-29"),
            "ticker": "USA",
            "source": "nasdaq",
            "price": 1.0,
            "market_cap": 1.0,
            "sales": 1e9,
            "sales_basis": "ttm",
            "net_income": 1e9,
            "debt": 0.0,
            "cash": 0.0,
            "eps_ttm": 1.0,
            "eps_fwd": 1.0,
            "ebitda": np.nan,
            "currency": "USD",
        }
    ]
    changed = write_store(tmp_path / "future", series, fund, vals)
    after = run_screen(changed, synthetic_universe, AS_OF).rows
    pd.testing.assert_frame_equal(base, after)
    # and the change is visible once the as-of date passes it
    moved = run_screen(changed, synthetic_universe, "2024-07-02").rows.set_index("ticker")
    assert moved.loc["CNA", "ps"] != pytest.approx(10.0)


def test_snapshot_is_preferred_within_its_age_and_ev_uses_net_debt(
    tmp_path, synthetic_store, synthetic_universe
):
    px = synthetic_store.table("prices")
    series = {t: g.set_index("date")["close"] for t, g in px.groupby("ticker")}
    series["CNA"] = series["CNA"].where(series["CNA"].index <= pd.Timestamp("2024-06-21"), 11.0)
    snap = {
        "date": pd.Timestamp("2024-06-20"),
        "ticker": "CNA",
        "source": "nasdaq",
        "price": 10.0,
        "market_cap": 1000e6,
        "sales": 200e6,
        "sales_basis": "latest_fy",
        "net_income": 20e6,
        "debt": 300e6,
        "cash": 100e6,
        "eps_ttm": 0.2,  # 20m / 100m ADS
        "eps_fwd": 0.5,
        "ebitda": np.nan,
        "currency": "USD",
    }
    store = write_store(
        tmp_path / "snap", series, synthetic_store.table("fundamentals").to_dict("records"), [snap]
    )
    r = row(run_screen(store, synthetic_universe, AS_OF), "CNA")
    assert r["valuation_source"] == "nasdaq"
    # rolled from the 2024-06-20 snapshot to the 2024-06-28 close: price 10 -> 11 (+10%)
    assert r["market_cap"] == pytest.approx(1100e6)
    assert r["ev_sales"] == pytest.approx((1100 + 300 - 100) / 200)
    assert r["pe_trailing"] == pytest.approx(1100e6 / 20e6)  # = 11.0 / 0.2
    assert r["pe_forward"] == pytest.approx(11.0 / 0.5)
    old = row(run_screen(store, synthetic_universe, "2024-07-15"), "CNA")  # 25 days: too old
    assert old["valuation_source"] == "annual"


def test_filters_and_errors(synthetic_store, synthetic_universe):
    res = run_screen(
        synthetic_store,
        synthetic_universe,
        AS_OF,
        filters=ScreenFilters(segments=("cloud",), top=2),
    )
    ranked = res.rows[res.rows["rank"].notna()]
    assert ranked["ticker"].tolist() == ["CNB", "9001.HK"]  # the CNA tie broken by ticker
    assert set(res.rows["segment"]) == {"cloud"}
    big = run_screen(
        synthetic_store,
        synthetic_universe,
        AS_OF,
        filters=ScreenFilters(min_market_cap=500e6, min_metrics=2),
    )
    assert big.rows[big.rows["rank"].notna()]["ticker"].tolist() == ["9001.HK", "CNA"]
    with pytest.raises(NoDataError, match="before any valuation data"):
        run_screen(synthetic_store, synthetic_universe, "2023-01-01")
    with pytest.raises(InputError, match="unknown segment"):
        run_screen(
            synthetic_store, synthetic_universe, AS_OF, filters=ScreenFilters(segments=("crypto",))
        )


def test_segment_gap_view(synthetic_store, synthetic_universe):
    seg = run_screen(synthetic_store, synthetic_universe, AS_OF).segments.set_index(
        ["segment", "metric"]
    )
    cloud = seg.loc[("cloud", "ps")]
    assert cloud["china_median"] == pytest.approx(10.0)  # median(10, 10, 1)
    assert cloud["us_median"] == pytest.approx(2.0)
    assert cloud["log_gap"] == pytest.approx(math.log(5.0))


def test_embedded_screens_differ_between_dates(embedded, universe):
    a = run_screen(embedded, universe, "2026-07-01").rows.set_index("ticker")
    b = run_screen(embedded, universe, "2025-12-31").rows.set_index("ticker")
    assert set(a.index) == set(universe.china) == set(b.index)
    assert a["rank"].notna().sum() >= 8 and b["rank"].notna().sum() >= 8
    # the snapshots differ between the dates: Nasdaq in July 2026, yfinance info in Dec 2025
    assert a.loc["BABA", "valuation_source"] == "nasdaq"
    assert b.loc["BABA", "valuation_source"] == "yfinance_info"
    assert a.loc["BABA", "ps"] != pytest.approx(b.loc["BABA", "ps"])
    # names without any computable multiple are listed, flagged, never invented
    nov = a[a["rank"].isna()]
    assert nov["flags"].str.contains("no valuation data").all()
    assert nov["composite"].isna().all()


def test_stale_flag_uses_each_names_own_fundamentals(embedded, universe):
    """The oldest fiscal year in use, per name (a regression: rows were once misaligned, and
    PDD showed FY2023 and stale on this date)."""
    from data.pointintime import valuation_panel

    p = valuation_panel(embedded, universe, ["2025-06-30"]).xs(pd.Timestamp("2025-06-30"))
    f = embedded.table("fundamentals")
    for t in ["PDD", "MSFT", "0700.HK", "NVDA"]:
        rows = f[(f["ticker"] == t) & (f["public_date"] <= "2025-06-30")]
        latest = rows.dropna(subset=["revenue"]).sort_values("public_date").iloc[-1]
        ni = rows.dropna(subset=["net_income"]).sort_values("public_date").iloc[-1]
        used = [
            d
            for d in (latest["period_end"], ni["period_end"])
            if pd.Timestamp("2025-06-30") - d <= pd.Timedelta(days=500)
        ]  # usable age
        assert p.at[t, "fundamentals_period_end"] == min(used), t


def test_stale_days_and_exclusions_are_visible(embedded, universe):
    base = run_screen(embedded, universe, "2025-12-31").rows.set_index("ticker")
    strict = run_screen(
        embedded, universe, "2025-12-31", filters=ScreenFilters(stale_days=200)
    ).rows.set_index("ticker")
    newly = strict["stale"] & ~base["stale"]
    assert newly.any()  # a shorter horizon marks more names stale...
    assert strict.loc[newly, "flags"].str.contains("stale fundamentals").all()  # ...visibly
    ex = run_screen(
        embedded, universe, "2025-12-31", filters=ScreenFilters(stale_days=200, exclude_stale=True)
    ).rows
    gone = ex[ex["flags"].str.contains("excluded: stale fundamentals")]
    assert len(gone) and gone["rank"].isna().all()


def test_stale_price_gives_no_multiple_and_statement_fx_carry_is_flagged(embedded, universe):
    rows = run_screen(embedded, universe, "2026-04-15").rows.set_index("ticker")
    # Meituan's last stored close is 2026-03-26: no multiple from a 20-day-old price
    assert np.isnan(rows.loc["3690.HK", "ps"]) and np.isnan(rows.loc["3690.HK", "rank"])
    assert "stale price (last 2026-03-26)" in rows.loc["3690.HK", "flags"]
    # HK closes run to 2026-08-27 for Tencent, USD/HKD (ECB cross rates) only to 2026-04-13
    late = run_screen(embedded, universe, "2026-08-20").rows.set_index("ticker")
    assert "FX carried forward from 2026-04-13" in late.loc["0700.HK", "flags"]
    # after 2026-04-13 USD/CNY is the PBOC fixing: said wherever CNY statements are converted
    assert "USD/CNY: PBOC fixing, not spot" in late.loc["688256.SS", "flags"]


@pytest.mark.parametrize("min_peers", [1, 3])
def test_peer_medians_name_by_name_on_the_embedded_data(embedded, universe, min_peers):
    """Each name's peer median and peer count against a plain per-name median over its peer
    group (an infinite multiple counts as a value), on several dates at once."""
    from screens.multiples import METRICS
    from screens.scoring import ScoreConfig, discount_scores, score_panel

    mult, _ = score_panel(embedded, universe, ["2021-06-30", "2025-12-31", "2026-07-01"])
    mult = mult.copy()
    us = universe.us[0]
    mult.loc[(pd.Timestamp("2025-12-31"), us), "ps"] = np.inf  # a P/S that overflowed
    scores = discount_scores(mult, universe, ScoreConfig(min_peers=min_peers))
    checked = 0
    for m in METRICS:
        wide = mult[m].unstack("ticker")
        for (date, t), r in scores[[f"{m}_peer", f"{m}_peers_n"]].iterrows():
            values = wide.loc[date].reindex(list(universe.peers_of(t))).dropna()
            assert r[f"{m}_peers_n"] == len(values), (date, t, m)
            want = float(np.median(values)) if len(values) >= max(min_peers, 1) else np.nan
            assert r[f"{m}_peer"] == want or (np.isnan(want) and np.isnan(r[f"{m}_peer"]))
            checked += bool(np.isfinite(want))
    assert checked > 100
    empty = discount_scores(mult.iloc[:0], universe)
    assert empty.empty and {"composite", "rank", "ps_peer"} <= set(empty.columns)
