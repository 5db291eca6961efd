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
from pathlib import Path

import numpy as np
import pandas as pd

from data.stitch import Source, stitch
from data.store import PRICE_COLUMNS, atomic_write_parquet, price_currency

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
        ],
        "HKD=X": [("maxime_bgn", "USDHKD=X.csv"), ("alexshch09", "HKD=X.csv")],
    }.items():
        plan[sym] = [
            (lambda folder=folder, file=file: _fx_source(fx, folder, file))  # type: ignore[misc]
            for folder, file in files
        ]
    return plan


def _fx_source(fx: Path, folder: str, file: str) -> Source:
    df = read_fx(fx / folder / file, folder)[["close"]]
    df = df[df["close"] > 0]
    return Source(folder, df, _pct(df))


# ----------------------------------------------------------------------------- fundamentals
# Corporate actions missing from ../shared (its NOTES list NFLX as "believed, not verified"):
# Netflix 10-for-1, split-adjusted trading from 2025-11-17 (company press release and 8-K of
# 2025-10-30, as reported by public news pages).
EXTRA_ACTIONS = [
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
    lag = []
    for r in a.itertuples():
        t = r.ticker
        if t.endswith((".SS", ".SZ")):
            lag.append(120)  # A-share annual reports are due by April 30
        elif t.endswith(".HK"):
            lag.append(90)  # HK annual results are due within three months
        elif universe["china"].get(t) is not None:
            lag.append(120)  # 20-F filers
        else:
            lag.append(90)  # 10-K filers
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


def shares_outstanding(src: Path) -> pd.DataFrame:
    s = pd.read_csv(src / "fundamentals/pit_annual_hk_ashare/shares_outstanding.csv")
    s["date"] = pd.to_datetime(s["date"])
    return s.rename(columns={"shares_outstanding_millions": "shares_millions"})


def sec_facts(src: Path) -> pd.DataFrame:
    s = pd.read_csv(src / "fundamentals/sec_companyfacts/companyfacts_key_fields_long.csv")
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
        series, info = stitch(loaded)
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
    atomic_write_parquet(prices[PRICE_COLUMNS], out / "prices.parquet")
    atomic_write_parquet(
        annual_fundamentals(src, universe, first_price), out / "fundamentals.parquet"
    )
    atomic_write_parquet(corporate_actions(src), out / "corporate_actions.parquet")
    atomic_write_parquet(shares_outstanding(src), out / "shares_outstanding.parquet")
    atomic_write_parquet(sec_facts(src), out / "sec_facts.parquet")
    vals = valuation_snapshots(src)
    atomic_write_parquet(vals, out / "valuations.parquet")
    manifest = {
        "description": "aigap embedded snapshot, built by data/build_snapshot.py from public "
        "market data (Yahoo Finance via yfinance, Nasdaq, SEC EDGAR, company "
        "filings). For research use.",
        "price_units": "adjusted close in the listing currency; FX (CNY=X, HKD=X) in local "
        "currency per USD",
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
