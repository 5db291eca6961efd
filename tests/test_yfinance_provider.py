"""The live provider, offline: FAKE yfinance objects shaped like yfinance 1.7's return values
(``(Price, Ticker)`` MultiIndex columns, tz-aware index, ``financialCurrency`` != ``currency``)."""

from __future__ import annotations

import logging
import shutil
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from data.commit import LOCK_FILE
from data.errors import OfflineError, ProviderError
from data.store import EMBEDDED, Store
from data.update import update_store
from data.yfinance_provider import YFinanceProvider, info_to_valuation, parse_download

YF_FIELDS = ["Adj Close", "Close", "Dividends", "High", "Low", "Open", "Stock Splits", "Volume"]
#: the columns of ``yfinance.utils.empty_df()``: what a failed ticker contributes
YF_EMPTY_FIELDS = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]
RATE_LIMIT = "YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')"


def yf_frame(tickers, dates, tz=None, missing=(), dividend=None, split=None, close=None):
    """A SYNTHETIC frame with the layout of yfinance 1.7's ``download(auto_adjust=False,
    actions=True, group_by='column')`` (multi.py: concat with keys, swaplevel, sort): the
    (Price, Ticker) levels sorted; index named ``Date``, tz-naive (``ignore_tz`` is True for
    daily bars).  ``missing`` tickers failed: like ``utils.empty_df()`` they have only the six
    price fields, all NaN, and no Dividends or Stock Splits columns.  ``dividend=(date, amount)``
    makes Adj Close = Close x (1 - amount / previous close) before the ex-date (Yahoo's
    adjustment); ``split=(date, ratio)`` records a split; ``close`` gives the unadjusted Close
    of every ticker (default: random levels)."""
    idx = pd.DatetimeIndex(dates, name="Date")
    if tz:
        idx = idx.tz_localize(tz)
    rng = np.random.default_rng(0)
    parts = {}
    for t in tickers:
        if t in missing:
            parts[t] = pd.DataFrame(np.nan, index=idx, columns=YF_EMPTY_FIELDS)
            continue
        f = pd.DataFrame(rng.uniform(50, 60, size=(len(idx), 8)), index=idx, columns=YF_FIELDS)
        if close is not None:
            f["Close"] = close.to_numpy(dtype=float)
        f["Dividends"] = 0.0
        f["Stock Splits"] = 0.0
        f["Adj Close"] = f["Close"]
        if dividend is not None:
            ex = pd.Timestamp(dividend[0])
            prev = f["Close"].iloc[idx.get_loc(ex) - 1]
            f.loc[idx < ex, "Adj Close"] *= 1 - dividend[1] / prev
            f.loc[ex, "Dividends"] = dividend[1]
        if split is not None:
            f.loc[pd.Timestamp(split[0]), "Stock Splits"] = split[1]
        parts[t] = f
    df = pd.concat(parts, axis=1, names=["Ticker", "Price"]).swaplevel(0, 1, axis=1)
    return df.sort_index(level=0, axis=1)


def yf_all_failed(tickers):
    """What ``yf.download`` returns when every ticker failed: no rows, an unnamed
    ``datetime64[s]`` index, the six empty_df fields per ticker."""
    cols = pd.MultiIndex.from_product(
        [sorted(YF_EMPTY_FIELDS), sorted(tickers)], names=["Price", "Ticker"]
    )
    return pd.DataFrame(
        index=pd.DatetimeIndex([], dtype="datetime64[s]"), columns=cols, dtype=float
    )


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


class OfflineTicker:
    """``Ticker`` calls without a network raise (yfinance's info falls back to a request)."""

    def __init__(self, ticker):
        self.ticker = ticker

    @property
    def info(self):
        raise ConnectionError("Could not resolve host: query2.finance.yahoo.com")


