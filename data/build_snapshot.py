"""Build the embedded offline snapshot from the raw files in ``../shared/data``.

Run from the repository root::

    python -m data.build_snapshot --source ../shared/data

It is the only code that reads ``../shared``; the toolkit itself reads the parquet files and the
manifest this script writes to ``data/snapshot/``.  Re-running it on the same input gives the
same bytes.

Prices are stitched by **returns**, not levels: each source contributes daily returns, the source
highest in a ticker's priority list wins on a date it covers, a return is only taken when the
source's previous row is the previous row of the stitched calendar, and levels are rebuilt from
the chained returns, anchored so that the last stitched close equals the last close of the source
that supplied it (the yfinance convention for adjusted closes).  The manifest records, per series,
which source supplied how many returns and how well the sources agree where they overlap.
"""

from __future__ import annotations

import argparse
import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from data.build_shares import share_counts
from data.commit import file_entries
from data.fundamentals import filing_lag_days
from data.stitch import Source, stitch
from data.store import PRICE_COLUMNS, TABLES, atomic_write_parquet, price_currency
from data.traded import UnadjustedSource, traded_close

HERE = Path(__file__).resolve().parent
OUT = HERE / "snapshot"
UNIVERSE = HERE / "universe.toml"

OHLC = ["open", "high", "low", "close"]


# ----------------------------------------------------------------------------- readers
def _frame(dates: pd.Series, cols: dict[str, pd.Series]) -> pd.DataFrame:
    idx = pd.DatetimeIndex(pd.to_datetime(dates.astype(str).str[:10]), name="date")
    df = pd.DataFrame(
        {k: pd.to_numeric(v, errors="coerce").to_numpy() for k, v in cols.items()}, index=idx
    )
    df = df[~df.index.duplicated(keep="last")].sort_index()
    return df.dropna(subset=["close"])


def _pct(df: pd.DataFrame) -> pd.Series:
    return df["close"] / df["close"].shift(1) - 1.0


def read_plain(
    path: Path, *, close: str = "Close", skip_junk: bool = False, sep: str = ",", decimal: str = "."
) -> pd.DataFrame:
    raw = pd.read_csv(path, sep=sep, decimal=decimal, skiprows=[1] if skip_junk else None)
    cols = {"close": raw[close]}
    for k in ("Open", "High", "Low", "Volume"):
        if k in raw.columns and close != "Adj Close":
            cols[k.lower()] = raw[k]
    return _frame(raw["Date"], cols)


def read_luciusneo(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, skiprows=[1, 2]).rename(columns={"Price": "Date"})
    return _frame(
        raw["Date"], {k.lower(): raw[k] for k in ("Open", "High", "Low", "Close", "Volume")}
    )


def read_tushare(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path)
    return _frame(raw["date"], {k: raw[k] for k in ("open", "high", "low", "close", "volume")})


def read_akshare_tszlam(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path)
    cols = {
        "open": raw["开盘"],
        "close": raw["收盘"],
        "high": raw["最高"],
        "low": raw["最低"],
        "volume": raw["成交量"],
    }
    return _frame(raw["日期"], cols)


def read_xbx(path: Path) -> tuple[pd.DataFrame, pd.Series]:
    """Raw A-share prices with the exchange's previous close, which already accounts for
    ex-rights and ex-dividend days: return = close / previous close - 1."""
    raw = pd.read_csv(path, skiprows=[0], encoding="utf-8")
    df = _frame(
        raw["交易日期"],
        {
            "open": raw["开盘价"],
            "high": raw["最高价"],
            "low": raw["最低价"],
            "close": raw["收盘价"],
            "volume": raw["成交量"],
            "prev": raw["前收盘价"],
        },
    )
    ret = df["close"] / df["prev"] - 1.0
    return df.drop(columns="prev"), ret


def read_danyoko(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, skiprows=[1])
    return _frame(
        raw["Date"], {k.lower(): raw[k] for k in ("Open", "High", "Low", "Close", "Volume")}
    )


# Known capital events inside raw (unadjusted) files: (ticker, ex-date, shares per share, cash per
# share).  688256.SS: 0.49 bonus share per share from capital reserve plus CNY 1.50 cash
# (announcement 2026-03-12, ex-date visible in the prices: 1868.00 -> 1182.53 on 2026-05-08).
RAW_EVENTS = {("688256.SS", "2026-05-08"): (1.49, 1.50)}


def read_chenyihui(path: Path, ticker: str) -> tuple[pd.DataFrame, pd.Series]:
    raw = pd.read_csv(path)
    df = _frame(raw["date"], {k: raw[k] for k in ("open", "high", "low", "close", "volume")})
    prev = df["close"].shift(1)
    for (t, d), (ratio, cash) in RAW_EVENTS.items():
        ts = pd.Timestamp(d)
        if t == ticker and ts in prev.index:
            prev.loc[ts] = (prev.loc[ts] - cash) / ratio
    return df, df["close"] / prev - 1.0


def read_fx(path: Path, folder: str) -> pd.DataFrame:
    if folder == "maxime_bgn":
        return read_plain(path, sep=";", decimal=",")
    return read_plain(path)


