"""``aigap data update``: refresh a user store from the live provider, safely.

Nothing is written unless something was received.  The run holds the store's lock and writes a
new version of it in one commit (:mod:`data.commit`): killed at any moment, the store is the old
version or the new one.  A ticker whose download failed keeps its stored rows; a fresh price
series is merged with the stored one by returns (the fresh download is the backbone, older stored
history extends it backwards), so the adjusted levels stay consistent.  A stored table found
corrupted is rebuilt from the embedded snapshot's copy and updated on top of it.

Splits and dividends in the download are stored (``corporate_actions`` and ``dividends``);
annual statements fill fiscal years the store lacks and, for years it has, the figures its rows
lack, each in a row of its own (source and public date kept per figure); per-share figures of
ADRs are checked for units (per ADS or per ordinary share) before they are written.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from data.commit import commit_tables, store_lock
from data.errors import CorruptFileError, DataError, OfflineError
from data.fundamentals import filing_lag_days
from data.provider import Provider
from data.shares import SHARE_COLUMNS
from data.stitch import Source, stitch
from data.store import (
    EMBEDDED,
    FX_SYMBOLS,
    PRICE_COLUMNS,
    TABLES,
    Store,
    price_currency,
    seed_store,
    unseed_store,
)
from data.traded import UnadjustedSource, traded_close
from data.universe import Universe

__all__ = ["UpdateReport", "adr_units", "statement_additions", "update_store"]

#: a progress display: ``progress(label, total)`` is a context manager yielding the function
#: to call with the number of steps done (the CLI passes a terminal progress bar)
Progress = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]
#: tables an update may add to a store besides :data:`data.store.TABLES`
OPTIONAL_TABLES = ("dividends", "valuation_measures")
DIVIDEND_COLUMNS = ["ticker", "date", "amount", "currency", "source"]
#: the per-figure columns an annual statement row can fill
STATEMENT_FIELDS = ("revenue", "net_income", "diluted_eps", "diluted_shares")
#: how far a Yahoo count may be from the stored ADS count (or ADS x ratio) to tell its unit
UNIT_TOLERANCE = 0.2


@dataclass
class UpdateReport:
    succeeded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    valuations: int = 0
    statements: int = 0
    warnings: list[str] = field(default_factory=list)
    partial: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        s = (
            f"updated {len(self.succeeded)} price series, {self.valuations} valuation snapshots, "
            f"{self.statements} annual statement rows"
        )
        if self.partial:
            s += f"; {len(self.partial)} partial (kept): " + "; ".join(
                f"{t}: {r}" for t, r in list(self.partial.items())[:3]
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


def new_dividends(ticker: str, frame: pd.DataFrame, currency: str) -> pd.DataFrame:
    """Dividend rows (cash per share in the listing currency, on the ex-date) of a download."""
    if "dividend" not in frame.columns:
        return pd.DataFrame(columns=DIVIDEND_COLUMNS)
    d = frame["dividend"].fillna(0.0)
    d = d[d > 0]
    return pd.DataFrame(
        {
            "ticker": ticker,
            "date": pd.DatetimeIndex(d.index),
            "amount": d.to_numpy(dtype=float),
            "currency": currency,
            "source": "yfinance Dividends",
        },
        columns=DIVIDEND_COLUMNS,
    )


def _base_tables(store: Store, report: UpdateReport) -> tuple[dict[str, pd.DataFrame], set]:
    """Every table of the store; one found corrupted is replaced by the embedded snapshot's
    copy (and marked to be written), or dropped when it is an optional table."""
    tables, rebuilt = {}, set()
    for name in (*TABLES, *OPTIONAL_TABLES):
        if not store.has_table(name):
            continue
        try:
            tables[name] = store.table(name)
        except CorruptFileError as e:
            embedded = Store(EMBEDDED)
            if not embedded.has_table(name):
                report.warnings.append(f"{e.path} was corrupted and is dropped")
                rebuilt.add(name)
                continue
            tables[name] = embedded.table(name)
            rebuilt.add(name)
            report.warnings.append(
                f"{e.path} was corrupted: rebuilt from the embedded snapshot, then updated"
            )
    missing = [t for t in TABLES if t not in tables]
    if missing:
        raise DataError(f"data store {store.root} lacks the table(s) {', '.join(missing)}")
    return tables, rebuilt


def _download(provider, wanted: list[str], start: str, progress: Progress | None):
    if progress is None:
        return provider.download_prices(wanted, start)
    with progress("prices", len(wanted)) as advance:
        return provider.download_prices(wanted, start, on_chunk=advance)


def _merged_series(
    t: str, frame: pd.DataFrame, old: pd.DataFrame, actions: pd.DataFrame, universe: Universe
) -> tuple[pd.DataFrame, dict]:
    series, info = _merge(old if len(old) else None, frame)
    s = series.reset_index()
    s.insert(1, "ticker", t)
    s["currency"] = price_currency(t, universe)
    traded = merged_traded_close(
        series, frame, old if len(old) else None, actions[actions["ticker"] == t]
    )
    s["close_traded"] = traded["close_traded"].to_numpy()
    s["traded_estimated"] = traded["estimated"].fillna(False).to_numpy(dtype=bool)
    meta = {
        "ticker": t,
        "first_date": str(s["date"].iloc[0].date()),
        "last_date": str(s["date"].iloc[-1].date()),
        "rows": len(s),
        "method": "yfinance download stitched by returns onto stored history",
        **info,
    }
    return s, meta


def _price_tables(
    tables: dict[str, pd.DataFrame], batch, universe: Universe, report: UpdateReport
) -> tuple[dict[str, pd.DataFrame], dict[str, dict]]:
    """The new ``prices``, ``corporate_actions`` and ``dividends`` tables (only those that
    change) and the manifest entries of the series merged."""
    prices = tables["prices"]
    actions = tables["corporate_actions"]
    out: dict[str, pd.DataFrame] = {}
    added = [_unrecorded(new_splits(t, f), actions) for t, f in batch.frames.items()]
    if any(len(a) for a in added):
        actions = pd.concat([actions, *[a for a in added if len(a)]], ignore_index=True)
        out["corporate_actions"] = actions.sort_values(
            ["ticker", "date"], kind="mergesort"
        ).reset_index(drop=True)
    divs = [new_dividends(t, f, price_currency(t, universe)) for t, f in batch.frames.items()]
    if any(len(d) for d in divs):
        old = tables.get("dividends", pd.DataFrame(columns=DIVIDEND_COLUMNS))
        d = pd.concat([old, *[x for x in divs if len(x)]], ignore_index=True)
        d = d.drop_duplicates(["ticker", "date"], keep="last")
        out["dividends"] = d.sort_values(["ticker", "date"], kind="mergesort").reset_index(
            drop=True
        )
    merged, meta = [], {}
    for t, frame in batch.frames.items():
        old = prices[prices["ticker"] == t]
        if len(old) and not frame.index.isin(pd.DatetimeIndex(old["date"])).any():
            # returns can only be chained across a common date: keep the stored series
            report.failed[t] = (
                f"download ({frame.index.min().date()}..) does not overlap the stored "
                f"history (..{pd.Timestamp(old['date'].max()).date()}); stored series kept"
            )
            continue
        s, meta[t] = _merged_series(t, frame, old, actions, universe)
        merged.append(s)
        report.succeeded.append(t)
    if merged:
        keep = prices[~prices["ticker"].isin(list(meta))]
        new = pd.concat([keep, *merged], ignore_index=True)
        new = new.sort_values(["ticker", "date"], kind="mergesort").reset_index(drop=True)
        new = new.reindex(columns=PRICE_COLUMNS)
        new["traded_estimated"] = new["traded_estimated"].fillna(False).astype(bool)
        missing = new["currency"].isna()
        new.loc[missing, "currency"] = [
            price_currency(t, universe) for t in new.loc[missing, "ticker"]
        ]
        out["prices"] = new
    return out, meta


@dataclass
class LiveRows:
    """What ``Ticker`` calls returned, in the store's layouts."""

    valuations: list[dict] = field(default_factory=list)
    shares: list[dict] = field(default_factory=list)
    statements: list[pd.DataFrame] = field(default_factory=list)
    measures: list[pd.DataFrame] = field(default_factory=list)