class FakeYF:
    """``yf.download`` as yfinance 1.7 behaves: it never raises.  A ticker that fails (rate
    limit, network, delisted) is logged on the ``yfinance`` logger and left with empty columns
    (:func:`yf_frame` ``missing``); when all fail the frame has no rows.

    ``failing``: ticker -> how many calls fail for it (``ALWAYS`` = every call);
    ``short``: ticker -> how many calls return its rows cut 30 days short (a partial answer)."""

    ALWAYS = 10**9

    def __init__(self, frame=None, failing=None, short=None):
        self.frame, self.calls = frame, 0
        self.failing = dict(failing or {})
        self.short = dict(short or {})
        self.asked: list[list[str]] = []
        self.Ticker = FakeTicker

    def download(self, tickers, **kw):
        assert kw["auto_adjust"] is False and kw["actions"] is True
        assert kw["multi_level_index"] is True and kw["group_by"] == "column"
        self.calls += 1
        tickers = list(tickers)
        self.asked.append(tickers)
        failed = [t for t in tickers if self.failing.get(t, 0) > 0]
        for t in failed:
            self.failing[t] -= 1
        known = [
            t
            for t in tickers
            if t not in failed
            and self.frame is not None
            and t in self.frame.columns.get_level_values("Ticker")
        ]
        failed += [t for t in tickers if t not in failed and t not in known]
        if failed:  # multi.py logs one line per error type, naming the tickers
            log = logging.getLogger("yfinance")
            log.error("\n%.f Failed download%s:", len(failed), "s" if len(failed) > 1 else "")
            log.error("%s: %s", sorted(failed), RATE_LIMIT)
        if not known:
            return yf_all_failed(tickers)
        parts = {t: self.frame.xs(t, axis=1, level="Ticker") for t in known}
        for t in known:
            if self.short.get(t, 0) > 0:
                self.short[t] -= 1
                cut = parts[t].index.max() - pd.Timedelta(days=30)
                parts[t] = parts[t].loc[:cut]
        idx = parts[known[0]].index
        for t in known[1:]:
            idx = idx.union(parts[t].index)
        for t in failed:
            parts[t] = pd.DataFrame(np.nan, index=idx, columns=YF_EMPTY_FIELDS)
        df = pd.concat(
            {t: f.reindex(idx) for t, f in parts.items()}, axis=1, names=["Ticker", "Price"]
        )
        return df.swaplevel(0, 1, axis=1).sort_index(level=0, axis=1)


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
    cols = ["open", "high", "low", "close", "volume", "close_unadjusted", "split", "dividend"]
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


def test_fake_download_has_the_shapes_of_yfinance_17():
    frame = yf_frame(
        ["BABA", "0700.HK"], pd.bdate_range("2024-01-02", periods=2), missing=["0700.HK"]
    )
    assert frame.columns.names == ["Price", "Ticker"] and frame.index.name == "Date"
    assert ("Dividends", "0700.HK") not in frame.columns and frame.shape[1] == 14
    assert ("Stock Splits", "BABA") in frame.columns and frame.index.tz is None
    empty = yf_all_failed(["BABA"])
    assert empty.shape == (0, 6) and empty.index.name is None


def test_a_ticker_failing_once_is_retried_with_backoff_and_jitter():
    sleeps = []
    frame = yf_frame(["BABA", "MSFT"], pd.bdate_range("2026-07-01", periods=3))
    fake = FakeYF(frame, failing={"BABA": 2})  # rate-limited twice, then served
    p = YFinanceProvider(yf_module=fake, sleep=sleeps.append, backoff=1.0, seed=7)
    b = p.download_prices(["BABA", "MSFT"], "2026-01-01")
    assert set(b.frames) == {"BABA", "MSFT"} and not b.failures
    assert fake.asked == [["BABA", "MSFT"], ["BABA"], ["BABA"]]  # only the failed one again
    # exponential backoff with jitter in [0.5, 1.5): 1 x u, then 2 x u
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] < 1.5 and 1.0 <= sleeps[1] < 3.0


def test_a_ticker_that_keeps_failing_is_reported_with_yfinances_reason():
    frame = yf_frame(["BABA", "MSFT"], pd.bdate_range("2026-07-01", periods=3))
    fake = FakeYF(frame, failing={"BABA": FakeYF.ALWAYS})
    p = YFinanceProvider(yf_module=fake, sleep=lambda s: None, retries=3)
    b = p.download_prices(["BABA", "MSFT"], "2026-01-01")
    assert set(b.frames) == {"MSFT"} and fake.calls == 4
    assert "YFRateLimitError" in b.failures["BABA"] and "after 4 attempts" in b.failures["BABA"]


def test_a_partial_answer_is_retried_then_kept_and_reported():
    frame = yf_frame(["BABA", "MSFT"], pd.bdate_range("2026-05-01", "2026-07-31"))
    fake = FakeYF(frame, short={"BABA": 1})
    b = YFinanceProvider(yf_module=fake, sleep=lambda s: None).download_prices(
        ["BABA", "MSFT"], "2026-01-01"
    )
    assert fake.asked == [["BABA", "MSFT"], ["BABA"]] and not b.partial
    assert b.frames["BABA"].index.max() == pd.Timestamp("2026-07-31")
    fake = FakeYF(frame, short={"BABA": FakeYF.ALWAYS})
    b = YFinanceProvider(yf_module=fake, sleep=lambda s: None, retries=1).download_prices(
        ["BABA", "MSFT"], "2026-01-01"
    )
    assert "BABA" in b.frames and "days before the batch" in b.partial["BABA"]