# ----------------------------------------------------------------------------- plan
def price_plan(src: Path, tickers: list[str]) -> dict[str, list[Callable[[], Source | None]]]:
    p = src / "prices"

    def plain(folder: str, file: str, **kw) -> Callable[[], Source | None]:
        def load() -> Source | None:
            f = p / folder / file
            if not f.exists():
                return None
            df = read_plain(f, **kw)
            if folder == "koiwest_yf" and not file.endswith(".HK.csv"):
                df = df[df.index < pd.Timestamp("2026-03-26")]  # last US row taken intraday
            return Source(folder, df, _pct(df))

        return load

    def custom(folder: str, file: str, reader) -> Callable[[], Source | None]:
        def load() -> Source | None:
            f = p / folder / file
            if not f.exists():
                return None
            res = reader(f)
            df, ret = res if isinstance(res, tuple) else (res, _pct(res))
            df = df.dropna(how="all", subset=[c for c in OHLC if c in df.columns])
            return Source(folder, df, ret.reindex(df.index))

        return load

    plan: dict[str, list[Callable[[], Source | None]]] = {}
    for t in tickers:
        if t.endswith((".SS", ".SZ")):
            code = t.split(".")[0]
            ex = "sh" if t.endswith(".SS") else "sz"
            chen = next(iter((p / "ashare_akshare_chenyihui").glob(f"{code}_*.csv")), None)
            plan[t] = [
                custom("ashare_yf_danyoko", f"{code}.csv", read_danyoko),
                custom("ashare_tushare_zdnniz", f"{code}.csv", read_tushare),
                custom("ashare_tushare_sebastienzh", f"{code}.csv", read_tushare),
                custom("ashare_tushare_wmaa0002", f"{code}.csv", read_tushare),
                custom("ashare_akshare_tszlam", f"{code}.csv", read_akshare_tszlam),
                custom("ashare_xbx_ganlei333", f"{ex}{code}.csv", read_xbx),
            ]
            if code in ("000977", "002230"):  # qfq in this source; the others are raw
                plan[t].append(custom("ashare_kayatjill", f"{code}.csv", read_tushare))
            over = next(iter((p / "ashare_overwatchmercy").glob(f"{code}_2026-01*.csv")), None)
            if over is not None:  # raw closes to 2026-07-17 (603019); returns from closes
                plan[t].append(custom("ashare_overwatchmercy", over.name, read_overwatch))
            if chen is not None:
                plan[t].append(
                    custom(
                        "ashare_akshare_chenyihui", chen.name, lambda f, t=t: read_chenyihui(f, t)
                    )
                )
        elif t.endswith(".HK"):
            plan[t] = [
                custom("luciusneo_hk", f"{t}.csv", read_luciusneo),
                plain("koiwest_yf", f"{t}.csv"),
                plain("azscience_yf", f"{t}.csv", skip_junk=True),
                plain("ccf_hsi", f"{t}.csv"),
                plain("wubw_invest", f"{t}.csv", close="Adj Close"),
            ]
            laimanto = next(iter((p / "laimanto_yf").glob(f"{t}_*.csv")), None)
            if laimanto is not None:  # to 2026-08-27; adjusted as of download: returns only
                plan[t].append(plain("laimanto_yf", laimanto.name))
        else:
            plan[t] = [
                plain("dsturdy_fa5", f"{t}.csv"),
                plain("koiwest_yf", f"{t}.csv"),
                plain("azscience_yf", f"{t}.csv", skip_junk=True),
                plain("dieperdev_yf", f"{t}.csv", close="Adj Close"),
                plain("wubw_invest", f"{t}.csv", close="Adj Close"),
            ]
    fx = src / "fx"
    for sym, files in {
        "CNY=X": [
            ("alitalbi", "CNY=X.csv"),
            ("maxime_bgn", "USDCNY=X.csv"),
            ("alexshch09", "CNY=X.csv"),
            ("ecb_alexprengere", "CNY"),
            ("idealauror_pboc_fixing", "usdcny.csv"),
        ],
        "HKD=X": [
            ("maxime_bgn", "USDHKD=X.csv"),
            ("alexshch09", "HKD=X.csv"),
            ("ecb_alexprengere", "HKD"),
        ],
    }.items():
        plan[sym] = [
            (lambda folder=folder, file=file: _fx_source(fx, folder, file))  # type: ignore[misc]
            for folder, file in files
        ]
    return plan


def read_ecb(path: Path, ccy: str) -> pd.DataFrame:
    """ECB reference rates (units per EUR): local per USD = ``ccy`` / ``USD`` on each day."""
    raw = pd.read_csv(path, na_values=["N/A"])
    rate = pd.to_numeric(raw[ccy], errors="coerce") / pd.to_numeric(raw["USD"], errors="coerce")
    return _frame(raw["Date"], {"close": rate})


def _fx_source(fx: Path, folder: str, file: str) -> Source:
    if folder == "ecb_alexprengere":
        df = read_ecb(fx / folder / "eurofxref-hist.zip", file)
    elif folder == "idealauror_pboc_fixing":  # the central parity, not spot: returns only
        raw = pd.read_csv(fx / folder / file)
        df = _frame(raw["date"], {"close": raw["close"]})
    else:
        df = read_fx(fx / folder / file, folder)[["close"]]
    df = df[df["close"] > 0]
    return Source(folder, df, _pct(df))


# ----------------------------------------------------------------------------- traded closes
# Ex-dates inside a gap of the unadjusted sources, from ../shared/data/README.md (laimanto_yf:
# "rows before the 2026 ex-dates (0700 05-15, 9988 06-10) are dividend-adjusted").
KNOWN_EX_DATES = {"0700.HK": ("2026-05-15",), "9988.HK": ("2026-06-10",)}


def _last_date(s: pd.Series) -> pd.Timestamp:
    return pd.Timestamp(s.dropna().index.max())


def _ccf_unadjusted(path: Path) -> pd.Series:
    """ccf_hsi closes are adjusted as of its download; its ``Dividends`` column is the record.
    Undo it backwards from the last row: DF(e-1) = DF(e) / (1 + d_e DF(e) / A(e-1))."""
    raw = pd.read_csv(path)
    idx = pd.DatetimeIndex(pd.to_datetime(raw["Date"].astype(str).str[:10]), name="date")
    a = pd.Series(raw["Close"].to_numpy(dtype=float), index=idx)
    d = pd.Series(raw["Dividends"].to_numpy(dtype=float), index=idx).fillna(0.0)
    keep = ~a.index.duplicated(keep="last") & a.notna().to_numpy()
    a, d = a[keep].sort_index(), d[keep].sort_index()
    df = np.ones(len(a))
    for i in range(len(a) - 1, 0, -1):
        df[i - 1] = df[i]
        if d.iloc[i] > 0:
            df[i - 1] = df[i] / (1.0 + d.iloc[i] * df[i] / a.iloc[i - 1])
    return a / df


