"""Point-in-time valuation inputs: what was known about each name on each date.

:func:`valuation_panel` returns one row per ``(date, ticker)`` with the inputs of the valuation
multiples in USD, assembled from small steps, each a pure function over tidy frames:

* :func:`traded_prices_usd`: the close **as traded** on the date (not adjusted for dividends paid
  or splits made later; :mod:`data.traded`), at most ``max_price_age_days`` old, in USD at the FX
  rate of the date;
* :func:`data.fundamentals.fundamentals_asof`: the latest period public by the date, one period
  per block (sales; earnings), used until ``max_fundamentals_age_days`` after its period end;
* :func:`data.shares.shares_asof`: the latest share count public by the date, restated to the
  share basis of the date;
* :func:`data.snapshots.snapshot_fields_asof`: each field of the latest valuation snapshot that
  has it (Nasdaq, yfinance ``Ticker.info``; USD), at most ``max_snapshot_age_days`` old.

A snapshot market cap is rolled to the date with traded prices on one share basis:
``market cap x (close as traded on the date x splits since) / the snapshot's own quote``.  Without
a snapshot, market cap = traded price x shares.  Snapshot fields win over filings while fresh.

For every input that is missing, ``why_<input>`` says why (``not listed yet``, ``no price``,
``no share count``, ``share count older than N days``, ``no fundamentals``, ``fundamentals older
than N months``, ``negative earnings`` is decided by the multiples).  Output columns (money in
USD): ``price_usd price_traded price_date market_cap market_cap_source shares shares_as_of
shares_kind ev sales sales_basis sales_period_end net_income eps_ttm eps_fwd ebitda
revenue_growth_pct earnings_period_end valuation_source snapshot_date fundamentals_period_end
fundamentals_public_date fx_date unused_fundamentals_end why_* flags``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from data.asof import as_datetime, grid_frame, split_restatement
from data.errors import NoDataError
from data.fundamentals import company_fundamentals, fundamentals_asof
from data.fx import fixing_since
from data.shares import company_share_counts, shares_asof
from data.snapshots import snapshot_fields_asof
from data.store import FX_SYMBOLS, Store
from data.universe import Universe

__all__ = ["INPUTS", "PanelConfig", "traded_prices_usd", "valuation_panel"]

_NONE = np.array(None, dtype=object)

#: the inputs whose absence is explained in ``why_<input>``
INPUTS = ("price", "market_cap", "sales", "earnings", "eps_fwd", "ev", "ebitda")


@dataclass(frozen=True)
class PanelConfig:
    """Tolerances of the point-in-time assembly (days)."""

    max_price_age_days: int = 7
    max_snapshot_age_days: int = 14
    max_fundamentals_age_days: int = 500
    stale_fundamentals_days: int = 456
    max_shares_age_days: int = 550
    fx_carry_flag_days: int = 5

    def with_stale_days(self, days: int) -> PanelConfig:
        return replace(self, stale_fundamentals_days=days)


def _asof_wide(wide: pd.DataFrame, dates: pd.DatetimeIndex) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Last value on or before each date, and the date of that value."""
    idx = wide.index.union(dates)
    obs = pd.DataFrame(
        np.where(wide.notna(), wide.index.to_numpy()[:, None], np.datetime64("NaT")),
        index=wide.index,
        columns=wide.columns,
    ).astype("datetime64[us]")
    return wide.reindex(idx).ffill().reindex(dates), obs.reindex(idx).ffill().reindex(dates)


