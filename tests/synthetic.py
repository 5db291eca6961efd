"""SYNTHETIC data for unit tests only: a tiny universe and store writer.  Nothing here is real
market data; the toolkit's real data is the embedded snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from data.shares import SHARE_COLUMNS
from data.store import Store

SYNTHETIC_UNIVERSE = """
# SYNTHETIC universe for unit tests only
version = 1
pairs = [["CNA", "USA"]]
[segments]
cloud = "Cloud"
software = "Software"
[tilt]
cloud = 1.25
software = 1.0
[china.CNA]
name = "Synthetic China ADR"
venue = "NYSE"
currency = "USD"
reporting_currency = "CNY"
segment = "cloud"
ads_ratio = 8
cross_listing = "9001.HK"
[china."9001.HK"]
name = "Synthetic China HK line"
venue = "HKEX"
currency = "HKD"
reporting_currency = "CNY"
segment = "cloud"
cross_listing = "CNA"
[china.CNB]
name = "Synthetic loss-maker"
venue = "NASDAQ"
currency = "USD"
reporting_currency = "USD"
segment = "cloud"
[china.CNS]
name = "Synthetic software"
venue = "NASDAQ"
currency = "USD"
reporting_currency = "USD"
segment = "software"
[us.USA]
name = "Synthetic US 1"
venue = "NASDAQ"
currency = "USD"
segment = "cloud"
[us.USB]
name = "Synthetic US 2"
venue = "NASDAQ"
currency = "USD"
segment = "cloud"
[us.USC]
name = "Synthetic US 3"
venue = "NYSE"
currency = "USD"
segment = "cloud"
[us.USS]
name = "Synthetic US software"
venue = "NYSE"
currency = "USD"
segment = "software"
[us.UST]
name = "Synthetic US software 2"
venue = "NYSE"
currency = "USD"
segment = "software"
[benchmarks.BMK]
name = "Synthetic benchmark"
venue = "NYSEARCA"
currency = "USD"
"""

FUND_COLS = [
    "ticker",
    "fiscal_year",
    "period_end",
    "reported_date",
    "currency",
    "revenue",
    "net_income",
    "diluted_eps",
    "eps_unit",
    "diluted_shares",
    "source",
    "public_date",
    "public_date_basis",
    "shares_derived",
]
VAL_COLS = [
    "date",
    "ticker",
    "source",
    "price",
    "market_cap",
    "sales",
    "sales_basis",
    "net_income",
    "debt",
    "cash",
    "eps_ttm",
    "eps_fwd",
    "ebitda",
    "currency",
]


def fund_row(
    ticker,
    fy,
    public,
    *,
    currency="USD",
    revenue=np.nan,
    net_income=np.nan,
    eps=np.nan,
    shares=np.nan,
):
    end = pd.Timestamp(f"{fy}-12-31")
    return {
        "ticker": ticker,
        "fiscal_year": fy,
        "period_end": end,
        "reported_date": pd.NaT,
        "currency": currency,
        "revenue": revenue,
        "net_income": net_income,
        "diluted_eps": eps,
        "eps_unit": "share",
        "diluted_shares": shares,
        "source": "synthetic",
        "public_date": pd.Timestamp(public),
        "public_date_basis": "synthetic",
        "shares_derived": False,
    }


def share_row(ticker, as_of, public, shares, *, kind="weighted_diluted", usable=True, basis=None):
    """One SYNTHETIC share count (millions of listed units) on the basis of ``basis`` (default:
    its public date)."""
    return {
        "ticker": ticker,
        "as_of": pd.Timestamp(as_of),
        "public_date": pd.Timestamp(public),
        "shares_millions": float(shares),
        "basis_date": pd.Timestamp(basis or public),
        "kind": kind,
        "usable": usable,
        "source": "synthetic",
        "note": "synthetic",
    }


def _currency(ticker: str) -> str:
    """The unit a real store gives a ticker's prices (see data.store.price_currency)."""
    fx = {"CNY=X": "CNY per USD", "HKD=X": "HKD per USD"}
    if ticker in fx:
        return fx[ticker]
    return "HKD" if ticker.endswith(".HK") else "CNY" if ticker.endswith((".SS", ".SZ")) else "USD"