def unadjusted_sources(src: Path, ticker: str) -> list[UnadjustedSource]:
    """Every dividend-unadjusted close series of ``ticker`` in ../shared, best first."""
    p = src / "prices"
    out: list[UnadjustedSource] = []
    nas = src / "fundamentals/nasdaq_snapshots/details_HEAD" / f"{ticker}.json"
    if nas.is_file():  # split-adjusted as of its last date, not dividend-adjusted
        cs = json.loads(nas.read_text()).get("chartSeries") or []
        if cs:
            c = pd.Series(
                [float(r[3]) for r in cs], index=pd.DatetimeIndex([str(r[5])[:10] for r in cs])
            )
            c = c[~c.index.duplicated(keep="last")].sort_index()
            out.append(UnadjustedSource("nasdaq_chart", c, _last_date(c)))
    if ticker.endswith((".SS", ".SZ")):
        code = ticker.split(".")[0]
        ex = "sh" if ticker.endswith(".SS") else "sz"
        raw_files = [
            (
                "ashare_akshare_chenyihui",
                next(iter((p / "ashare_akshare_chenyihui").glob(f"{code}_*")), None),
                read_tushare,
            ),
            (
                "ashare_overwatchmercy",
                next(iter((p / "ashare_overwatchmercy").glob(f"{code}_*")), None),
                read_overwatch,
            ),
            (
                "ashare_raw_confidentalways",
                p / "ashare_raw_confidentalways" / f"{code}.csv",
                read_tushare,
            ),
            (
                "ashare_xbx_ganlei333",
                p / "ashare_xbx_ganlei333" / f"{ex}{code}.csv",
                lambda f: read_xbx(f)[0],
            ),
        ]
        for name, f, reader in raw_files:
            if f is not None and f.is_file():
                out.append(UnadjustedSource(name, reader(f)["close"], None))
        return out
    for folder in ("dieperdev_yf", "wubw_invest"):
        f = p / folder / f"{ticker}.csv"
        if f.is_file():  # Yahoo Close: split-adjusted as of the download, not for dividends
            c = read_plain(f)["close"]
            basis = _last_date(c)
            if folder == "wubw_invest" and ticker.endswith(".HK"):
                c = c.iloc[:-1]  # its last HK row (2022-09-19) was taken intraday
            if ticker == "0700.HK":  # 2022-01-10..19 are scaled by 0.97059, not raw
                c = c.drop(c.loc["2022-01-10":"2022-01-19"].index)
            out.append(UnadjustedSource(folder, c, basis))
    f = p / "ccf_hsi" / f"{ticker}.csv"
    if f.is_file():
        c = _ccf_unadjusted(f)
        if ticker == "0700.HK":
            # its Dividends column lacks Tencent's in-specie distributions: about 5% applied
            # between 2022-09 and 2023-05 has no date or size in ../shared, so the record is
            # used only after it (the gap is filled and marked estimated)
            c = c.loc["2023-05-19":]
        out.append(UnadjustedSource("ccf_hsi (dividend record)", c, _last_date(c)))
    return out


def read_overwatch(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path)
    df = _frame(raw["日期"], {"close": raw["收盘价"]})
    return df.drop(pd.Timestamp("2026-07-01"), errors="ignore")  # a copy of 06-30 (README)


def _has_sibling(ticker: str, universe: dict) -> bool:
    """An HK line whose company also lists an ADR (BABA/9988.HK, JD/9618.HK, ...)."""
    x = universe["china"].get(ticker) or {}
    other = universe["china"].get(x.get("cross_listing", "")) or {}
    return ticker.endswith(".HK") and other.get("ads_ratio") is not None


def traded_closes(
    src: Path, prices: pd.DataFrame, actions: pd.DataFrame, tickers: list[str], universe: dict
) -> tuple[pd.Series, pd.Series, dict]:
    """``close_traded`` and ``traded_estimated`` for every price row of ``tickers`` (NaN and
    False elsewhere) and, per ticker, how many dates each source of the factor supplied."""
    out = pd.Series(np.nan, index=prices.index)
    est_out = pd.Series(False, index=prices.index)
    info: dict[str, dict] = {}
    for t in tickers:
        rows = prices.index[prices["ticker"] == t]
        if not len(rows):
            continue
        adj = pd.Series(
            prices.loc[rows, "close"].to_numpy(), index=pd.DatetimeIndex(prices.loc[rows, "date"])
        )
        splits = actions[actions["ticker"] == t][["date", "factor"]]
        ex = tuple(pd.Timestamp(d) for d in KNOWN_EX_DATES.get(t, ()))
        srcs = unadjusted_sources(src, t)
        if _has_sibling(t, universe):
            # ccf_hsi's dividend column does not describe how Yahoo adjusted these HK lines:
            # with it 9618.HK x2 / JD drifts to 1.05 in 2023; without it (the adjusted close taken
            # as traded after the raw wubw_invest closes end in 2022-09) monthly medians stay
            # within 2% of the ADR (tests/test_traded.py)
            srcs = [s for s in srcs if not s.name.startswith("ccf_hsi")]
        res = traded_close(adj, srcs, splits, ex_dates=ex)
        out[rows] = res.frame["close_traded"].reindex(adj.index).to_numpy()
        est = res.frame["estimated"]
        est_out[rows] = est.reindex(adj.index).fillna(False).to_numpy(dtype=bool)
        info[t] = {
            "dividend_factor_sources": res.observed,
            "estimated_dates": int(est.sum()),
            "min_factor": round(float(res.frame["dividend_factor"].min()), 6),
        }
    return out, est_out, info


# ----------------------------------------------------------------------------- fundamentals
# Corporate actions missing from ../shared (its NOTES list NFLX as "believed, not verified"):
# Netflix 10-for-1, split-adjusted trading from 2025-11-17 (company press release and 8-K of
# 2025-10-30, as reported by public news pages).
EXTRA_ACTIONS = [
    {
        "ticker": "AAPL",
        "date": pd.Timestamp("2020-08-31"),
        "factor": 4.0,
        "kind": "stock_split",
        "note": "4:1, split-adjusted trading from 2020-08-31 (Apple press release 2020-07-30); "
        "its SEC cover counts go from 4,275.6M (2020-07-17) to 17,001.8M (2020-10-16)",
    },
    {
        "ticker": "NFLX",
        "date": pd.Timestamp("2025-11-17"),
        "factor": 10.0,
        "kind": "stock_split",
        "note": "10:1, split-adjusted trading from 2025-11-17 (press release / 8-K 2025-10-30)",
    },
]

SPLIT_RATIO = {"4:1": 4.0, "10:1": 10.0, "20:1": 20.0, "5:1": 5.0}


def corporate_actions(src: Path) -> pd.DataFrame:
    """Share-basis changes that move per-listed-unit figures (EPS, share counts) relative to the
    split-adjusted prices.  ``factor`` multiplies a share count reported before ``date``."""
    rows = []
    for f in ["pit_annual/corporate_actions.csv", "pit_annual_hk_ashare/corporate_actions.csv"]:
        ca = pd.read_csv(src / "fundamentals" / f)
        for r in ca.itertuples():
            kind, ratio, date = str(r.kind), str(r.ratio), r.date
            factor = None
            if kind in ("stock_split", "split") and ratio in SPLIT_RATIO:
                factor = SPLIT_RATIO[ratio]
            if r.ticker == "NOW" and not isinstance(date, str):
                # ServiceNow 5:1: the price in the yfinance info snapshots drops from 865.06 to
                # 153.73 between the 2025-12-17 and 2025-12-18 commits.
                date = "2025-12-18"
            if r.ticker == "688256.SS" and kind == "bonus_issue_proposed":
                factor, date = 1.49, "2026-05-08"  # ex-date seen in the prices (see RAW_EVENTS)
            if r.ticker == "NTES" and kind == "ADS_ratio_change":
                # ADS ratio 25 -> 5 (each ADS became five): per-ADS figures before it / 5.
                # The date is the yfinance 5:1 adjustment of the ADS price (not verified here).
                factor, date = 5.0, "2020-10-02"
            if factor is None or not isinstance(date, str):
                continue
            rows.append(
                {
                    "ticker": r.ticker,
                    "date": pd.Timestamp(date),
                    "factor": factor,
                    "kind": kind,
                    "note": str(r.source)[:200],
                }
            )
    rows += EXTRA_ACTIONS
    return pd.DataFrame(rows).sort_values(["ticker", "date"]).reset_index(drop=True)


