"""The live provider, offline: FAKE yfinance objects shaped like yfinance 1.7's return values
(``(Price, Ticker)`` MultiIndex columns, tz-aware index, ``financialCurrency`` != ``currency``)."""

from __future__ import annotations

import shutil
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from data.errors import OfflineError, ProviderError
from data.store import EMBEDDED, Store
from data.update import update_store
from data.yfinance_provider import YFinanceProvider, info_to_valuation, parse_download


def yf_frame(tickers, dates, tz=None, missing=(), dividend=None, split=None, close=None):
    """A SYNTHETIC frame with the layout of yfinance 1.7's ``download(auto_adjust=False,
    actions=True, group_by='column')``: the Price level sorted ('Adj Close', 'Close',
    'Dividends', 'High', 'Low', 'Open', 'Stock Splits', 'Volume'), as multi.py concatenates and
    sorts it.  ``dividend=(date, amount)`` makes Adj Close = Close x (1 - amount / previous close)
    before the ex-date (Yahoo's adjustment); ``split=(date, ratio)`` records a split; ``close``
    gives the unadjusted Close of every ticker (default: random levels)."""
    idx = pd.DatetimeIndex(dates, name="Date")
    if tz:
        idx = idx.tz_localize(tz)
    fields = ["Adj Close", "Close", "Dividends", "High", "Low", "Open", "Stock Splits", "Volume"]
    cols = pd.MultiIndex.from_product([fields, tickers], names=["Price", "Ticker"])
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.uniform(50, 60, size=(len(idx), len(cols))), index=idx, columns=cols)
    for t in tickers:
        if close is not None:
            df[("Close", t)] = close.to_numpy(dtype=float)
        df[("Dividends", t)] = 0.0
        df[("Stock Splits", t)] = 0.0
        df[("Adj Close", t)] = df[("Close", t)]
        if dividend is not None:
            ex = pd.Timestamp(dividend[0])
            pos = idx.get_loc(ex)
            prev = df[("Close", t)].iloc[pos - 1]
            df.loc[idx < ex, ("Adj Close", t)] *= 1 - dividend[1] / prev
            df.loc[ex, ("Dividends", t)] = dividend[1]
        if split is not None:
            df.loc[pd.Timestamp(split[0]), ("Stock Splits", t)] = split[1]
    for t in missing:  # a failed ticker: yfinance leaves its columns NaN
        df.loc[:, (slice(None), t)] = np.nan
    return df


class YFRateLimitError(Exception):
    """Same name as yfinance.exceptions.YFRateLimitError."""


class FakeTicker:
    INFO: ClassVar[dict] = {
        "BABA": {
            "currency": "USD",
            "financialCurrency": "CNY",
            "currentPrice": 100.0,
            "marketCap": 240e9,
            "totalRevenue": 1_000e9,
            "netIncomeToCommon": 140e9,
            "totalDebt": 250e9,
            "totalCash": 500e9,
            "trailingEps": 60.0,  # CNY per ADS: the trap
            "forwardEps": 70.0,
            "trailingPE": 11.6667,
            "forwardPE": 10.0,
            "ebitda": 200e9,
            "sharesOutstanding": 2_300e6,  # ADS
        },
        "0700.HK": {
            "currency": "HKD",
            "financialCurrency": "CNY",
            "currentPrice": 600.0,
            "marketCap": 5_500e9,
            "totalRevenue": 700e9,
            "netIncomeToCommon": 220e9,
        },
    }

    def __init__(self, ticker):
        self.ticker = ticker

    @property
    def info(self):
        return self.INFO.get(self.ticker, {})

    def get_valuation_measures(self, freq="quarterly", periods=None):
        return pd.DataFrame(
            {"Current": [10.0, 20.0], "3/31/2026": [9.0, 18.0], "12/31/2025": [8.0, None]},
            index=["Price/Sales", "Trailing P/E"],
        )

    @property
    def income_stmt(self):
        return pd.DataFrame(
            {pd.Timestamp("2025-12-31"): [1e9, 1e8, 2.5, 4e7]},
            index=[
                "Total Revenue",
                "Net Income Common Stockholders",
                "Diluted EPS",
                "Diluted Average Shares",
            ],
        )


