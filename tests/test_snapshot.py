"""The embedded snapshot: coverage, provenance, point-in-time dates, independent cross-checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.store import EMBEDDED

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_every_universe_ticker_and_fx_has_prices(embedded, universe):
    st = embedded.status({t: x.currency for t, x in universe.listings.items()}, universe.tickers)
    have = st.set_index("ticker")
    for t in [*universe.tickers, "CNY=X", "HKD=X"]:
        assert have.loc[t, "rows"] > 0, t
    # US peers and ADRs run to mid-July 2026, as the data README says
    for t in ["BABA", "MSFT", "NVDA", "KWEB"]:
        assert have.loc[t, "last_date"] >= "2026-07-13"
    assert have.loc["2513.HK", "first_date"] == "2026-01-08"  # Zhipu's listing


def test_snapshot_is_compact_and_has_manifest():
    size = sum(f.stat().st_size for f in EMBEDDED.iterdir())
    assert size < 50 * 2**20
    m = json.loads((EMBEDDED / "manifest.json").read_text())
    assert "research use" in m["description"]
    checked = 0
    for s in m["series"]:
        assert s["rows"] > 0 and s["segments"], s["ticker"]
        for a in s["agreement"]:  # every other source, on the dates it did not supply
            if a["overlap_rows_not_supplied"] > 20:
                # within rounding: A-share sources quote 2 decimals (~1e-4 of a CNY 50 price);
                # the ECB reference rate (14:15 CET) and the PBOC fixing (09:15 Beijing) are
                # taken at other times of day than a spot close
                fixed_time = a["source"] in ("ecb_alexprengere", "idealauror_pboc_fixing")
                assert a["median_abs_return_diff"] < (2e-3 if fixed_time else 5e-4), (s, a)
                assert a["p99_abs_return_diff"] < (0.02 if fixed_time else 0.01), (s, a)
                checked += 1
    assert checked > 50


def test_public_dates_follow_the_lag_rule(embedded, universe):
    f = embedded.table("fundamentals")
    rep = f[f["reported_date"].notna()]
    # a release may come after the close: usable from the next day
    assert (rep["public_date"] == rep["reported_date"] + pd.Timedelta(days=1)).all()
    assert (rep["public_date_basis"] == "reported+1d").all()
    lag = f[f["reported_date"].isna()].copy()
    first_px = embedded.table("prices").groupby("ticker")["date"].min()
    for r in lag.itertuples():
        if r.ticker.endswith(".HK"):
            days = 90  # HK annual results within three months
        elif r.ticker.endswith((".SS", ".SZ")) or r.ticker in universe.china:
            days = 120  # A-share annual reports by April 30; 20-F filers
        else:
            days = 90  # 10-K filers
        expected = max(r.period_end + pd.Timedelta(days=days), first_px.get(r.ticker, r.period_end))
        assert r.public_date == expected, (r.ticker, r.fiscal_year)
        assert r.public_date_basis == f"lag_{days}d"


def test_prices_are_positive_and_sorted(embedded):
    px = embedded.table("prices")
    assert (px["close"] > 0).all()
    assert not px.duplicated(["date", "ticker"]).any()


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data not beside the clone")
@pytest.mark.parametrize("ticker", ["BABA", "JD", "MSFT", "NVDA", "GDS"])
def test_returns_agree_with_an_independent_source(embedded, ticker):
    """Nasdaq's chart series (a different download) against the stitched snapshot."""
    d = json.loads(
        (SHARED / "fundamentals/nasdaq_snapshots/details_HEAD" / f"{ticker}.json").read_text()
    )
    nas = pd.Series({pd.Timestamp(r[5]): r[3] for r in d["chartSeries"]}).sort_index()
    ours = embedded.close([ticker])[ticker]
    common = nas.index.intersection(ours.index)
    assert len(common) > 1000
    r1 = nas[common].pct_change().dropna()
    r2 = ours[common].pct_change().dropna()
    diff = (r1 - r2).abs()
    assert diff.median() < 1e-3
    assert np.corrcoef(r1, r2)[0, 1] > 0.99


def test_cross_listing_moves_together_in_usd(embedded):
    """BABA (USD, 1 ADS = 8 shares) against 9988.HK converted at the HKD rate: the same company
    from different sources, so levels agree within the dividend adjustment and months co-move."""
    px = embedded.close(["BABA", "9988.HK", "HKD=X"]).loc["2020-01-01":"2025-10-30"]
    hk_usd_per_ads = 8 * px["9988.HK"] / px["HKD=X"].ffill()
    ratio = (px["BABA"] / hk_usd_per_ads).dropna()
    assert ratio.median() == pytest.approx(1.0, abs=0.05)
    m = pd.concat([px["BABA"], hk_usd_per_ads], axis=1).resample("ME").last().pct_change()
    assert m.dropna().corr().iloc[0, 1] > 0.9  # HK closes ~12h before New York