def annual_fundamentals(
    src: Path, universe: dict, first_price: dict[str, pd.Timestamp]
) -> pd.DataFrame:
    f = src / "fundamentals"
    a = pd.concat(
        [
            pd.read_csv(f / "pit_annual/fundamentals_annual.csv", dtype={"ticker": str}),
            pd.read_csv(f / "pit_annual_hk_ashare/fundamentals_annual.csv", dtype={"ticker": str}),
        ],
        ignore_index=True,
    )
    a["period_end"] = pd.to_datetime(a["period_end"])
    a["reported_date"] = pd.to_datetime(a["reported_date"])
    lag = [
        filing_lag_days(t, foreign_issuer=t in universe["china"]) for t in a["ticker"].astype(str)
    ]
    a["lag_days"] = lag
    lagged = a["period_end"] + pd.to_timedelta(a["lag_days"], unit="D")
    listing = a["ticker"].map(first_price)
    lagged = pd.concat([lagged, listing], axis=1).max(axis=1)  # pre-IPO years: public at listing
    # results are often released after the close: usable from the next day's close
    a["public_date"] = (a["reported_date"] + pd.Timedelta(days=1)).fillna(lagged)
    a["public_date_basis"] = np.where(
        a["reported_date"].notna(), "reported+1d", "lag_" + a["lag_days"].astype(str) + "d"
    )
    # fill one of (net income, EPS, shares) from the other two: NI / EPS = shares
    ni, eps, sh = a["net_income"], a["diluted_eps"], a["diluted_shares"]
    derived_sh = (ni / eps).where((eps.abs() > 0) & sh.isna() & ni.notna())
    a["shares_derived"] = derived_sh.notna()
    a["diluted_shares"] = sh.fillna(derived_sh)
    a = a.drop(columns=["lag_days"])
    a = a.dropna(subset=["revenue", "net_income", "diluted_eps", "diluted_shares"], how="all")
    return a.sort_values(["ticker", "fiscal_year"]).reset_index(drop=True)


# ----------------------------------------------------------------------------- US quarters
PRESS = {  # ticker -> (net income field, unit in millions, fiscal quarter-end rule)
    "MSFT": ("netIncome", 1.0),
    "META": ("netIncome", 1.0),
    "INTC": ("netIncomeIntel", 1.0),
    "AVGO": ("netIncome", 1.0),
    "PLTR": ("netIncomeToCommon", 1e-3),  # thousands
}


def _fiscal_quarter_end(ticker: str, fy: str, q: str) -> pd.Timestamp:
    """The end of fiscal quarter ``q`` of fiscal year ``fy`` (``FY2025``, ``Q2``): Microsoft's
    year ends on June 30; Broadcom's 52/53-week year on the Sunday nearest October 31, its
    quarters 13 weeks apart counted back from it (a 53rd week falls in Q1); the others follow
    the calendar year."""
    year, n = int(fy[2:]), int(q[1:])
    if ticker == "MSFT":
        return pd.Timestamp(year - 1, 6, 30) + pd.offsets.QuarterEnd(n)
    if ticker == "AVGO":
        oct31 = pd.Timestamp(year, 10, 31)
        shift = (6 - oct31.weekday()) % 7  # days to the next Sunday
        fy_end = oct31 + pd.Timedelta(days=shift if shift <= 3 else shift - 7)
        return fy_end - pd.Timedelta(weeks=13 * (4 - n))
    return pd.Timestamp(year, 3 * n, 1) + pd.offsets.MonthEnd(0)


def press_release_quarters(src: Path) -> pd.DataFrame:
    """Quarterly revenue, net income and diluted weighted shares from 8-K earnings releases, as
    first released (MSFT META INTC AVGO PLTR), public the day after the release date."""
    folder = src / "fundamentals/us_quarterly_press_releases"
    rows = []
    for t, (ni_field, unit) in PRESS.items():
        fin = json.loads((folder / f"{t}_financials.json").read_text())
        links = json.loads((folder / f"{t}_quarterly-links.json").read_text())
        dated = {(x["fy"], x["q"]): x for x in links}
        for fy, quarters in fin.items():
            for q, v in quarters.items():
                link = dated.get((fy, q))
                if link is None or v.get("revenue") is None:
                    continue  # AVGO FY2026 Q1 has no release date: not usable point in time
                release = pd.Timestamp(link["date"])
                shares = v.get("sharesDiluted")
                if shares is not None and shares > 1e8:  # PLTR 2020: raw counts
                    shares = shares / 1e6
                elif shares is not None:
                    shares = shares * unit
                ni = (v.get(ni_field) or v.get("netIncome") or np.nan) * unit
                if t == "AVGO" and v.get("epsDiluted") is not None and shares:
                    # its net income includes preferred dividends until 2022: the common
                    # shareholders' share is diluted EPS x diluted shares
                    ni = v["epsDiluted"] * shares
                rows.append(
                    {
                        "ticker": t,
                        "period_end": _fiscal_quarter_end(t, fy, q),
                        "publish": release,
                        "revenue": v["revenue"] * unit,
                        "net_income": ni,
                        "shares": shares,
                        "source": f"8-K earnings release {link['adsh']} ({fy} {q})",
                    }
                )
    return pd.DataFrame(rows)