class FakeYF:
    def __init__(self, frame=None, errors=()):
        self.frame, self.errors, self.calls = frame, list(errors), 0
        self.Ticker = FakeTicker

    def download(self, tickers, **kw):
        self.calls += 1
        assert kw["auto_adjust"] is False and kw["actions"] is True
        assert kw["multi_level_index"] is True
        if self.errors:
            raise self.errors.pop(0)
        return self.frame.loc[:, (slice(None), list(tickers))]


def test_parse_download_multiindex_tz_and_missing():
    df = yf_frame(
        ["BABA", "MSFT", "GONE"],
        pd.bdate_range("2026-07-01", periods=5),
        tz="America/New_York",
        missing=["GONE"],
    )
    b = parse_download(df, ["BABA", "MSFT", "GONE", "NOTASKED"])
    assert set(b.frames) == {"BABA", "MSFT"}
    assert b.failures == {"GONE": "no rows returned", "NOTASKED": "not in the download"}
    f = b.frames["BABA"]
    cols = ["open", "high", "low", "close", "volume", "close_unadjusted", "split"]
    assert list(f.columns) == cols
    assert f.index.tz is None and f.index[0] == pd.Timestamp("2026-07-01")
    assert f["close"].iloc[0] == df[("Adj Close", "BABA")].iloc[0]
    assert f["close_unadjusted"].iloc[0] == df[("Close", "BABA")].iloc[0]


def test_parse_download_adjusts_ohlc_like_auto_adjust():
    dates = pd.bdate_range("2026-07-01", periods=5)
    df = yf_frame(["JD"], dates, dividend=("2026-07-03", 1.0))
    f = parse_download(df, ["JD"]).frames["JD"]
    ratio = df[("Adj Close", "JD")] / df[("Close", "JD")]
    assert ratio.iloc[0] < 1 and ratio.iloc[-1] == 1
    # yfinance's auto_adjust: every price times Adj Close / Close
    np.testing.assert_allclose(f["open"], df[("Open", "JD")] * ratio)
    np.testing.assert_allclose(f["close"], df[("Adj Close", "JD")])


def test_retry_with_backoff_on_rate_limit():
    sleeps = []
    fake = FakeYF(
        yf_frame(["BABA"], pd.bdate_range("2026-07-01", periods=3)),
        errors=[YFRateLimitError("Too Many Requests"), ConnectionError("reset")],
    )
    p = YFinanceProvider(yf_module=fake, sleep=sleeps.append, backoff=1.0)
    b = p.download_prices(["BABA"], "2026-01-01")
    assert "BABA" in b.frames and fake.calls == 3 and sleeps == [1.0, 2.0]


def test_failures_are_reported_per_chunk_not_raised():
    fake = FakeYF(
        yf_frame(["A", "B", "C"], pd.bdate_range("2026-07-01", periods=3)),
        errors=[ValueError("bad symbol")],
    )
    b = YFinanceProvider(yf_module=fake, chunk=2, sleep=lambda s: None).download_prices(
        ["A", "B", "C"], "2026-01-01"
    )
    assert set(b.failures) == {"A", "B"} and "ValueError" in b.failures["A"]
    assert set(b.frames) == {"C"}


def test_info_converts_statement_items_with_financial_currency():
    info = FakeTicker.INFO["BABA"]
    row = info_to_valuation("BABA", info, {"CNY": 7.0, "HKD": 7.8}, pd.Timestamp("2026-07-01"))
    assert row["market_cap"] == 240e9  # quote currency USD: unchanged
    assert row["sales"] == pytest.approx(1_000e9 / 7.0)  # statements in CNY
    assert row["eps_fwd"] == pytest.approx(100.0 / 10.0)  # from Yahoo's own forward P/E
    assert row["eps_ttm"] == pytest.approx(100.0 / 11.6667)
    no_pe = {k: v for k, v in info.items() if not k.endswith("PE")}
    row2 = info_to_valuation("BABA", no_pe, {"CNY": 7.0}, pd.Timestamp("2026-07-01"))
    assert row2["eps_fwd"] == pytest.approx(70.0)  # fallback: the quote currency (USD)
    hk = info_to_valuation(
        "0700.HK", FakeTicker.INFO["0700.HK"], {"CNY": 7.0, "HKD": 7.8}, pd.Timestamp("2026-07-01")
    )
    assert hk["market_cap"] == pytest.approx(5_500e9 / 7.8)
    with pytest.raises(ProviderError, match="no USD/CNY rate"):
        info_to_valuation("BABA", info, {}, pd.Timestamp("2026-07-01"))