def write_store(
    root: Path,
    prices: dict[str, pd.Series],
    fundamentals: list[dict] | None = None,
    valuations: list[dict] | None = None,
    actions: list[dict] | None = None,
    shares: list[dict] | None = None,
    traded: dict[str, pd.Series] | None = None,
) -> Store:
    """Write a SYNTHETIC store (same layout as the embedded snapshot) and open it.

    Share counts: every fundamentals row with ``diluted_shares`` gives a weighted-diluted count
    (as the snapshot build does), plus ``shares`` rows (see :func:`share_row`).  Traded closes
    equal the closes (no dividends) unless ``traded`` gives a series."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for t, s in prices.items():
        s = s.dropna()
        rows.append(
            pd.DataFrame(
                {
                    "date": s.index,
                    "ticker": t,
                    "open": np.nan,
                    "high": np.nan,
                    "low": np.nan,
                    "close": s.to_numpy(dtype=float),
                    "volume": np.nan,
                    "currency": _currency(t),
                    "close_traded": (traded or {}).get(t, s).reindex(s.index).to_numpy(float),
                    "traded_estimated": False,
                }
            )
        )
    pd.concat(rows, ignore_index=True).to_parquet(root / "prices.parquet", index=False)
    pd.DataFrame(fundamentals or [], columns=FUND_COLS).to_parquet(
        root / "fundamentals.parquet", index=False
    )
    pd.DataFrame(valuations or [], columns=VAL_COLS).to_parquet(
        root / "valuations.parquet", index=False
    )
    pd.DataFrame(actions or [], columns=["ticker", "date", "factor", "kind", "note"]).to_parquet(
        root / "corporate_actions.parquet", index=False
    )
    from_fund = [
        share_row(r["ticker"], r["period_end"], r["public_date"], r["diluted_shares"])
        for r in fundamentals or []
        if pd.notna(r.get("diluted_shares"))
    ]
    sh = pd.DataFrame([*from_fund, *(shares or [])], columns=SHARE_COLUMNS)
    for c in ("as_of", "public_date", "basis_date"):
        sh[c] = pd.to_datetime(sh[c])
    sh["usable"] = sh["usable"].astype(bool)
    sh.to_parquet(root / "shares.parquet", index=False)
    pd.DataFrame(columns=["ticker"]).to_parquet(root / "sec_facts.parquet", index=False)
    (root / "manifest.json").write_text(
        json.dumps({"description": "SYNTHETIC test store", "series": []})
    )
    return Store(root)


def bdays(start="2024-01-01", end="2024-12-31") -> pd.DatetimeIndex:
    return pd.bdate_range(start, end, name="date")


def edited_copy(src, dst, edits, *, legacy: bool = False):
    """A copy of the store at ``src`` in ``dst`` with some tables edited: ``edits`` maps a table
    name to a function of its frame (``None`` drops the table).  The copy is committed like an
    update commits (checksums in its manifest; the tables not edited are copied file for file,
    as their manifest entries say), or, with ``legacy``, written as a store of the layout
    before checksums (plain ``<name>.parquet`` files, no ``files`` in the manifest)."""
    import json
    import shutil
    from pathlib import Path

    from data.commit import commit_tables
    from data.store import Store

    src_store, dst = Store(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    manifest = {k: v for k, v in src_store.manifest().items() if k != "files"}
    entries = src_store.manifest().get("files", {})
    names = list(entries) or [p.stem for p in Path(src).glob("*.parquet")]
    if entries and not legacy:
        kept = {name: entry for name, entry in entries.items() if name not in edits}
        for entry in kept.values():
            if not (dst / entry["file"]).exists():  # (the copy may be the store itself)
                shutil.copyfile(Path(src) / entry["file"], dst / entry["file"])
        manifest["files"] = kept
        names = [name for name in names if name in edits]
    tables = {}
    for name in names:
        fn = edits.get(name, lambda d: d)
        out = None if fn is None else fn(src_store.table(name))
        if out is not None:
            tables[name] = out
    if legacy:
        for name, df in tables.items():
            df.to_parquet(dst / f"{name}.parquet", index=False)
        (dst / "manifest.json").write_text(json.dumps(manifest))
    else:
        commit_tables(dst, tables, manifest)
    return dst