def sec_quarters(facts: pd.DataFrame) -> pd.DataFrame:
    """Three-month revenue and net income from SEC companyfacts (AAPL GOOGL MRVL NVDA), first
    filed: Q1-Q3 as filed, Q4 = the fiscal year minus the nine months to Q3 (both filed), public
    the day after the later filing; diluted shares of the quarter where filed."""
    out = []
    for (t, field), g in facts[facts["field"].isin(["revenue", "net_income"])].groupby(
        ["ticker", "field"]
    ):
        g = g.sort_values("filed").drop_duplicates(["start", "end"], keep="first")
        days = (g["end"] - g["start"]).dt.days
        q3m = g[days.between(80, 100)]
        for r in q3m.itertuples():
            out.append((t, field, r.end, r.filed, r.val))
        fy = g[days.between(350, 380)]
        nine = g[days.between(260, 290)]
        for r in fy.itertuples():
            m = nine[(nine["start"] == r.start) & (nine["end"] < r.end)]
            if len(m) and not ((q3m["end"] == r.end).any()):
                n9 = m.iloc[-1]
                out.append((t, field, r.end, max(r.filed, n9["filed"]), r.val - n9["val"]))
    q = pd.DataFrame(out, columns=["ticker", "field", "period_end", "publish", "val"])
    wide = q.pivot_table(
        index=["ticker", "period_end"], columns="field", values="val", aggfunc="first"
    )
    pub = q.groupby(["ticker", "period_end"])["publish"].max()
    res = wide.join(pub).reset_index()
    sh = facts[facts["field"] == "diluted_shares"]
    sh = sh[(sh["end"] - sh["start"]).dt.days.between(80, 100)]
    sh = sh.sort_values("filed").drop_duplicates(["ticker", "end"], keep="first")
    res = res.merge(
        sh[["ticker", "end", "val"]].rename(columns={"end": "period_end", "val": "shares"}),
        on=["ticker", "period_end"],
        how="left",
    )
    res["shares"] = res["shares"] / 1e6
    res["revenue"] = res["revenue"] / 1e6
    res["net_income"] = res["net_income"] / 1e6
    res["source"] = "SEC companyfacts (first filed)"
    return res


def quarterly_ttm(q: pd.DataFrame, source_rank: int) -> pd.DataFrame:
    """Trailing-twelve-month revenue and net income at each quarter end with four consecutive
    quarters (each 80-100 days apart), public the day after the latest of them was."""
    rows = []
    for t, g in q.groupby("ticker", sort=True):
        g = g.sort_values("period_end").drop_duplicates("period_end").reset_index(drop=True)
        gaps = g["period_end"].diff().dt.days
        for i in range(3, len(g)):
            w = g.iloc[i - 3 : i + 1]
            if not gaps.iloc[i - 2 : i + 1].between(80, 100).all() or w["revenue"].isna().any():
                continue
            last = g.iloc[i]
            ni = w["net_income"].sum() if w["net_income"].notna().all() else np.nan
            rows.append(
                {
                    "ticker": t,
                    "fiscal_year": int(last["period_end"].year),
                    "period_end": last["period_end"],
                    "reported_date": w["publish"].max(),
                    "currency": "USD",
                    "revenue": w["revenue"].sum(),
                    "net_income": ni,
                    "diluted_eps": np.nan,
                    "eps_unit": None,
                    "diluted_shares": np.nan,
                    "source": f"{last['source']}, four quarters",
                    "public_date": w["publish"].max() + pd.Timedelta(days=1),
                    "public_date_basis": "reported+1d",
                    "shares_derived": False,
                    "basis": "ttm",
                    "source_rank": source_rank,
                }
            )
    return pd.DataFrame(rows)


def quarter_share_rows(q: pd.DataFrame, kind_source: str) -> pd.DataFrame:
    """Diluted weighted shares of each quarter as share-count rows on the basis of their
    public date (figures as first reported)."""
    q = q[q["shares"].notna() & (q["shares"] > 0)]
    public = q["publish"] + pd.Timedelta(days=1)
    return pd.DataFrame(
        {
            "ticker": q["ticker"],
            "as_of": q["period_end"],
            "public_date": public,
            "shares_millions": q["shares"],
            "basis_date": public,
            "kind": "weighted_diluted",
            "usable": True,
            "source": kind_source,
            "note": "quarterly weighted diluted shares, as first reported",
            "source_rank": 2,
        }
    )


@dataclass(frozen=True)
class UsQuarters:
    """The US quarterly sources, read once per build: 8-K releases, SEC companyfacts (long
    facts and their three-month quarters) and SimFin's bulk quarters."""

    press: pd.DataFrame
    facts: pd.DataFrame
    sec: pd.DataFrame
    simfin: pd.DataFrame

    @classmethod
    def read(cls, src: Path, us: list[str]) -> UsQuarters:
        facts = sec_facts(src)
        return cls(
            press_release_quarters(src), facts, sec_quarters(facts), simfin_quarters(src, us)
        )


SIMFIN = {  # bulk file -> the date its values (and split-adjusted share counts) are as of
    "simfin_2023-01-09_us-income-quarterly.zip": "2023-01-09",
    "simfin_2026-03-06_us-income-quarterly.zip": "2026-03-06",
}
SIMFIN_TICKERS = {"GOOG": "GOOGL"}  # SimFin files Alphabet under GOOG


def simfin_quarters(src: Path, us: list[str]) -> pd.DataFrame:
    """Quarterly income rows of the US peers from the SimFin bulk files, one per (ticker, report
    date): the older bulk wins where both have the quarter (nearer to first reported).  Values
    are as restated on ``Restated Date``; shares split-adjusted as of the bulk (``basis_date``)."""
    frames = []
    for name, asof in SIMFIN.items():
        raw = pd.read_csv(src / "fundamentals/us_quarterly_simfin" / name, sep=";")
        raw["Ticker"] = raw["Ticker"].replace(SIMFIN_TICKERS)
        raw = raw[raw["Ticker"].isin(us)].copy()
        raw["basis_date"] = pd.Timestamp(asof)
        raw["bulk"] = name
        frames.append(raw)
    q = pd.concat(frames, ignore_index=True)
    q["period_end"] = pd.to_datetime(q["Report Date"])
    q["publish"] = pd.to_datetime(q["Publish Date"])
    q = q.sort_values(["Ticker", "period_end", "basis_date"], kind="mergesort")
    return q.drop_duplicates(["Ticker", "period_end"], keep="first").reset_index(drop=True)


def simfin_ttm(q: pd.DataFrame) -> pd.DataFrame:
    """Trailing-twelve-month revenue and net income at each quarter end with four consecutive
    quarters (each 80-100 days after the previous), public the day after the latest quarter was
    filed."""
    rows = []
    for t, g in q.groupby("Ticker", sort=True):
        g = g.sort_values("period_end").reset_index(drop=True)
        gaps = g["period_end"].diff().dt.days
        for i in range(3, len(g)):
            w = g.iloc[i - 3 : i + 1]
            if not gaps.iloc[i - 2 : i + 1].between(80, 100).all():
                continue
            if w["Revenue"].isna().any():
                continue
            last = g.iloc[i]
            rows.append(
                {
                    "ticker": t,
                    "fiscal_year": int(last["period_end"].year),
                    "period_end": last["period_end"],
                    "reported_date": last["publish"],
                    "currency": "USD",
                    "revenue": w["Revenue"].sum() / 1e6,
                    "net_income": w["Net Income"].sum() / 1e6
                    if w["Net Income"].notna().all()
                    else np.nan,
                    "diluted_eps": np.nan,
                    "eps_unit": None,
                    "diluted_shares": np.nan,
                    "source": f"SimFin {last['bulk']} (restated as of "
                    f"{last['basis_date'].date()}), four quarters",
                    "public_date": last["publish"] + pd.Timedelta(days=1),
                    "public_date_basis": "reported+1d",
                    "shares_derived": False,
                    "basis": "ttm",
                    "source_rank": 0,
                }
            )
    return pd.DataFrame(rows)