def test_valuation_measures_and_statements():
    p = YFinanceProvider(yf_module=FakeYF())
    vm = p.valuation_measures("BABA")
    assert set(vm["metric"]) == {"Price/Sales", "Trailing P/E"}
    assert len(vm) == 3 and (vm["period"] <= pd.Timestamp("2026-03-31")).all()
    st = p.annual_statements("BABA", "CNY", 120)
    assert st.loc[0, "revenue"] == 1000.0 and st.loc[0, "diluted_shares"] == 40.0
    assert st.loc[0, "public_date"] == pd.Timestamp("2026-04-30")


@pytest.fixture
def user_store(tmp_path):
    root = tmp_path / "store"
    shutil.copytree(EMBEDDED, root)
    return root


def test_offline_update_leaves_store_untouched(user_store, universe):
    before = {f.name: f.read_bytes() for f in user_store.iterdir()}
    fake = FakeYF(
        yf_frame(["X"], pd.bdate_range("2026-07-01", periods=2)),
        errors=[OSError("Could not resolve host")] * 50,
    )
    p = YFinanceProvider(yf_module=fake, retries=1, sleep=lambda s: None)
    with pytest.raises(OfflineError, match="left untouched"):
        update_store(user_store, universe, ["BABA", "MSFT"], provider=p)
    assert {f.name: f.read_bytes() for f in user_store.iterdir()} == before


def test_partial_update_merges_by_returns_and_keeps_failed_series(user_store, universe):
    old = Store(user_store)
    old_baba = old.close(["BABA"])["BABA"]
    old_msft = old.close(["MSFT"])["MSFT"]
    dates = pd.bdate_range("2026-07-01", "2026-07-31")
    frame = yf_frame(["BABA", "MSFT"], dates, missing=["MSFT"])
    p = YFinanceProvider(yf_module=FakeYF(frame), sleep=lambda s: None)
    rep = update_store(user_store, universe, ["BABA", "MSFT"], provider=p)
    assert rep.succeeded == ["BABA"] and "MSFT" in rep.failed
    new = Store(user_store)
    baba = new.close(["BABA"])["BABA"]
    # the fresh download is the backbone: its last close is kept as the level
    assert baba.iloc[-1] == pytest.approx(frame[("Close", "BABA")].iloc[-1])
    # history before the download keeps its returns (re-anchored, not spliced by level)
    hist = baba.loc[:"2026-06-30"]
    np.testing.assert_allclose(
        hist.pct_change().dropna(), old_baba.loc[:"2026-06-30"].pct_change().dropna(), rtol=1e-9
    )
    pd.testing.assert_series_equal(new.close(["MSFT"])["MSFT"], old_msft)
    v = new.table("valuations")
    assert ((v["source"] == "yfinance_live") & (v["ticker"] == "BABA")).sum() == 1
    # the vendor's share count is kept as a dated count (the live path feeds the same steps)
    sh = new.table("shares")
    live = sh[(sh["ticker"] == "BABA") & sh["source"].str.contains("Ticker.info")]
    assert len(live) == 1 and live["shares_millions"].iloc[0] == pytest.approx(2_300.0)
    assert len(sh) > len(Store(EMBEDDED).table("shares"))
    # statements fill only fiscal years the compiled table lacks (BABA FY2025 calendar year)
    f = new.table("fundamentals")
    added = f[(f["ticker"] == "BABA") & (f["source"] == "yfinance income_stmt")]
    assert rep.statements == len(added) <= 1
    vm = pd.read_parquet(user_store / "valuation_measures.parquet")
    assert set(vm["ticker"]) == {"BABA"}


