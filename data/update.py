"""``aigap data update``: refresh a user store from the live provider, safely.

Nothing is written unless something was received.  Each table is replaced atomically; a ticker
whose download failed keeps its stored rows; a fresh price series is merged with the stored one by
returns (the fresh download is the backbone, older stored history extends it backwards), so the
adjusted levels stay consistent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from data.errors import OfflineError
from data.fundamentals import filing_lag_days
from data.shares import share_counts_of
from data.stitch import Source, stitch
from data.store import (
    FX_SYMBOLS,
    PRICE_COLUMNS,
    Store,
    atomic_write_parquet,
    atomic_write_text,
    price_currency,
)
from data.traded import UnadjustedSource, traded_close
from data.universe import Universe

__all__ = ["UpdateReport", "update_store"]


@dataclass
class UpdateReport:
    succeeded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    valuations: int = 0
    statements: int = 0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        s = (
            f"updated {len(self.succeeded)} price series, {self.valuations} valuation snapshots, "
            f"{self.statements} annual statement rows"
        )
        if self.warnings:
            s += f"; {len(self.warnings)} warnings (first: {self.warnings[0]})"
        if self.failed:
            worst = "; ".join(f"{t}: {r}" for t, r in list(self.failed.items())[:5])
            more = f" (+{len(self.failed) - 5} more)" if len(self.failed) > 5 else ""
            s += f"; {len(self.failed)} failed: {worst}{more}"
        return s


def _merge(old: pd.DataFrame | None, new: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    cols = ["open", "high", "low", "close", "volume"]
    fresh = new[[c for c in cols if c in new.columns]]
    srcs = [Source("yfinance", fresh, fresh["close"].pct_change())]
    if old is not None and len(old):
        o = old.set_index("date")[cols]
        srcs.append(Source("stored", o, o["close"].pct_change()))
    return stitch(srcs)


def new_splits(ticker: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Corporate-action rows for the splits in a download (``split`` > 0 on the ex-date)."""
    if "split" not in frame.columns:
        return pd.DataFrame(columns=["ticker", "date", "factor", "kind", "note"])
    sp = frame["split"].fillna(0.0)
    sp = sp[(sp > 0) & (sp != 1.0)]
    return pd.DataFrame(
        {
            "ticker": ticker,
            "date": pd.DatetimeIndex(sp.index),
            "factor": sp.to_numpy(dtype=float),
            "kind": "stock_split",
            "note": "yfinance Stock Splits",
        }
    )


def _checked_counts(
    fresh: pd.DataFrame, stored: pd.DataFrame, report: UpdateReport
) -> pd.DataFrame:
    """A vendor count more than 25% away from the latest stored count of the name (one share
    class of a dual-class company, ordinary shares reported for an ADR) is kept but not used."""
    out = fresh.copy()
    usable = stored[stored["usable"].astype(bool)].sort_values("as_of")
    for i, r in out.iterrows():
        last = usable[usable["ticker"] == r["ticker"]]
        if not len(last):
            continue
        ratio = r["shares_millions"] / float(last["shares_millions"].iloc[-1])
        if not 0.75 <= ratio <= 1.0 / 0.75:
            out.at[i, "usable"] = False
            out.at[i, "note"] = f"NOT USED: {ratio:.2f}x the latest stored count; " + r["note"]
            report.warnings.append(f"{r['ticker']}: Yahoo share count {ratio:.2f}x the stored one")
    return out


def _unrecorded(splits: pd.DataFrame, actions: pd.DataFrame) -> pd.DataFrame:
    """The splits not yet recorded: one of the same ratio within a week of a recorded one is the
    same split (sources date an ex-date a day apart), never applied twice."""
    keep = []
    for r in splits.itertuples():
        mine = actions[actions["ticker"] == r.ticker]
        gap = (pd.to_datetime(mine["date"]) - r.date).abs()
        same_day = gap == pd.Timedelta(0)  # one ex-date is one event, whatever its ratio
        alike = (gap <= pd.Timedelta(days=7)) & np.isclose(mine["factor"], r.factor, rtol=0.02)
        keep.append(not (same_day | alike).any())
    return splits[keep] if len(splits) else splits