def superseded(
    rows: pd.DataFrame, primary: pd.DataFrame, date_col: str, days: int = 35
) -> pd.Series:
    """True for each row of ``rows`` with a ``primary`` row of the same ticker dated within
    ``days`` (the same quarter; SimFin dates some quarters at a month end)."""
    out = pd.Series(False, index=rows.index)
    for t, g in rows.groupby("ticker"):
        p = pd.DatetimeIndex(primary.loc[primary["ticker"] == t, date_col])
        if not len(p):
            continue
        d = pd.DatetimeIndex(g[date_col]).to_numpy()[:, None]
        near = np.abs((d - p.to_numpy()[None, :]).astype("timedelta64[D]").astype(int)) <= days
        out[g.index] = near.any(axis=1)
    return out


def _off_its_neighbours(shares: pd.Series, tolerance: float = 0.3) -> pd.Series:
    """True where a count is more than ``tolerance`` away from the median of the two counts
    before and the two after it (SimFin's SNOW 2022-01-31 count is half its neighbours)."""
    med = shares.rolling(5, center=True, min_periods=3).median()
    return ((shares / med - 1).abs() > tolerance).fillna(False)


def simfin_shares(q: pd.DataFrame) -> pd.DataFrame:
    """Quarterly weighted diluted shares (basic where diluted is missing) as share-count rows on
    the split basis of their bulk file."""
    sh = q["Shares (Diluted)"].fillna(q["Shares (Basic)"])
    ok = sh.notna() & (sh > 0)
    q, sh = q[ok], sh[ok]
    odd = sh.groupby(q["Ticker"]).transform(_off_its_neighbours).astype(bool)
    note = "quarterly weighted shares, split-adjusted as of the bulk file (restated values)"
    return pd.DataFrame(
        {
            "ticker": q["Ticker"],
            "as_of": q["period_end"],
            "public_date": q["publish"] + pd.Timedelta(days=1),
            "shares_millions": sh / 1e6,
            "basis_date": q["basis_date"],
            "kind": "weighted_diluted",
            "usable": ~odd,
            "source": "fundamentals/us_quarterly_simfin/" + q["bulk"],
            "note": np.where(odd, "OFF ITS NEIGHBOURS by more than 30%; " + note, note),
            "source_rank": 0,
        }
    )


WEIGHTED_KINDS = ("weighted_diluted", "weighted_basic", "derived_ni_over_eps")


def company_listing(
    universe: dict, first_price: dict[str, pd.Timestamp]
) -> dict[str, pd.Timestamp]:
    """Per ticker, the company's first listing (the earliest first close of its lines)."""
    out = {}
    for section in ("china", "us"):
        for t, x in universe[section].items():
            lines = [t, x.get("cross_listing", "")]
            dates = [first_price[v] for v in lines if v in first_price]
            if dates:
                out[t] = min(dates)
    return out


def mark_listing_window_averages(
    shares: pd.DataFrame, listed: dict[str, pd.Timestamp]
) -> pd.Series:
    """``usable`` with weighted averages whose averaging window (a year; a quarter for SimFin's
    quarterly rows) starts before the company's listing set to False: an IPO-period average
    understates the count outstanding after the listing (SNOW, PLTR 2020)."""
    quarterly = shares["source"].str.contains("simfin|press_releases") | shares[
        "note"
    ].str.contains("quarterly")
    window = np.where(quarterly, 91, 365)
    start = pd.to_datetime(shares["as_of"]) - pd.to_timedelta(window, unit="D")
    first = pd.to_datetime(shares["ticker"].map(listed))
    ipo = shares["kind"].isin(WEIGHTED_KINDS) & first.notna() & (start < first)
    return shares["usable"].astype(bool) & ~ipo


def shares_table(
    src: Path,
    fundamentals: pd.DataFrame,
    universe: dict,
    first_price: dict[str, pd.Timestamp],
    quarters: UsQuarters,
) -> pd.DataFrame:
    """Every dated share count (:mod:`data.build_shares` for the Chinese names), plus for the US
    peers the SEC cover-page counts and the annual weighted diluted shares (or net income over
    diluted EPS where a source lacks them, marked as derived)."""
    china = share_counts(src)
    us = list(universe["us"])
    f = src / "fundamentals/share_counts/sec_companyfacts_slices/sec_share_counts_us.csv"
    sec = pd.read_csv(f, dtype={"ticker": str})
    cov = sec[
        (sec["concept"] == "EntityCommonStockSharesOutstanding") & (sec["end"] >= "2014-12-31")
    ]
    cov = cov[cov["ticker"].isin(us)].sort_values("filed").drop_duplicates(["ticker", "end"])
    cover = pd.DataFrame(
        {
            "ticker": cov["ticker"],
            "as_of": pd.to_datetime(cov["end"]),
            "public_date": pd.to_datetime(cov["filed"]) + pd.Timedelta(days=1),
            "shares_millions": cov["val"] / 1e6,
            "kind": "cover_outstanding",
            "usable": True,
            "source": "fundamentals/share_counts/sec_companyfacts_slices/sec_share_counts_us.csv",
            "note": "SEC cover page count at its date (dei), "
            + cov["form"]
            + " accn "
            + cov["accn"],
        }
    )
    a = fundamentals[fundamentals["ticker"].isin(us) & fundamentals["diluted_shares"].notna()]
    annual = pd.DataFrame(
        {
            "ticker": a["ticker"],
            "as_of": a["period_end"],
            "public_date": a["public_date"],
            "shares_millions": a["diluted_shares"],
            "kind": np.where(a["shares_derived"], "derived_ni_over_eps", "weighted_diluted"),
            "usable": True,
            "source": "fundamentals/pit_annual/fundamentals_annual.csv",
            "note": "FY"
            + a["fiscal_year"].astype(str)
            + " weighted diluted shares ("
            + a["public_date_basis"]
            + ")",
        }
    )
    us_rows = pd.concat([cover, annual], ignore_index=True)
    us_rows["basis_date"] = us_rows["public_date"]
    primary = pd.concat(
        [
            quarter_share_rows(quarters.press, "fundamentals/us_quarterly_press_releases"),
            quarter_share_rows(
                quarters.sec, "fundamentals/sec_companyfacts/companyfacts_key_fields_long.csv"
            ),
            sec_cover_counts(quarters.facts),
        ],
        ignore_index=True,
    )
    simfin = simfin_shares(quarters.simfin)
    weighted_primary = primary[primary["kind"] == "weighted_diluted"]
    dup = superseded(simfin, weighted_primary, "as_of")
    simfin.loc[dup, "usable"] = False
    simfin.loc[dup, "note"] = "SUPERSEDED by a primary count of the same quarter; " + simfin.loc[
        dup, "note"
    ].astype(str)
    us_rows = pd.concat([us_rows, simfin, primary], ignore_index=True)
    china = china.assign(source_rank=1)
    us_rows["source_rank"] = us_rows["source_rank"].fillna(1) if "source_rank" in us_rows else 1
    out = pd.concat([china, us_rows.reindex(columns=china.columns)], ignore_index=True)
    out["source_rank"] = out["source_rank"].astype(int)
    out["shares_millions"] = out["shares_millions"].astype(float)
    out["usable"] = mark_listing_window_averages(out, company_listing(universe, first_price))
    for c in ("as_of", "public_date", "basis_date"):
        out[c] = pd.to_datetime(out[c]).astype("datetime64[us]")
    return out.sort_values(
        ["ticker", "as_of", "public_date", "kind"], kind="mergesort"
    ).reset_index(drop=True)