def _fx_now(tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    px = tables["prices"]
    out = {}
    for ccy, sym in FX_SYMBOLS.items():
        v = px[px["ticker"] == sym].sort_values("date")["close"].dropna()
        if len(v):
            out[ccy] = float(v.iloc[-1])
    return out


def _vendor_count(t: str, info: dict, today: pd.Timestamp) -> dict | None:
    count = info.get("sharesOutstanding")
    if not isinstance(count, (int, float)) or count <= 0:
        return None
    return {
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


def _live_rows(
    provider,
    universe: Universe,
    valued: list[str],
    fx_now: dict[str, float],
    today: pd.Timestamp,
    report: UpdateReport,
) -> LiveRows:
    from data.yfinance_provider import info_to_valuation

    live = LiveRows()
    for t in valued:
        try:
            info = provider.info(t)
            live.valuations.append(info_to_valuation(t, info, fx_now, today))
        except Exception as e:  # keep going: one bad name is not a failed run
            report.failed.setdefault(t, f"valuation: {type(e).__name__}: {e}")
            continue
        count = _vendor_count(t, info, today)
        if count:
            live.shares.append(count)
        fin_ccy = str(info.get("financialCurrency") or universe[t].reporting_currency)
        lag = filing_lag_days(t, foreign_issuer=universe[t].role == "china")
        try:
            live.statements.append(provider.annual_statements(t, fin_ccy, lag))
            live.measures.append(provider.valuation_measures(t))
        except Exception as e:
            report.warnings.append(f"{t} statements: {type(e).__name__}: {e}")
    return live


def adr_units(
    row: pd.Series, ads_ratio: float | None, stored_ads_millions: float | None
) -> tuple[pd.Series, str]:
    """A Yahoo statement row with its per-share figures on the listed unit.

    For an ADR, Yahoo's diluted shares and EPS may be per ordinary share or per ADS.  The count
    is compared with the stored ADS count nearest the period: near it, the row is per ADS; near
    it times the ADS ratio, per ordinary share (converted: shares / ratio, EPS x ratio);
    otherwise, or with no count on either side, the unit cannot be told and both per-share
    figures are dropped.  EPS that disagrees with net income / shares by more than the
    tolerance is dropped too."""
    row = row.copy()
    if ads_ratio is None:
        return row, "listed unit"
    shares = float(row["diluted_shares"])
    if not np.isfinite(shares):
        row[["diluted_shares", "diluted_eps"]] = np.nan
        return row, "ADR units unknown (Yahoo gave no share count): per-share figures dropped"
    if not stored_ads_millions:
        row[["diluted_shares", "diluted_eps"]] = np.nan
        return row, "ADR units unknown (no stored ADS count): per-share figures dropped"
    q = shares / stored_ads_millions
    if abs(q / ads_ratio - 1) <= UNIT_TOLERANCE:
        row["diluted_shares"] = shares / ads_ratio
        row["diluted_eps"] = float(row["diluted_eps"]) * ads_ratio
        note = f"per ADS (Yahoo per ordinary share, x{ads_ratio:g})"
    elif abs(q - 1) <= UNIT_TOLERANCE:
        note = "per ADS (as given)"
    else:
        row[["diluted_shares", "diluted_eps"]] = np.nan
        return row, f"ADR units unclear ({q:.2f}x the stored ADS count): per-share dropped"
    implied = float(row["net_income"]) / float(row["diluted_shares"])
    eps = float(row["diluted_eps"])
    if np.isfinite(eps) and np.isfinite(implied) and implied != 0:
        if abs(eps / implied - 1) > UNIT_TOLERANCE:
            row["diluted_eps"] = np.nan
            note += f"; EPS dropped ({eps:g} vs net income / shares {implied:g})"
    return row, note


def _ads_count_near(shares: pd.DataFrame, ticker: str, when: pd.Timestamp) -> float | None:
    """The stored usable count of ``ticker`` nearest in time to ``when`` (a fiscal year's end):
    a count from years later would misjudge the unit of a company that issued or bought back
    shares since."""
    mine = shares[(shares["ticker"] == ticker) & shares["usable"].astype(bool)]
    if not len(mine):
        return None
    gap = (pd.to_datetime(mine["as_of"]) - when).abs()
    return float(mine["shares_millions"].to_numpy()[int(np.argmin(gap.to_numpy()))])


def statement_additions(
    fund: pd.DataFrame,
    yahoo: pd.DataFrame,
    universe: Universe,
    shares: pd.DataFrame,
    report: UpdateReport,
) -> pd.DataFrame:
    """Rows to add to the fundamentals table from Yahoo's annual statements.

    A fiscal year the store lacks (among its annual rows) gets the whole row.  A fiscal year it
    has gets a row holding only the figures none of its rows has (the others blank), with Yahoo
    as its source and its own public date, so every figure keeps where and when it came from;
    the compiled rows are never overwritten (Yahoo rows rank below them).  A filled EPS is used
    only with a net income of the same row (the earnings block is one row).  ADR per-share
    figures go through :func:`adr_units` first."""
    out = []
    for _, r in yahoo.iterrows():
        t = str(r["ticker"])
        listing = universe.listings.get(t)
        ref = _ads_count_near(shares, t, pd.Timestamp(r["period_end"]))
        r, unit = adr_units(r, listing.ads_ratio if listing else None, ref)
        if unit.startswith("ADR units"):
            report.warnings.append(f"{t} FY{int(r['fiscal_year'])}: {unit}")
        r["eps_unit"] = unit
        have = fund[(fund["ticker"] == t) & (fund["fiscal_year"] == r["fiscal_year"])]
        if "basis" in have:  # trailing-twelve-month rows are not the annual record
            have = have[have["basis"].fillna("annual") == "annual"]
        if not len(have):
            out.append(r)
            continue
        lacking = [
            f for f in STATEMENT_FIELDS if have[f].isna().all() and pd.notna(r.get(f, np.nan))
        ]
        if lacking:
            fill = r.copy()
            fill[[f for f in STATEMENT_FIELDS if f not in lacking]] = np.nan
            fill["source"] = f"{r['source']} (fills {', '.join(lacking)})"
            out.append(fill)
    if not out:
        return pd.DataFrame(columns=fund.columns)
    add = pd.DataFrame(out).reindex(columns=fund.columns)
    if "source_rank" in add:  # ties go to the highest rank (data.asof.latest_public): lowest
        low = int(fund["source_rank"].min()) if len(fund) else 0
        add["source_rank"] = low - 1  # the least preferred source of a period
    if "basis" in add:
        add["basis"] = "annual"
    if "shares_derived" in add:
        add["shares_derived"] = False
    return add


def _live_tables(
    tables: dict[str, pd.DataFrame],
    live: LiveRows,
    universe: Universe,
    today: pd.Timestamp,
    report: UpdateReport,
) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    shares = tables["shares"]  # a TABLES entry: _base_tables has it or has raised
    if live.shares:
        fresh = _checked_counts(pd.DataFrame(live.shares), shares, report)
        # a rerun on the same day replaces its own rows; every other row is kept as it was
        key = ["ticker", "as_of", "source"]
        again = shares[key].merge(fresh[key], how="left", indicator=True)["_merge"] == "both"
        sh = pd.concat([shares[~again.to_numpy()], fresh], ignore_index=True)
        out["shares"] = (
            sh.reindex(columns=SHARE_COLUMNS)
            .sort_values(["ticker", "as_of", "public_date"], kind="mergesort")
            .reset_index(drop=True)
        )
    if live.valuations:
        vals = pd.concat([tables["valuations"], pd.DataFrame(live.valuations)], ignore_index=True)
        vals = vals.drop_duplicates(["date", "ticker", "source"], keep="last")
        out["valuations"] = vals.sort_values(
            ["ticker", "date", "source"], kind="mergesort"
        ).reset_index(drop=True)
        report.valuations = len(live.valuations)
    stmts = [x for x in live.statements if len(x)]
    if stmts:
        fund = tables["fundamentals"]
        add = statement_additions(
            fund, pd.concat(stmts, ignore_index=True), universe, shares, report
        )
        if len(add):
            fund = pd.concat([fund, add], ignore_index=True)
            out["fundamentals"] = fund.sort_values(
                ["ticker", "fiscal_year"], kind="mergesort"
            ).reset_index(drop=True)
            report.statements = len(add)
    vms = [x for x in live.measures if len(x)]
    if vms:  # period-end multiples from Yahoo, kept for research (not as-first-reported)
        vm = pd.concat(vms, ignore_index=True).assign(fetched=today)
        if "valuation_measures" in tables:
            vm = pd.concat([tables["valuation_measures"], vm], ignore_index=True)
            vm = vm.drop_duplicates(["ticker", "period", "metric"], keep="last")
        out["valuation_measures"] = vm.sort_values(
            ["ticker", "period", "metric"], kind="mergesort"
        ).reset_index(drop=True)
    return out


def update_store(
    root: str | Path,
    universe: Universe,
    tickers: list[str] | None = None,
    *,
    start: str = "2015-01-01",
    progress: Progress | None = None,
    provider: Provider | None = None,
    seed: bool = True,
) -> UpdateReport:
    """Refresh the store at ``root`` from ``provider`` (default: Yahoo Finance) and commit the
    new version; raises :class:`OfflineError` (store untouched) when nothing was received and
    :class:`StoreLockedError` when another update holds the store.  A new folder is first made
    a copy of the embedded snapshot (``seed``), under the same lock."""
    root = Path(root)
    with store_lock(root):
        seeded = seed_store(root) if seed else False
        try:
            return _update_locked(root, universe, tickers, start, progress, provider)
        except OfflineError:
            if seeded:  # nothing received: no copy left behind that looks updated
                unseed_store(root)
            raise


def _update_locked(
    root: Path, universe: Universe, tickers, start: str, progress: Progress | None, provider
) -> UpdateReport:
    store = Store(root)
    if provider is None:
        from data.yfinance_provider import YFinanceProvider

        provider = YFinanceProvider()
    wanted = list(dict.fromkeys(tickers or [*universe.tickers, *FX_SYMBOLS.values()]))
    report = UpdateReport()
    tables, rebuilt = _base_tables(store, report)
    batch = _download(provider, wanted, start, progress)
    report.failed.update(batch.failures)
    report.partial.update(getattr(batch, "partial", {}))
    changed, meta = _price_tables(tables, batch, universe, report)
    tables.update(changed)
    today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()  # the fetch date
    valued = [t for t in wanted if t in universe.listings and universe[t].role != "benchmark"]
    live = (
        _live_rows(provider, universe, valued, _fx_now(tables), today, report)
        if meta
        else LiveRows()
    )
    if not meta and not live.valuations:
        raise OfflineError(
            "no data received from Yahoo Finance (offline or every request "
            "failed); the store was left untouched",
            tickers=wanted,
        )
    changed.update(_live_tables(tables, live, universe, today, report))
    changed.update({n: tables[n] for n in rebuilt if n in tables and n not in changed})
    manifest = dict(store.manifest())
    manifest["files"] = {  # a corrupted optional table with no embedded copy is dropped
        k: v for k, v in manifest.get("files", {}).items() if k in tables or k in changed
    }
    series = {s["ticker"]: s for s in manifest.get("series", [])} | meta
    manifest["series"] = [series[k] for k in sorted(series)]
    commit_tables(root, changed, manifest)
    return report