def test_chunks_fail_and_succeed_independently():
    frame = yf_frame(["A", "B", "C"], pd.bdate_range("2026-07-01", periods=3))
    fake = FakeYF(frame, failing={"A": FakeYF.ALWAYS, "B": FakeYF.ALWAYS})
    b = YFinanceProvider(yf_module=fake, chunk=2, sleep=lambda s: None, retries=1).download_prices(
        ["A", "B", "C"], "2026-01-01"
    )
    assert set(b.failures) == {"A", "B"} and set(b.frames) == {"C"}


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
    fake = FakeYF(None)  # offline: every ticker fails, download returns no rows
    fake.Ticker = OfflineTicker
    p = YFinanceProvider(yf_module=fake, retries=1, sleep=lambda s: None)
    with pytest.raises(OfflineError, match="left untouched"):
        update_store(user_store, universe, ["BABA", "MSFT"], provider=p)
    after = {f.name: f.read_bytes() for f in user_store.iterdir() if f.name != LOCK_FILE}
    assert after == before


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
    # statements fill the fiscal years the compiled table lacks, and the figures its rows lack,
    # in rows of their own; the compiled rows are unchanged
    f = new.table("fundamentals")
    added = f[(f["ticker"] == "BABA") & f["source"].str.startswith("yfinance income_stmt")]
    assert rep.statements == len(added) <= 1
    compiled = old.table("fundamentals")
    pd.testing.assert_frame_equal(
        f[~f["source"].str.startswith("yfinance")].reset_index(drop=True),
        compiled.sort_values(["ticker", "fiscal_year"], kind="mergesort").reset_index(drop=True),
        check_like=True,
    )
    vm = new.table("valuation_measures")
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


def test_cli_update_exits_4_naming_what_failed_and_keeps_the_rest(
    user_store, universe, monkeypatch, capsys
):
    from aigap.cli import main

    frame = yf_frame(["BABA", "MSFT"], pd.bdate_range("2026-07-01", "2026-07-31"))
    fake = FakeYF(frame, failing={"MSFT": FakeYF.ALWAYS})
    monkeypatch.setattr(
        "data.yfinance_provider.YFinanceProvider",
        lambda: YFinanceProvider(yf_module=fake, sleep=lambda s: None, retries=2),
    )
    code = main(["data", "update", "BABA", "MSFT", "--data-dir", str(user_store)])
    err = capsys.readouterr().err
    assert code == 4 and "1 failed: MSFT" in err and "YFRateLimitError" in err
    assert Store(user_store).close(["BABA"])["BABA"].index.max() == pd.Timestamp("2026-07-31")
    monkeypatch.setattr(  # offline: nothing received, the store is left as it was
        "data.yfinance_provider.YFinanceProvider",
        lambda: YFinanceProvider(yf_module=_offline(), sleep=lambda s: None, retries=1),
    )
    before = Store(user_store).manifest()
    code = main(["data", "update", "BABA", "--data-dir", str(user_store)])
    err = capsys.readouterr().err
    assert code == 4 and err.startswith("aigap: error: no data received") and err.count("\n") == 1
    assert Store(user_store).manifest() == before


def _offline():
    fake = FakeYF(None)
    fake.Ticker = OfflineTicker
    return fake


def test_partial_then_failing_is_kept_as_partial_not_failed():
    frame = yf_frame(["BABA", "MSFT"], pd.bdate_range("2026-05-01", "2026-07-31"))

    class Flaky(FakeYF):
        def download(self, tickers, **kw):
            if self.calls >= 1:  # the retry is rate-limited
                self.failing = {"BABA": FakeYF.ALWAYS}
            return super().download(tickers, **kw)

    fake = Flaky(frame, short={"BABA": 1})
    b = YFinanceProvider(yf_module=fake, sleep=lambda s: None, retries=2).download_prices(
        ["BABA", "MSFT"], "2026-01-01"
    )
    assert "BABA" in b.frames and "BABA" in b.partial and "BABA" not in b.failures


def test_a_download_that_raises_is_tried_retries_plus_one_times():
    """One retry loop: a chunk whose download raises is tried 1 + retries times in all (an
    inner retry around each chunk made it 16 calls and 15 sleeps for retries=3)."""
    from data.yfinance_provider import YFinanceProvider

    class Raising:
        calls = 0

        def download(self, *args, **kwargs):
            Raising.calls += 1
            raise ConnectionError("SYNTHETIC: network down")

    sleeps: list[float] = []
    p = YFinanceProvider(yf_module=Raising(), retries=3, sleep=sleeps.append, seed=1)
    batch = p.download_prices(["BABA"], "2024-01-01")
    assert Raising.calls == 4 and len(sleeps) == 3
    assert batch.failures["BABA"].endswith("(after 4 attempts)")