def sec_cover_counts(facts: pd.DataFrame) -> pd.DataFrame:
    """Cover-page share counts (dei) of the companyfacts tickers, public the day after filing."""
    c = facts[facts["field"] == "shares_outstanding_cover"]
    c = c.sort_values("filed").drop_duplicates(["ticker", "end"], keep="first")
    return pd.DataFrame(
        {
            "ticker": c["ticker"],
            "as_of": c["end"],
            "public_date": c["filed"] + pd.Timedelta(days=1),
            "shares_millions": c["val"] / 1e6,
            "basis_date": c["filed"] + pd.Timedelta(days=1),
            "kind": "cover_outstanding",
            "usable": True,
            "source": "fundamentals/sec_companyfacts/companyfacts_key_fields_long.csv",
            "note": "SEC cover page count (dei), " + c["form"].astype(str),
            "source_rank": 2,
        }
    )


COMPANYFACTS_TAGS = {
    ("us-gaap", "Revenues"): "revenue",
    ("us-gaap", "RevenueFromContractWithCustomerExcludingAssessedTax"): "revenue",
    ("us-gaap", "NetIncomeLoss"): "net_income",
    ("us-gaap", "WeightedAverageNumberOfDilutedSharesOutstanding"): "diluted_shares",
    ("dei", "EntityCommonStockSharesOutstanding"): "shares_outstanding_cover",
}
#: companyfacts files that the key-fields CSV does not cover (ticker -> file)
EXTRA_COMPANYFACTS = {"SNOW": "CIK0001640147_SNOW_companyfacts_2025-07-30.json"}


def companyfacts_long(path: Path, ticker: str) -> pd.DataFrame:
    """A companyfacts JSON in the long layout of ``companyfacts_key_fields_long.csv``."""
    facts = json.loads(path.read_text())["facts"]
    rows = []
    for (ns, tag), field in COMPANYFACTS_TAGS.items():
        for unit, items in facts.get(ns, {}).get(tag, {}).get("units", {}).items():
            for x in items:
                rows.append(
                    {
                        "ticker": ticker,
                        "field": field,
                        "tag": tag,
                        "unit": unit,
                        "start": x.get("start"),
                        "end": x["end"],
                        "val": x["val"],
                        "fy": x.get("fy"),
                        "fp": x.get("fp"),
                        "form": x.get("form"),
                        "filed": x["filed"],
                    }
                )
    return pd.DataFrame(rows)


def sec_facts(src: Path) -> pd.DataFrame:
    folder = src / "fundamentals/sec_companyfacts"
    s = pd.concat(
        [
            pd.read_csv(folder / "companyfacts_key_fields_long.csv"),
            *[companyfacts_long(folder / f, t) for t, f in EXTRA_COMPANYFACTS.items()],
        ],
        ignore_index=True,
    )
    s = s.sort_values("filed").drop_duplicates(
        ["ticker", "field", "start", "end", "unit"], keep="first"
    )
    for c in ("start", "end", "filed"):
        s[c] = pd.to_datetime(s[c])
    return (
        s[["ticker", "field", "tag", "unit", "start", "end", "val", "fy", "fp", "form", "filed"]]
        .sort_values(["ticker", "field", "end", "start"])
        .reset_index(drop=True)
    )


def _close_and_usable(commit: pd.Series) -> tuple[pd.Series, pd.Series]:
    """From a snapshot's commit time: the New York close its market data refer to (the last
    close before the commit) and the first close at which it was public (the commit day if
    committed before the 16:00 close, else the next business day)."""
    ny = pd.to_datetime(commit, utc=True).dt.tz_convert("America/New_York")
    day = ny.dt.tz_localize(None).dt.normalize()
    after_close = (ny.dt.hour >= 16).to_numpy()
    bday = pd.offsets.BDay(1)
    close_date = pd.Series(np.where(after_close, day, day - bday), index=commit.index)
    usable = pd.Series(np.where(after_close, day + bday, day), index=commit.index)
    # a weekend commit refers to Friday's close and is usable on Monday
    close_date = close_date.where(close_date.dt.day_of_week < 5, close_date - bday)
    usable = usable.where(usable.dt.day_of_week < 5, usable + bday)
    return close_date.astype("datetime64[us]"), usable.astype("datetime64[us]")