def test_update_keeps_traded_closes_and_records_splits(user_store, universe):
    old = Store(user_store)
    old_traded = old.traded_close(["JD"])["JD"].dropna()
    dates = pd.bdate_range("2026-07-01", "2026-07-31")  # overlaps the stored history
    # Yahoo's Close is split-adjusted as of the download: half the printed close before the
    # 2:1 split of 07-29; on the stored dates it is the stored traded close / 2
    printed = old_traded.reindex(dates).ffill()
    printed.loc["2026-07-15":] = printed.loc["2026-07-14"] * np.linspace(1.0, 1.1, 13)
    printed.loc["2026-07-29":] /= 2.0
    shown = printed.where(dates >= pd.Timestamp("2026-07-29"), printed / 2.0)
    frame = yf_frame(
        ["JD"], dates, dividend=("2026-07-22", 0.3), split=("2026-07-29", 2.0), close=shown
    )
    p = YFinanceProvider(yf_module=FakeYF(frame), sleep=lambda s: None)
    update_store(user_store, universe, ["JD"], provider=p)
    new = Store(user_store)
    traded = new.traded_close(["JD"])["JD"]
    close = frame[("Close", "JD")]
    # on the download's dates: its unadjusted Close, which is split-adjusted as of the download,
    # so the close printed before the 2:1 split is twice the Close shown
    before = dates[dates < pd.Timestamp("2026-07-29")]
    after = dates[dates >= pd.Timestamp("2026-07-29")]
    np.testing.assert_allclose(traded.loc[before], close.loc[before] * 2.0)
    np.testing.assert_allclose(traded.loc[after], close.loc[after])
    # older stored history keeps its traded closes (they do not move with later dividends)
    hist = old_traded.loc[:"2026-06-30"]
    np.testing.assert_allclose(traded.loc[hist.index], hist, rtol=1e-9)
    ca = new.table("corporate_actions")
    assert ((ca["ticker"] == "JD") & (ca["date"] == pd.Timestamp("2026-07-29"))).sum() == 1


def test_update_without_overlap_keeps_the_stored_series(user_store, universe):
    before = Store(user_store).close(["JD"])["JD"]
    frame = yf_frame(["JD"], pd.bdate_range("2026-08-03", periods=5))
    p = YFinanceProvider(yf_module=FakeYF(frame), sleep=lambda s: None)
    with pytest.raises(OfflineError, match="left untouched"):  # nothing usable received
        update_store(user_store, universe, ["JD"], provider=p)
    pd.testing.assert_series_equal(Store(user_store).close(["JD"])["JD"], before)


def test_a_split_recorded_a_day_apart_is_not_applied_twice():
    from data.update import _unrecorded

    recorded = pd.DataFrame(
        {"ticker": ["NVDA"], "date": [pd.Timestamp("2024-06-10")], "factor": [10.0]}
    )
    fresh = pd.DataFrame(
        {
            "ticker": ["NVDA", "NVDA"],
            "date": [pd.Timestamp("2024-06-11"), pd.Timestamp("2026-06-11")],
            "factor": [10.0, 4.0],
            "kind": "stock_split",
            "note": "",
        }
    )
    assert list(_unrecorded(fresh, recorded)["date"]) == [pd.Timestamp("2026-06-11")]


def test_a_vendor_count_far_from_the_stored_one_is_kept_but_not_used():
    from data.update import UpdateReport, _checked_counts

    stored = pd.DataFrame(
        {
            "ticker": ["3690.HK"],
            "as_of": [pd.Timestamp("2025-12-05")],
            "shares_millions": [6_110.0],
            "usable": [True],
        }
    )
    fresh = pd.DataFrame(
        {
            "ticker": ["3690.HK"],
            "as_of": [pd.Timestamp("2026-07-01")],
            "shares_millions": [4_400.0],  # Class B only
            "usable": [True],
            "note": ["vendor count"],
        }
    )
    rep = UpdateReport()
    out = _checked_counts(fresh, stored, rep)
    assert not out["usable"].iloc[0] and "NOT USED" in out["note"].iloc[0]
    assert rep.warnings and "3690.HK" in rep.warnings[0]