def _fx_asof(store: Store, dates: pd.DatetimeIndex) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Units per USD of each currency on each date (last rate on or before it) and its date."""
    rates = {"USD": pd.Series(1.0, index=dates)}
    for ccy in FX_SYMBOLS:
        try:
            rates[ccy] = store.fx(ccy)
        except Exception:  # a store without that FX series: conversions from it are NaN
            rates[ccy] = pd.Series(dtype=float)
    wide = pd.DataFrame(rates).sort_index()
    val, when = _asof_wide(wide, dates)
    when["USD"] = dates
    return val, when


def _lookup(wide: pd.DataFrame, dates: pd.Index, keys: pd.Series) -> np.ndarray:
    """``wide.at[date, key]`` for each row (NaN where the key is missing)."""
    out = np.full(len(keys), np.nan)
    k = keys.astype(object).to_numpy()
    for c in wide.columns:
        m = k == c
        if m.any():
            out[m] = wide[c].reindex(dates[m]).to_numpy(dtype=float)
    return out


def _lookup_dates(wide: pd.DataFrame, dates: pd.Index, keys: pd.Series) -> np.ndarray:
    out = np.full(len(keys), np.datetime64("NaT"), dtype="datetime64[us]")
    k = keys.astype(object).to_numpy()
    for c in wide.columns:
        m = k == c
        if m.any():
            out[m] = wide[c].reindex(dates[m]).to_numpy(dtype="datetime64[us]")
    return out


def traded_prices_usd(
    store: Store, universe: Universe, tickers: list[str], dates: pd.DatetimeIndex
) -> pd.DataFrame:
    """Per ``(date, ticker)``: ``price_traded`` (listing currency), ``price_usd``,
    ``price_date`` (its close), ``price_basis`` (``traded`` or ``adjusted`` where the store has
    no traded close), ``fx_rate`` and ``fx_date``; the one USD conversion of the panel."""
    adj = store.close(tickers, strict=False).reindex(columns=tickers)
    traded = store.traded_close(tickers).reindex(index=adj.index, columns=tickers)
    basis = pd.DataFrame("traded", index=adj.index, columns=tickers)
    basis = basis.where(traded.notna() | adj.isna(), "adjusted")
    px = traded.fillna(adj)
    val, when = _asof_wide(px, dates)
    bas = basis.where(adj.notna()).reindex(adj.index.union(dates)).ffill().reindex(dates)
    out = pd.DataFrame(
        {
            "price_traded": val.stack(future_stack=True),
            "price_date": when.stack(future_stack=True),
            "price_basis": bas.stack(future_stack=True),
        }
    )
    out.index.names = ["date", "ticker"]
    fx, fx_when = _fx_asof(store, dates)
    ccy = pd.Series([universe[t].currency for t in out.index.get_level_values("ticker")])
    d = out.index.get_level_values("date")
    out["fx_rate"] = _lookup(fx, d, ccy)
    out["fx_date"] = _lookup_dates(fx_when, d, ccy)
    out["price_usd"] = out["price_traded"] / out["fx_rate"]
    return out


def _first_prices(store: Store, tickers: list[str]) -> pd.Series:
    c = store.close(tickers, strict=False)
    return c.apply(lambda s: s.first_valid_index()).reindex(tickers)


def valuation_panel(
    store: Store,
    universe: Universe,
    dates_in: Iterable,
    tickers: list[str] | None = None,
    config: PanelConfig | None = None,
) -> pd.DataFrame:
    """Point-in-time valuation inputs for ``tickers`` (default: Chinese names and US peers)."""
    cfg = config or PanelConfig()
    dates = pd.DatetimeIndex(as_datetime(list(dates_in))).normalize().unique().sort_values()
    tickers = list(tickers or [*universe.china, *universe.us])
    close = store.close(tickers, strict=False)
    if close.empty or dates.min() < close.index.min():
        first = close.index.min().date() if not close.empty else "never"
        raise NoDataError(
            f"as-of date {dates.min().date()} is before any price data (first price {first})"
        )
    grid = grid_frame(dates, tickers)
    idx = pd.MultiIndex.from_frame(grid)
    out = traded_prices_usd(store, universe, tickers, dates).reindex(idx)
    d = idx.get_level_values("date")
    tk = idx.get_level_values("ticker").to_numpy()
    fx, _ = _fx_asof(store, dates)

    age = (d - pd.DatetimeIndex(out["price_date"])).days
    fresh_price = np.asarray(age <= cfg.max_price_age_days)
    listed = np.asarray(d >= pd.DatetimeIndex(_first_prices(store, tickers).reindex(tk)))
    price_usd = out["price_usd"].where(fresh_price)

    actions = store.table("corporate_actions")
    fund = company_fundamentals(store.table("fundamentals"), universe)
    fa = fundamentals_asof(fund, actions, grid).reindex(idx)
    counts = company_share_counts(store.table("shares"), universe)
    sh = shares_asof(counts, actions, grid, max_age_days=cfg.max_shares_age_days)
    sh = sh.reindex(idx)
    snap = snapshot_fields_asof(
        store.table("valuations"), grid, max_age_days=cfg.max_snapshot_age_days
    ).reindex(idx)

    limit = pd.Timedelta(days=cfg.max_fundamentals_age_days)
    sales_ok = np.asarray((d - pd.DatetimeIndex(fa["sales_period_end"])) <= limit)
    earn_ok = np.asarray((d - pd.DatetimeIndex(fa["earnings_period_end"])) <= limit)
    s_fx = _lookup(fx, d, fa["sales_currency"].reset_index(drop=True))
    e_fx = _lookup(fx, d, fa["earnings_currency"].reset_index(drop=True))
    f_sales = np.where(sales_ok, fa["revenue"].to_numpy(dtype=float) * 1e6 / s_fx, np.nan)
    f_ni = np.where(earn_ok, fa["net_income"].to_numpy(dtype=float) * 1e6 / e_fx, np.nan)
    f_eps = np.where(earn_ok, fa["eps"].to_numpy(dtype=float) / e_fx, np.nan)
    f_growth = np.where(sales_ok, fa["revenue_growth_pct"].to_numpy(dtype=float), np.nan)

    # market cap: a fresh snapshot rolled on traded prices, else traded price x shares
    def snap_col(name: str) -> np.ndarray:
        return (
            snap[name].to_numpy(dtype=float, copy=True)
            if name in snap
            else np.full(len(idx), np.nan)
        )

    def snap_str(name: str) -> np.ndarray:
        if name not in snap:
            return np.full(len(idx), None, dtype=object)
        col = snap[name]
        return np.where(col.notna(), col.astype(str), _NONE)

    def snap_date(name: str) -> pd.DatetimeIndex:
        col = f"{name}_date"
        return pd.DatetimeIndex(snap[col] if col in snap else pd.Series(pd.NaT, index=idx))

    mc_date = snap_date("market_cap")
    k_mc = split_restatement(actions, tk, mc_date.to_numpy(), d.to_numpy())
    quote = snap_col("market_cap_price")
    # without its own quote, the snapshot's market cap is taken at the traded close of its date
    no_quote = ~(np.isfinite(quote) & (quote > 0)) & ~mc_date.isna()
    if no_quote.any():
        at = traded_prices_usd(
            store, universe, tickers, pd.DatetimeIndex(mc_date[no_quote].unique())
        )
        quote[no_quote] = (
            at["price_usd"]
            .reindex(pd.MultiIndex.from_arrays([mc_date[no_quote], tk[no_quote]]))
            .to_numpy(dtype=float)
        )
    roll = price_usd.to_numpy(dtype=float) * k_mc / quote
    snap_mc = snap_col("market_cap") * roll
    from_snap = np.isfinite(snap_mc) & (snap_mc > 0)
    shares_mc = price_usd.to_numpy(dtype=float) * sh["shares"].to_numpy(dtype=float) * 1e6
    out["market_cap"] = np.where(from_snap, snap_mc, shares_mc)
    out["market_cap_source"] = np.where(
        from_snap,
        np.char.add("snapshot ", snap_str("market_cap_source").astype(str)),
        np.where(np.isfinite(shares_mc), "price x shares", _NONE),
    )
    out["snapshot_price_roll"] = np.where(from_snap, roll, np.nan)
    for c in ("shares", "shares_as_of", "shares_public_date", "shares_kind", "shares_source"):
        out[c] = sh[c]

    def pick(name: str, filed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v = snap_col(name)
        use = np.isfinite(v)
        return np.where(use, v, filed), use

    out["sales"], sales_snap = pick("sales", f_sales)
    out["net_income"], ni_snap = pick("net_income", f_ni)
    k_eps = split_restatement(actions, tk, snap_date("eps_ttm").to_numpy(), d.to_numpy())
    eps_snap = snap_col("eps_ttm") / k_eps
    out["eps_ttm"] = np.where(np.isfinite(eps_snap), eps_snap, np.where(ni_snap, np.nan, f_eps))
    k_fwd = split_restatement(actions, tk, snap_date("eps_fwd").to_numpy(), d.to_numpy())
    out["eps_fwd"] = snap_col("eps_fwd") / k_fwd
    out["ebitda"] = snap_col("ebitda")
    net_debt = snap_col("debt") - snap_col("cash")
    out["ev"] = out["market_cap"] + net_debt
    out["revenue_growth_pct"] = f_growth
    out["price_usd"] = price_usd
    filed_basis = np.where(fa["sales_basis"].to_numpy(dtype=object) == "ttm", "ttm", "latest_fy")
    out["sales_basis"] = np.where(
        sales_snap,
        snap_str("sales_basis"),
        np.where(np.isfinite(f_sales), filed_basis, _NONE),
    )
    out["sales_period_end"] = fa["sales_period_end"].where(sales_ok)
    out["earnings_period_end"] = fa["earnings_period_end"].where(earn_ok)
    any_snap = from_snap | sales_snap | ni_snap
    annual_any = np.isfinite(f_sales) | np.isfinite(f_ni)
    src = snap_str("market_cap_source")
    for other in ("sales_source", "net_income_source"):
        src = np.where(pd.isna(src), snap_str(other), src)
    out["valuation_source"] = np.where(any_snap, src, np.where(annual_any, "annual", _NONE))
    out["snapshot_date"] = np.where(any_snap, mc_date, pd.NaT)
    per = pd.concat([out["sales_period_end"], out["earnings_period_end"]], axis=1)
    out["fundamentals_period_end"] = per.min(axis=1)
    out["sales_public_date"] = fa["sales_public_date"].where(sales_ok)
    out["earnings_public_date"] = fa["earnings_public_date"].where(earn_ok)
    pub = pd.concat([out["sales_public_date"], out["earnings_public_date"]], axis=1)
    out["fundamentals_public_date"] = pub.max(axis=1)
    unused = pd.concat(
        [fa["sales_period_end"].where(~sales_ok), fa["earnings_period_end"].where(~earn_ok)],
        axis=1,
    )
    out["unused_fundamentals_end"] = unused.max(axis=1)
    why = _why(out, fa, sh, cfg, listed, fresh_price, from_snap, sales_snap, ni_snap)
    for k, v in why.items():
        out[f"why_{k}"] = v
    fund_fx_date = np.where(sales_ok & ~sales_snap, out["fx_date"], np.datetime64("NaT"))
    out["flags"] = _flags(out, cfg, d, fresh_price, any_snap, fund_fx_date)
    fixing = fixing_since(store).get("CNY")
    if fixing is not None:  # CNY statements (or a CNY price) converted at the PBOC fixing
        cny = (fa["sales_currency"] == "CNY").to_numpy() & sales_ok & ~sales_snap
        cny |= np.array([universe[t].currency == "CNY" for t in tk])
        on_fix = cny & np.asarray(d >= fixing)
        out["flags"] = [
            "; ".join(x for x in (f, "USD/CNY: PBOC fixing, not spot") if x) if m else f
            for f, m in zip(out["flags"], on_fix, strict=True)
        ]
    return out.drop(columns=["fx_rate"])


def _why(
    out: pd.DataFrame,
    fa: pd.DataFrame,
    sh: pd.DataFrame,
    cfg: PanelConfig,
    listed: np.ndarray,
    fresh_price: np.ndarray,
    from_snap: np.ndarray,
    sales_snap: np.ndarray,
    ni_snap: np.ndarray,
) -> dict[str, np.ndarray]:
    """For each input, why it is missing ('' where it is there)."""
    n = len(out)
    months = round(cfg.max_fundamentals_age_days / 30.4)

    def reason(have: np.ndarray, *cases: tuple[np.ndarray, str]) -> np.ndarray:
        r = np.full(n, "", dtype=object)
        todo = ~have
        for cond, text in cases:
            m = todo & cond
            r[m] = text
            todo &= ~m
        r[todo] = "not in the data"
        return r

    not_listed = (~listed, "not listed yet")
    no_price = (~fresh_price, "no price")
    price = reason(fresh_price, not_listed, (np.ones(n, bool), "no price"))
    too_old_sh = sh["shares_too_old"].fillna(False).to_numpy(dtype=bool)
    mcap = reason(
        np.isfinite(out["market_cap"].to_numpy(dtype=float)),
        not_listed,
        no_price,
        (too_old_sh, f"share count older than {cfg.max_shares_age_days} days"),
        (np.ones(n, bool), "no share count"),
    )
    s_have = fa["revenue"].notna().to_numpy()
    sales = reason(
        np.isfinite(out["sales"].to_numpy(dtype=float)),
        (s_have, f"fundamentals older than {months} months"),
        (np.ones(n, bool), "no fundamentals"),
    )
    e_have = fa["net_income"].notna().to_numpy()
    earnings = reason(
        np.isfinite(out["net_income"].to_numpy(dtype=float))
        | np.isfinite(out["eps_ttm"].to_numpy(dtype=float)),
        (e_have, f"fundamentals older than {months} months"),
        (np.ones(n, bool), "no fundamentals"),
    )
    no_snap = (~from_snap & ~sales_snap & ~ni_snap, "no valuation snapshot")
    fwd = reason(np.isfinite(out["eps_fwd"].to_numpy(dtype=float)), no_snap)
    ev = reason(
        np.isfinite(out["ev"].to_numpy(dtype=float)), (mcap != "", "no market cap"), no_snap
    )
    ebitda = reason(np.isfinite(out["ebitda"].to_numpy(dtype=float)), no_snap)
    return {
        "price": price,
        "market_cap": mcap,
        "sales": sales,
        "earnings": earnings,
        "eps_fwd": fwd,
        "ev": ev,
        "ebitda": ebitda,
    }


def _flags(
    out: pd.DataFrame,
    cfg: PanelConfig,
    dates: pd.DatetimeIndex,
    fresh_price: np.ndarray,
    use_snap: np.ndarray,
    fund_fx_date: np.ndarray,
) -> list[str]:
    """Human-readable caveats per row: stale or missing price, a price that is the adjusted close
    (no traded close known), stale fundamentals, figures too old to use, FX carried forward."""
    flags = []
    stale_f = pd.Timedelta(days=cfg.stale_fundamentals_days)
    carry = pd.Timedelta(days=cfg.fx_carry_flag_days)
    pdate = pd.DatetimeIndex(out["price_date"])
    basis = out["price_basis"].to_numpy(dtype=object)
    fend = pd.DatetimeIndex(out["fundamentals_period_end"])
    unused = pd.DatetimeIndex(out["unused_fundamentals_end"])
    fxd = pd.DatetimeIndex(out["fx_date"])
    ffxd = pd.DatetimeIndex(fund_fx_date)
    for i, day in enumerate(dates):
        fl = []
        if pd.isna(pdate[i]):
            fl.append("no price")
        elif not fresh_price[i]:
            fl.append(f"stale price (last {pdate[i].date()})")
        elif basis[i] == "adjusted":
            fl.append("adjusted close used (no traded close)")
        if not use_snap[i]:
            if pd.notna(fend[i]) and day - fend[i] > stale_f:
                fl.append(f"stale fundamentals (FY end {fend[i].date()})")
            if pd.notna(unused[i]) and (pd.isna(fend[i]) or unused[i] < fend[i]):
                fl.append(f"fundamentals too old to use (FY end {unused[i].date()})")
        carried = [x for x in (fxd[i], ffxd[i]) if pd.notna(x) and day - x > carry]
        if carried:
            fl.append(f"FX carried forward from {min(carried).date()}")
        flags.append("; ".join(fl))
    return flags