def valuation_snapshots(src: Path) -> pd.DataFrame:
    """Dated valuation snapshots, all money in USD.  ``date`` is when the snapshot was recorded
    (commit time, UTC), so it was public on that date."""
    f = src / "fundamentals"
    n = pd.read_csv(f / "nasdaq_snapshots/fundamentals_snapshots_history.csv")
    n_close, n_usable = _close_and_usable(n["commit_date"])
    nas = pd.DataFrame(
        {
            "date": n_close,
            "usable_from": n_usable,
            "ticker": n["ticker"],
            "source": "nasdaq",
            "price": n["last_close"],
            "market_cap": n["marketCapB"] * 1e9,
            "sales": n["salesB"] * 1e9,
            "sales_basis": "latest_fy",
            "net_income": n["incomeB"] * 1e9,
            "debt": n["debtB"] * 1e9,
            "cash": n["cashB"] * 1e9,
            "eps_ttm": n["epsTtm"],
            "eps_fwd": n["epsNextY"],
            "ebitda": np.nan,
        }
    )
    y = pd.read_csv(f / "yfinance_info_snapshots/snapshots_history.csv")
    y_close, y_usable = _close_and_usable(y["commit_date"])
    yf_ = pd.DataFrame(
        {
            "date": y_close,
            "usable_from": y_usable,
            "ticker": y["ticker"],
            "source": "yfinance_info",
            "price": y["price"],
            "market_cap": y["market_cap"],
            "sales": y["revenue_ttm"],
            "sales_basis": "ttm",
            "net_income": y["net_income_ttm"],
            "debt": y["total_debt"],
            "cash": y["cash_and_equivalents"],
            "eps_ttm": np.nan,
            "eps_fwd": y["forward_eps"],
            "ebitda": np.nan,
        }
    )
    v = pd.concat([nas, yf_], ignore_index=True)
    v = v.dropna(subset=["market_cap"])
    v = v.drop_duplicates(["date", "ticker", "source"], keep="last")
    v["currency"] = "USD"
    return v.sort_values(["ticker", "date", "source"]).reset_index(drop=True)


# ----------------------------------------------------------------------------- main
def reference_facts(src: Path) -> pd.DataFrame:
    """Public reference points (sell-side and press figures on the China-vs-US AI valuation
    gap) from ``facts/facts_D.csv``, as published: text values, their scope and source, so that
    ``aigap gap`` can state them next to what our basket shows on the same date."""
    f = pd.read_csv(src / "facts" / "facts_D.csv", dtype=str).fillna("")
    cols = ["fact_id", "as_of_date", "original_author", "metric", "value", "unit",
            "universe_or_scope", "source_url", "notes"]  # fmt: skip
    return f[cols].sort_values("fact_id", kind="mergesort").reset_index(drop=True)


def build(src: Path, out: Path = OUT) -> dict:
    universe = tomllib.loads(UNIVERSE.read_text())
    tickers = list(universe["china"]) + list(universe["us"]) + list(universe["benchmarks"])
    out.mkdir(parents=True, exist_ok=True)
    frames, manifest_series = [], []
    plan = price_plan(src, tickers)
    for t in [*tickers, "CNY=X", "HKD=X"]:
        loaded = [s for s in (load() for load in plan[t]) if s is not None and len(s.frame)]
        if not loaded:
            manifest_series.append(
                {
                    "ticker": t,
                    "rows": 0,
                    "segments": [],
                    "note": "no source in ../shared/data covers this ticker",
                }
            )
            continue
        series, info = stitch(loaded, anchor="backbone" if t in ("CNY=X", "HKD=X") else "last")
        series = series.reset_index()
        series.insert(1, "ticker", t)
        frames.append(series)
        manifest_series.append(
            {
                "ticker": t,
                "first_date": str(series["date"].iloc[0].date()),
                "last_date": str(series["date"].iloc[-1].date()),
                "rows": len(series),
                "method": "returns chained across sources by priority; level anchored to the last "
                "close of the source supplying the last date",
                **info,
            }
        )
    prices = pd.concat(frames, ignore_index=True)
    for c in ["open", "high", "low", "close", "volume"]:
        prices[c] = prices[c].astype("float64")
    first_price = prices.groupby("ticker")["date"].min().to_dict()
    prices["currency"] = prices["ticker"].map(lambda t: price_currency(t, universe))
    actions = corporate_actions(src)
    valued = list(universe["china"]) + list(universe["us"])
    traded, estimated, traded_info = traded_closes(src, prices, actions, valued, universe)
    prices["close_traded"], prices["traded_estimated"] = traded, estimated
    for s in manifest_series:
        if s["ticker"] in traded_info:
            s["close_traded"] = traded_info[s["ticker"]]
    atomic_write_parquet(prices[PRICE_COLUMNS], out / "prices.parquet")
    annual = annual_fundamentals(src, universe, first_price).assign(basis="annual", source_rank=1)
    quarters = UsQuarters.read(src, list(universe["us"]))
    primary_ttm = pd.concat(
        [quarterly_ttm(quarters.press, source_rank=2), quarterly_ttm(quarters.sec, source_rank=2)],
        ignore_index=True,
    )
    simfin_ttm_rows = simfin_ttm(quarters.simfin)
    # a SimFin quarter that a release or filing also reports is left out (restated; dated a
    # month off for some fiscal calendars)
    simfin_ttm_rows = simfin_ttm_rows[~superseded(simfin_ttm_rows, primary_ttm, "period_end")]
    ttm = pd.concat([simfin_ttm_rows, primary_ttm], ignore_index=True)
    fundamentals = pd.concat([annual, ttm.reindex(columns=annual.columns)], ignore_index=True)
    fundamentals = fundamentals.sort_values(
        ["ticker", "period_end", "basis"], kind="mergesort"
    ).reset_index(drop=True)
    atomic_write_parquet(fundamentals, out / "fundamentals.parquet")
    atomic_write_parquet(actions, out / "corporate_actions.parquet")
    atomic_write_parquet(
        shares_table(src, fundamentals, universe, first_price, quarters), out / "shares.parquet"
    )
    atomic_write_parquet(quarters.facts, out / "sec_facts.parquet")
    vals = valuation_snapshots(src)
    atomic_write_parquet(vals, out / "valuations.parquet")
    atomic_write_parquet(reference_facts(src), out / "facts.parquet")
    manifest = {
        "description": "aigap embedded snapshot, built by data/build_snapshot.py from public "
        "market data (Yahoo Finance via yfinance, Nasdaq, SEC EDGAR, company "
        "filings). For research use.",
        "price_units": "close: adjusted (dividends and splits) in the listing currency; "
        "close_traded: the close as printed on its date (data/traded.py); FX (CNY=X, HKD=X) in "
        "local currency per USD",
        "series": manifest_series,
        "valuation_snapshots": {
            s: {
                "first_date": str(g["date"].min().date()),
                "last_date": str(g["date"].max().date()),
                "rows": len(g),
                "tickers": sorted(g["ticker"].unique().tolist()),
            }
            for s, g in vals.groupby("source")
        },
        # size and SHA-256 of every table: a reader refuses a truncated or corrupted file
        "files": file_entries(out, [*TABLES, "facts"]),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default=str(HERE.parent.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    src = Path(args.source)
    if not (src / "prices").is_dir():
        raise SystemExit(f"error: {src} does not look like the shared data folder (no prices/)")
    m = build(src, Path(args.out))
    missing = [s["ticker"] for s in m["series"] if not s["rows"]]
    print(f"wrote {len(m['series'])} series to {args.out}; without prices: {missing or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
