"""Point-in-time valuation inputs: what was known about each name on each date.

:func:`valuation_panel` returns one row per (date, ticker) with the inputs of the valuation
multiples in USD, built only from data public on that date:

* prices up to the date (the last close on or before it, and the date of that close);
* FX as of the date (the last rate on or before it; a rate carried forward is flagged);
* a valuation snapshot recorded on or before the date and at most ``max_snapshot_age_days`` old
  (Nasdaq or yfinance ``Ticker.info``; already in USD), rolled forward to the date's close
  (market cap x close on the date / close on the snapshot date); otherwise
* the latest annual fundamentals whose ``public_date`` is on or before the date (reported date,
  else a conservative lag applied when the snapshot was built), priced at the date's close.  A
  figure is used until ``max_fundamentals_age_days`` after its fiscal year end (default 500: the
  next annual report is due by then), and a figure older than ``stale_fundamentals_days`` is
  flagged.

Share counts and per-share figures are restated to the share basis of the adjusted prices with the
corporate actions after their public date: ``adjusted price x restated shares`` equals the market
value on that date, so this is a change of units, not look-ahead.

Output columns (money in USD): ``price_usd price_date market_cap ev sales sales_basis net_income
eps_ttm eps_fwd ebitda revenue_growth_pct valuation_source fundamentals_period_end
fundamentals_public_date fx_date flags``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from data.errors import NoDataError
from data.store import FX_SYMBOLS, Store
from data.universe import Universe

__all__ = ["PanelConfig", "restated_fundamentals", "valuation_panel"]


class PanelConfig:
    """Tolerances of the point-in-time assembly (days)."""

    def __init__(
        self,
        *,
        max_price_age_days: int = 7,
        max_snapshot_age_days: int = 14,
        max_fundamentals_age_days: int = 500,
        stale_fundamentals_days: int = 456,
        fx_carry_flag_days: int = 5,
    ) -> None:
        self.max_price_age_days = max_price_age_days
        self.max_snapshot_age_days = max_snapshot_age_days
        self.max_fundamentals_age_days = max_fundamentals_age_days
        self.stale_fundamentals_days = stale_fundamentals_days
        self.fx_carry_flag_days = fx_carry_flag_days


_NONE = np.array(None, dtype=object)


def _dt(values) -> pd.Series:
    """Datetimes at one resolution (pandas 3 keeps s/ms/us/ns apart; merge_asof needs one)."""
    return pd.to_datetime(values).astype("datetime64[us]")


def _asof_wide(wide: pd.DataFrame, dates: pd.DatetimeIndex) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Last value on or before each date, and the date of that value."""
    idx = wide.index.union(dates)
    obs_date = pd.DataFrame(
        np.where(wide.notna(), wide.index.to_numpy()[:, None], np.datetime64("NaT")),
        index=wide.index,
        columns=wide.columns,
    ).astype("datetime64[us]")
    val = wide.reindex(idx).ffill().reindex(dates)
    when = obs_date.reindex(idx).ffill().reindex(dates)
    return val, when