def merged_traded_close(
    merged: pd.DataFrame, new: pd.DataFrame, old: pd.DataFrame | None, splits: pd.DataFrame
) -> pd.DataFrame:
    """Closes as traded (and whether estimated) for a merged series: the download's unadjusted
    ``Close`` (split-adjusted as of its last date), then the stored traded closes, by the one
    rule of :mod:`data.traded`."""
    sources = []
    if "close_unadjusted" in new.columns:
        u = new["close_unadjusted"].dropna()
        if len(u):
            sources.append(UnadjustedSource("yfinance Close", u, pd.Timestamp(u.index.max())))
    if old is not None and "close_traded" in old.columns:
        o = old.set_index("date")["close_traded"].dropna()
        sources.append(UnadjustedSource("stored traded close", o, None))
    res = traded_close(merged["close"], sources, splits[["date", "factor"]])
    return res.frame[["close_traded", "estimated"]].reindex(merged.index)


def update_store(
    root: str | Path,
    universe: Universe,
    tickers: list[str] | None = None,
    *,
    start: str = "2015-01-01",
    progress: bool = False,
    provider=None,
) -> UpdateReport:
    root = Path(root)
    store = Store(root)
    if provider is None:
        from data.yfinance_provider import YFinanceProvider

        provider = YFinanceProvider()
    wanted = list(dict.fromkeys(tickers or [*universe.tickers, *FX_SYMBOLS.values()]))
    report = UpdateReport()

    bar = None
    if progress:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task("prices", total=len(wanted))
    try:
        batch = provider.download_prices(
            wanted, start, on_chunk=(lambda n: bar.advance(task, n)) if bar else None
        )
    finally:
        if bar:
            bar.stop()
    report.failed.update(batch.failures)

    prices = store.table("prices")
    manifest = dict(store.manifest())
    series_meta = {s["ticker"]: s for s in manifest.get("series", [])}
    actions = store.table("corporate_actions")
    added = [_unrecorded(new_splits(t, f), actions) for t, f in batch.frames.items()]
    if any(len(a) for a in added):
        actions = pd.concat([actions, *[a for a in added if len(a)]], ignore_index=True)
        actions = actions.sort_values(["ticker", "date"]).reset_index(drop=True)
    merged = []
    for t, frame in batch.frames.items():
        old = prices[prices["ticker"] == t]
        if len(old) and not frame.index.isin(pd.DatetimeIndex(old["date"])).any():
            # returns can only be chained across a common date: keep the stored series
            report.failed[t] = (
                f"download ({frame.index.min().date()}..) does not overlap the stored "
                f"history (..{pd.Timestamp(old['date'].max()).date()}); stored series kept"
            )
            continue
        series, info = _merge(old if len(old) else None, frame)
        s = series.reset_index()
        s.insert(1, "ticker", t)
        s["currency"] = price_currency(t, universe)
        traded = merged_traded_close(
            series, frame, old if len(old) else None, actions[actions["ticker"] == t]
        )
        s["close_traded"] = traded["close_traded"].to_numpy()
        s["traded_estimated"] = traded["estimated"].fillna(False).to_numpy(dtype=bool)
        merged.append(s)
        report.succeeded.append(t)
        series_meta[t] = {
            "ticker": t,
            "first_date": str(s["date"].iloc[0].date()),
            "last_date": str(s["date"].iloc[-1].date()),
            "rows": len(s),
            "method": "yfinance download stitched by returns onto stored history",
            **info,
        }

    # valuation snapshots for the names the screen values
    val_rows = []
    fx_now = {}
    if merged:
        latest = pd.concat(merged)
        for ccy, sym in FX_SYMBOLS.items():
            v = latest[latest["ticker"] == sym]["close"]
            fx_now[ccy] = float(v.iloc[-1]) if len(v) else float(store.fx(ccy).iloc[-1])
    valued = [t for t in wanted if t in universe.listings and universe[t].role in ("china", "us")]
    today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
    from data.yfinance_provider import info_to_valuation

    stmt_rows, measures, share_rows = [], [], []
    for t in valued if merged else []:
        try:
            info = provider.info(t)
            val_rows.append(info_to_valuation(t, info, fx_now, today))
            count = info.get("sharesOutstanding")
            if isinstance(count, (int, float)) and count > 0:
                share_rows.append(
                    {
                        "ticker": t,
                        "as_of": today,
                        "public_date": today,
                        "shares_millions": float(count) / 1e6,
                        "basis_date": today,
                        "kind": "aggregator_rounded",
                        "usable": True,
                        "source": "yfinance Ticker.info sharesOutstanding",
                        "note": "vendor count at the update (ADS for an ADR)",
                    }
                )
        except Exception as e:  # keep going: one bad name is not a failed run
            report.failed.setdefault(t, f"valuation: {type(e).__name__}: {e}")
            continue
        fin_ccy = str(info.get("financialCurrency") or universe[t].reporting_currency)
        lag = filing_lag_days(t, foreign_issuer=universe[t].role == "china")
        try:
            stmt_rows.append(provider.annual_statements(t, fin_ccy, lag))
            measures.append(provider.valuation_measures(t))
        except Exception as e:
            report.warnings.append(f"{t} statements: {type(e).__name__}: {e}")

    if not merged and not val_rows:
        raise OfflineError(
            "no data received from Yahoo Finance (offline or every request "
            "failed); the store was left untouched"
        )

    keep = prices[~prices["ticker"].isin([m["ticker"].iloc[0] for m in merged])]
    new_prices = pd.concat([keep, *merged], ignore_index=True)
    new_prices = new_prices.sort_values(["ticker", "date"]).reset_index(drop=True)
    new_prices = new_prices.reindex(columns=PRICE_COLUMNS)
    new_prices["traded_estimated"] = new_prices["traded_estimated"].fillna(False).astype(bool)
    missing = new_prices["currency"].isna()
    new_prices.loc[missing, "currency"] = [
        price_currency(t, universe) for t in new_prices.loc[missing, "ticker"]
    ]
    atomic_write_parquet(new_prices, root / "prices.parquet")
    if any(len(a) for a in added):
        atomic_write_parquet(actions, root / "corporate_actions.parquet")
    if share_rows:
        shares = share_counts_of(store)
        fresh = _checked_counts(pd.DataFrame(share_rows), shares, report)
        # a rerun on the same day replaces its own rows; every other row is kept as it was
        key = ["ticker", "as_of", "source"]
        again = shares[key].merge(fresh[key], how="left", indicator=True)["_merge"] == "both"
        shares = pd.concat([shares[~again.to_numpy()], fresh], ignore_index=True)
        atomic_write_parquet(
            shares.sort_values(["ticker", "as_of", "public_date"]).reset_index(drop=True),
            root / "shares.parquet",
        )
    if val_rows:
        vals = store.table("valuations")
        add = pd.DataFrame(val_rows)
        vals = pd.concat([vals, add], ignore_index=True).drop_duplicates(
            ["date", "ticker", "source"], keep="last"
        )
        atomic_write_parquet(
            vals.sort_values(["ticker", "date", "source"]).reset_index(drop=True),
            root / "valuations.parquet",
        )
        report.valuations = len(val_rows)
    new_stmt = [x for x in stmt_rows if len(x)]
    if new_stmt:
        # statements only fill fiscal years the store lacks: compiled, dated rows win
        fund = store.table("fundamentals")
        add = pd.concat(new_stmt, ignore_index=True)
        have = set(zip(fund["ticker"], fund["fiscal_year"], strict=True))
        add = add[
            [(t, y) not in have for t, y in zip(add["ticker"], add["fiscal_year"], strict=True)]
        ]
        if len(add):
            fund = pd.concat([fund, add.reindex(columns=fund.columns)], ignore_index=True)
            atomic_write_parquet(
                fund.sort_values(["ticker", "fiscal_year"]).reset_index(drop=True),
                root / "fundamentals.parquet",
            )
            report.statements = len(add)
    new_vm = [x for x in measures if len(x)]
    if new_vm:  # period-end multiples from Yahoo, kept for research (not as-first-reported)
        vm = pd.concat(new_vm, ignore_index=True).assign(fetched=today)
        path = root / "valuation_measures.parquet"
        if path.is_file():
            old = pd.read_parquet(path)
            vm = pd.concat([old, vm], ignore_index=True).drop_duplicates(
                ["ticker", "period", "metric"], keep="last"
            )
        atomic_write_parquet(
            vm.sort_values(["ticker", "period", "metric"]).reset_index(drop=True), path
        )
    manifest["series"] = [series_meta[k] for k in sorted(series_meta)]
    atomic_write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", root / "manifest.json")
    return report