def restated_fundamentals(store: Store, universe: Universe) -> pd.DataFrame:
    """Annual fundamentals with ``shares_adj`` and ``eps_adj`` on today's share basis, revenue
    growth, and rows derived for HK lines of ADR companies (ADS ratio from the universe)."""
    f = store.table("fundamentals").copy()
    for c in ("period_end", "public_date"):
        f[c] = _dt(f[c])
    f["ticker"] = f["ticker"].astype("str")
    ca = store.table("corporate_actions").assign(date=lambda d: _dt(d["date"]))
    f["factor"] = 1.0
    for r in ca.itertuples():
        m = (f["ticker"] == r.ticker) & (f["public_date"] < r.date)
        f.loc[m, "factor"] *= r.factor
    f["shares_adj"] = f["diluted_shares"] * f["factor"]
    f["eps_adj"] = f["diluted_eps"] / f["factor"]
    prev = f[["ticker", "fiscal_year", "revenue"]].assign(fiscal_year=f["fiscal_year"] + 1)
    f = f.merge(
        prev.rename(columns={"revenue": "revenue_prev"}), on=["ticker", "fiscal_year"], how="left"
    )
    f["revenue_growth_pct"] = (f["revenue"] / f["revenue_prev"] - 1.0) * 100.0
    f.loc[~(f["revenue_prev"] > 0), "revenue_growth_pct"] = np.nan
    derived = []
    have = set(f["ticker"])
    for t in universe.china:
        x = universe[t]
        adr = universe.listings.get(x.cross_listing or "")
        if t in have or adr is None or adr.ads_ratio is None or adr.ticker not in have:
            continue
        d = f[f["ticker"] == adr.ticker].copy()
        d["ticker"] = t
        d["shares_adj"] *= adr.ads_ratio
        d["eps_adj"] /= adr.ads_ratio
        d["source"] = f"derived from {adr.ticker} at {adr.ads_ratio:g} shares per ADS"
        derived.append(d)
    if derived:
        f = pd.concat([f, *derived], ignore_index=True)
    return f.sort_values(["ticker", "public_date", "fiscal_year"]).reset_index(drop=True)


def _asof_field(grid: pd.DataFrame, f: pd.DataFrame, cols: list[str], key: str) -> pd.DataFrame:
    """Latest row per ticker with ``key`` present and public on or before each grid date."""
    rows = f.dropna(subset=[key])[["ticker", "public_date", "period_end", *cols]]
    rows = rows.rename(columns={"public_date": f"{key}_public", "period_end": f"{key}_period_end"})
    rows = rows.sort_values(f"{key}_public")
    out = pd.merge_asof(
        grid.sort_values("date", kind="stable"),
        rows,
        left_on="date",
        right_on=f"{key}_public",
        by="ticker",
        direction="backward",
    )
    return out.set_index(["date", "ticker"])[[f"{key}_public", f"{key}_period_end", *cols]]


def valuation_panel(
    store: Store,
    universe: Universe,
    dates_in: Iterable,
    tickers: list[str] | None = None,
    config: PanelConfig | None = None,
) -> pd.DataFrame:
    """Point-in-time valuation inputs for ``tickers`` (default: Chinese names and US peers)."""
    cfg = config or PanelConfig()
    dates = pd.DatetimeIndex(_dt(list(dates_in))).normalize().unique().sort_values()
    tickers = tickers or [*universe.china, *universe.us]
    close = store.close(tickers, strict=False)
    if close.empty or dates.min() < close.index.min():
        first = close.index.min().date() if not close.empty else "never"
        raise NoDataError(
            f"as-of date {dates.min().date()} is before any price data (first price {first})"
        )
    grid = pd.MultiIndex.from_product([dates, tickers], names=["date", "ticker"])
    out = pd.DataFrame(index=grid)
    px, pdate = _asof_wide(close.reindex(columns=tickers), dates)
    out["price_local"] = px.stack(future_stack=True).reindex(grid)
    out["price_date"] = pdate.stack(future_stack=True).reindex(grid)

    # FX as of each date for the listing and reporting currencies
    fx_rate: dict[str, pd.Series] = {}
    fx_when: dict[str, pd.Series] = {}
    for ccy, sym in {"USD": None, **FX_SYMBOLS}.items():
        if sym is None:
            fx_rate[ccy] = pd.Series(1.0, index=dates)
            fx_when[ccy] = pd.Series(dates, index=dates)
            continue
        s = store.fx(ccy).to_frame()
        v, w = _asof_wide(s, dates)
        fx_rate[ccy], fx_when[ccy] = v.iloc[:, 0], w.iloc[:, 0]
    date_level = out.index.get_level_values("date")
    list_ccy = pd.Series(
        [universe[t].currency for t in out.index.get_level_values("ticker")], index=out.index
    )

    def rate(ccy: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        r = np.full(len(out), np.nan)
        w = np.full(len(out), np.datetime64("NaT"), dtype="datetime64[us]")
        for c in ccy.dropna().unique():
            m = (ccy == c).to_numpy()
            if c not in fx_rate:
                continue
            r[m] = fx_rate[c].reindex(date_level[m]).to_numpy()
            w[m] = fx_when[c].reindex(date_level[m]).to_numpy()
        return r, w

    fx_list, fx_list_date = rate(list_ccy)
    out["price_usd"] = out["price_local"] / fx_list
    price_age = (date_level - pd.DatetimeIndex(out["price_date"])).days
    fresh_price = np.asarray(price_age <= cfg.max_price_age_days)

    # annual fundamentals, field by field (latest public figure of each)
    f = restated_fundamentals(store, universe)
    g = out.index.to_frame(index=False)
    g["ticker"] = g["ticker"].astype("str")
    g["date"] = _dt(g["date"])
    rev = _asof_field(g, f, ["revenue", "revenue_growth_pct", "currency"], "revenue")
    ni = _asof_field(g, f, ["net_income", "currency"], "net_income")
    eps = _asof_field(g, f, ["eps_adj", "currency"], "eps_adj")
    sh = _asof_field(g, f, ["shares_adj"], "shares_adj")
    so = store.table("shares_outstanding")
    if len(so):
        so = so.copy()
        so["date"] = _dt(so["date"])
        so["ticker"] = so["ticker"].astype("str")
        ca = store.table("corporate_actions").assign(date=lambda d: _dt(d["date"]))
        so["shares_adj"] = so["shares_millions"]
        for r in ca.itertuples():
            so.loc[(so["ticker"] == r.ticker) & (so["date"] < r.date), "shares_adj"] *= r.factor
        so = so.rename(columns={"date": "so_date"})[["ticker", "so_date", "shares_adj"]]
        so_asof = pd.merge_asof(
            g.sort_values("date", kind="stable"),
            so.sort_values("so_date"),
            left_on="date",
            right_on="so_date",
            by="ticker",
            direction="backward",
        ).set_index(["date", "ticker"])
        newer = so_asof["so_date"].reindex(out.index) > sh["shares_adj_public"].reindex(out.index)
        newer |= (
            sh["shares_adj"].reindex(out.index).isna()
            & so_asof["shares_adj"].reindex(out.index).notna()
        )
        sh = sh.reindex(out.index)
        sh.loc[newer, "shares_adj"] = so_asof["shares_adj"].reindex(out.index)[newer]
        sh.loc[newer, "shares_adj_period_end"] = so_asof["so_date"].reindex(out.index)[newer]
    limit = pd.Timedelta(days=cfg.max_fundamentals_age_days)

    def fresh(frame: pd.DataFrame, key: str) -> pd.Series:
        pe = _dt(frame[f"{key}_period_end"].reindex(out.index))
        return (date_level - pd.DatetimeIndex(pe)) <= limit

    r_ok, n_ok, e_ok, s_ok = (
        fresh(rev, "revenue"),
        fresh(ni, "net_income"),
        fresh(eps, "eps_adj"),
        fresh(sh, "shares_adj"),
    )
    rev_fx, rev_fx_date = rate(rev["currency"].reindex(out.index))
    ni_fx, _ = rate(ni["currency"].reindex(out.index))
    eps_fx, _ = rate(eps["currency"].reindex(out.index))
    a_sales = (rev["revenue"].reindex(out.index) * 1e6 / rev_fx).where(r_ok)
    a_ni = (ni["net_income"].reindex(out.index) * 1e6 / ni_fx).where(n_ok)
    a_eps = (eps["eps_adj"].reindex(out.index) / eps_fx).where(e_ok).where(fresh_price)
    a_mcap = (out["price_usd"] * sh["shares_adj"].reindex(out.index) * 1e6).where(s_ok)
    a_mcap = a_mcap.where(fresh_price)

    # valuation snapshots (already USD), the latest within the tolerance
    v = store.table("valuations").copy()
    v["date"] = _dt(v["date"])
    v["ticker"] = v["ticker"].astype("str")
    v["_pref"] = (v["source"] == "nasdaq").astype(int)
    v = v.sort_values(["date", "_pref"]).drop_duplicates(["date", "ticker"], keep="last")
    v = v.rename(columns={"date": "snap_date", "price": "snap_price", "source": "snap_source"})
    # ``snap_date`` is the close the figures refer to; ``usable_from`` the first close at which
    # they were public (the day after, unless the build recorded an earlier time)
    if "usable_from" in v.columns:
        v["usable_from"] = _dt(v["usable_from"]).fillna(v["snap_date"] + pd.Timedelta(days=1))
    else:
        v["usable_from"] = v["snap_date"] + pd.Timedelta(days=1)
    v = v.sort_values("usable_from")
    snap = pd.merge_asof(
        g.sort_values("date", kind="stable"),
        v,
        left_on="date",
        right_on="usable_from",
        by="ticker",
        direction="backward",
        tolerance=pd.Timedelta(days=cfg.max_snapshot_age_days),
    )
    snap = snap.set_index(["date", "ticker"]).reindex(out.index)
    use_snap = snap["market_cap"].notna().to_numpy()

    def pick(snap_col: pd.Series, annual: pd.Series) -> np.ndarray:
        return np.where(use_snap, snap_col.to_numpy(dtype=float), annual.to_numpy(dtype=float))

    # a snapshot is rolled forward to the as-of close: same shares and balance sheet, the
    # day's price (both prices from the store, so the dividend adjustment cancels)
    roll = np.ones(len(out))
    if use_snap.any():
        usd_close = close.reindex(columns=tickers)
        for t in usd_close.columns:
            ccy = universe[t].currency
            if ccy != "USD":
                r = store.fx(ccy)
                usd_close[t] = usd_close[t] / r.reindex(
                    r.index.union(usd_close.index)
                ).ffill().reindex(usd_close.index)
        snap_dates = pd.DatetimeIndex(snap["snap_date"][use_snap].unique()).sort_values()
        at_snap, _ = _asof_wide(usd_close, snap_dates)
        tick_level = out.index.get_level_values("ticker")
        p_snap = np.full(len(out), np.nan)
        p_snap[use_snap] = [
            at_snap.at[d, t]
            for d, t in zip(snap["snap_date"][use_snap], tick_level[use_snap], strict=True)
        ]
        # the snapshot's own quote is the price its market cap was taken at (an intraday
        # yfinance quote is not the previous close); the store's close on its date otherwise
        own = snap["snap_price"].to_numpy(dtype=float)
        p_snap = np.where(np.isfinite(own) & (own > 0), own, p_snap)
        ratio = out["price_usd"].to_numpy(dtype=float) / p_snap
        ok = use_snap & fresh_price & np.isfinite(ratio) & (ratio > 0)
        roll = np.where(ok, ratio, 1.0)
    out["snapshot_price_roll"] = np.where(use_snap, roll, np.nan)

    out["market_cap"] = pick(snap["market_cap"] * roll, a_mcap)
    out["sales"] = pick(snap["sales"], a_sales)
    out["net_income"] = pick(snap["net_income"], a_ni)
    out["eps_ttm"] = pick(snap["eps_ttm"], a_eps)
    out["eps_fwd"] = np.where(use_snap, snap["eps_fwd"], np.nan)
    out["ebitda"] = np.where(use_snap, snap["ebitda"], np.nan)
    net_debt = (snap["debt"] - snap["cash"]).to_numpy(dtype=float)
    out["ev"] = np.where(use_snap, out["market_cap"] + net_debt, np.nan)
    # the store's close of the day (adjusted, like every other price here); the snapshot's own
    # quote only where the store has no fresh close
    store_px = out["price_usd"].to_numpy(dtype=float)
    out["price_usd"] = np.where(
        use_snap & ~(fresh_price & np.isfinite(store_px)),
        snap["snap_price"].to_numpy(dtype=float),
        store_px,
    )
    out["revenue_growth_pct"] = rev["revenue_growth_pct"].reindex(out.index).where(r_ok)
    out["sales_basis"] = np.where(
        use_snap,
        snap["sales_basis"].astype(object),
        np.where(out["sales"].notna(), "latest_fy", _NONE),
    )
    annual_any = (a_sales.notna() | a_ni.notna() | a_eps.notna()).to_numpy()
    out["valuation_source"] = np.where(
        use_snap, snap["snap_source"].astype(object), np.where(annual_any, "annual", _NONE)
    )
    out["snapshot_date"] = np.where(use_snap, snap["snap_date"], pd.NaT)
    # the oldest figure in use decides staleness
    pe_cols = [
        rev["revenue_period_end"].reindex(out.index).where(r_ok),
        ni["net_income_period_end"].reindex(out.index).where(n_ok),
    ]
    per = pd.concat(pe_cols, axis=1).min(axis=1)
    pub = pd.concat(
        [rev["revenue_public"].reindex(out.index), ni["net_income_public"].reindex(out.index)],
        axis=1,
    ).max(axis=1)
    out["fundamentals_period_end"] = per
    out["fundamentals_public_date"] = pub
    out["fx_date"] = fx_list_date
    # figures that exist but are too old to use: say so rather than drop them silently
    too_old = []
    for frame, key in ((rev, "revenue"), (ni, "net_income")):
        pe = _dt(frame[f"{key}_period_end"].reindex(out.index))
        too_old.append(
            pd.Series(
                np.where(pe.notna() & ~np.asarray(fresh(frame, key)), pe, pd.NaT), index=out.index
            )
        )
    out["unused_fundamentals_end"] = pd.concat(too_old, axis=1).max(axis=1)
    fund_fx_date = np.where(np.asarray(r_ok) & (use_snap == 0), rev_fx_date, np.datetime64("NaT"))
    out["flags"] = _flags(out, cfg, date_level, fresh_price, use_snap, fx_list_date, fund_fx_date)
    return out.drop(columns=["price_local"])


def _flags(
    out: pd.DataFrame,
    cfg: PanelConfig,
    date_level: pd.DatetimeIndex,
    fresh_price: np.ndarray,
    use_snap: np.ndarray,
    fx_date: np.ndarray,
    fund_fx_date: np.ndarray,
) -> list[str]:
    """Human-readable caveats per row: stale or missing price, stale fundamentals, figures too
    old to use, FX rates carried forward (for the price and for the statements)."""
    flags = []
    stale_f = pd.Timedelta(days=cfg.stale_fundamentals_days)
    carry = pd.Timedelta(days=cfg.fx_carry_flag_days)
    pdate = pd.DatetimeIndex(out["price_date"])
    fend = pd.DatetimeIndex(out["fundamentals_period_end"])
    unused = pd.DatetimeIndex(out["unused_fundamentals_end"])
    fxd = pd.DatetimeIndex(fx_date)
    ffxd = pd.DatetimeIndex(fund_fx_date)
    for i, d in enumerate(date_level):
        fl = []
        if pd.isna(pdate[i]):
            fl.append("no price")
        elif not fresh_price[i]:
            fl.append(f"stale price (last {pdate[i].date()})")
        if not use_snap[i]:
            if pd.notna(fend[i]) and d - fend[i] > stale_f:
                fl.append(f"stale fundamentals (FY end {fend[i].date()})")
            if pd.notna(unused[i]) and (pd.isna(fend[i]) or unused[i] < fend[i]):
                fl.append(f"fundamentals too old to use (FY end {unused[i].date()})")
            carried = [x for x in (fxd[i], ffxd[i]) if pd.notna(x) and d - x > carry]
            if carried:
                fl.append(f"FX carried forward from {min(carried).date()}")
        flags.append("; ".join(fl))
    return flags
