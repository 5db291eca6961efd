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

from data.asof import (
    Published,
    as_days,
    asof_wide,
    grid_frame,
    last_rows,
    split_restatement,
    take,
)
from data.errors import NoDataError
from data.fundamentals import FiledFundamentals, company_fundamentals, filed, fundamentals_asof
from data.fx import fixing_since, fx_asof
from data.rules import MAX_PRICE_AGE_DAYS, STALE_FUNDAMENTALS_DAYS
from data.shares import company_share_counts, counts_published, share_counts_of, shares_asof
from data.snapshots import snapshot_fields_asof, snapshot_rows
from data.store import Store
from data.universe import Universe

__all__ = ["INPUTS", "PanelConfig", "traded_prices_usd", "valuation_panel"]

_NONE = np.array(None, dtype=object)

#: the inputs whose absence is explained in ``why_<input>``
INPUTS = ("price", "market_cap", "sales", "earnings", "eps_fwd", "ev", "ebitda")


@dataclass(frozen=True)
class PanelConfig:
    """Tolerances of the point-in-time assembly (days)."""

    max_price_age_days: int = MAX_PRICE_AGE_DAYS
    max_snapshot_age_days: int = 14
    max_fundamentals_age_days: int = 500
    stale_fundamentals_days: int = STALE_FUNDAMENTALS_DAYS
    max_shares_age_days: int = 550
    fx_carry_flag_days: int = 5

    def with_stale_days(self, days: int) -> PanelConfig:
        return replace(self, stale_fundamentals_days=days)


def _lookup(wide: pd.DataFrame, dates: pd.Index, keys: pd.Series, dtype=float) -> np.ndarray:
    """``wide.at[date, key]`` for each row (NaN or NaT where the key is missing)."""
    if dtype is float:
        out = np.full(len(keys), np.nan)
    else:
        out = np.full(len(keys), np.datetime64("NaT"), dtype=dtype)
    k = keys.astype(object).to_numpy()
    for c in wide.columns:
        m = k == c
        if m.any():
            out[m] = wide[c].reindex(dates[m]).to_numpy(dtype=dtype)
    return out


@dataclass(frozen=True)
class _Prices:
    """Closes of some tickers as arrays (dates x tickers), kept per store and ticker list."""

    index: pd.DatetimeIndex  #: the days on which one of the tickers has an adjusted close
    columns: pd.Index
    adjusted: np.ndarray
    close: np.ndarray  #: as traded where the store has it, else the adjusted close
    basis: np.ndarray  #: 0 traded, 1 traded with an estimated dividend factor, 2 adjusted
    listed: np.ndarray  #: the first day with an adjusted close (NaT: none)


def _prices(store: Store, tickers: list[str]) -> _Prices:
    def build() -> _Prices:
        adj = store.close(tickers, strict=False).reindex(columns=tickers)
        a = adj.to_numpy(dtype=float)
        traded = store.traded_close(tickers).reindex(index=adj.index, columns=tickers)
        tr = traded.to_numpy(dtype=float)
        est = store.traded_estimated(tickers).reindex(index=adj.index, columns=tickers)
        est_b = np.asarray(est.fillna(False), dtype=bool)
        valid = ~np.isnan(a)
        days = adj.index.to_numpy()
        listed = valid.any(axis=0)
        first = np.full(a.shape[1], np.datetime64("NaT"), dtype=days.dtype)
        if listed.any():
            first[listed] = days[valid[:, listed].argmax(axis=0)]
        arrays = {
            "adjusted": a,
            "close": np.where(np.isnan(tr), a, tr),
            "basis": np.where(np.isnan(tr) & valid, 2, est_b.astype(int)),
            "listed": first,
        }
        for v in arrays.values():
            v.setflags(write=False)  # kept for the store's lifetime: read-only
        return _Prices(index=adj.index, columns=adj.columns, **arrays)

    return store.cached(repr(("panel prices", tuple(tickers))), build)


def traded_prices_usd(
    store: Store,
    universe: Universe,
    tickers: list[str],
    dates: pd.DatetimeIndex,
    fx: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Per ``(date, ticker)``: ``price_traded`` (listing currency), ``price_usd``,
    ``price_date`` (its close), ``price_basis`` (``traded``, ``traded, estimated`` where its
    dividend factor was filled across a gap, or ``adjusted`` where the store has no traded
    close), ``fx_rate`` and ``fx_date``; the one USD conversion of the panel.  ``fx``: the
    :func:`data.fx.fx_asof` of ``dates`` where the caller has it."""
    p = _prices(store, tickers)
    px = pd.DataFrame(p.close, index=p.index, columns=p.columns)
    val, when = asof_wide(px, dates)
    labels = np.array(["traded", "traded, estimated", "adjusted", np.nan], dtype=object)
    bas = labels[take(p.basis, last_rows(p.index, ~np.isnan(p.adjusted), dates), 3)]
    out = pd.DataFrame(
        {
            "price_traded": val.to_numpy().ravel(),
            "price_date": when.to_numpy().ravel(),
            "price_basis": pd.array(bas.ravel(), dtype="str"),
        },
        index=pd.MultiIndex.from_product([dates, p.columns]),
    )
    out.index.names = ["date", "ticker"]
    rate, rate_date = fx if fx is not None else fx_asof(store, dates)
    ccy = pd.Series([universe[t].currency for t in out.index.get_level_values("ticker")])
    d = out.index.get_level_values("date")
    out["fx_rate"] = _lookup(rate, d, ccy)
    out["fx_date"] = _lookup(rate_date, d, ccy, dtype="datetime64[us]")
    out["price_usd"] = out["price_traded"] / out["fx_rate"]
    return out


@dataclass(frozen=True)
class _Filed:
    """Reported figures in USD on each row, blank past ``max_fundamentals_age_days``."""

    sales: np.ndarray
    net_income: np.ndarray
    eps: np.ndarray
    growth: np.ndarray
    sales_ok: np.ndarray
    earn_ok: np.ndarray


def _filed_usd(fa: pd.DataFrame, fx: pd.DataFrame, cfg: PanelConfig) -> _Filed:
    d = fa.index.get_level_values("date")
    limit = pd.Timedelta(days=cfg.max_fundamentals_age_days)
    sales_ok = np.asarray((d - pd.DatetimeIndex(fa["sales_period_end"])) <= limit)
    earn_ok = np.asarray((d - pd.DatetimeIndex(fa["earnings_period_end"])) <= limit)
    s_fx = _lookup(fx, d, fa["sales_currency"].reset_index(drop=True))
    e_fx = _lookup(fx, d, fa["earnings_currency"].reset_index(drop=True))
    return _Filed(
        sales=np.where(sales_ok, fa["revenue"].to_numpy(dtype=float) * 1e6 / s_fx, np.nan),
        net_income=np.where(earn_ok, fa["net_income"].to_numpy(dtype=float) * 1e6 / e_fx, np.nan),
        eps=np.where(earn_ok, fa["eps"].to_numpy(dtype=float) / e_fx, np.nan),
        growth=np.where(sales_ok, fa["revenue_growth_pct"].to_numpy(dtype=float), np.nan),
        sales_ok=sales_ok,
        earn_ok=earn_ok,
    )


class _Snap:
    """Typed access to the per-field snapshot frame (missing fields are blank)."""

    def __init__(self, snap: pd.DataFrame) -> None:
        self.frame, self.n = snap, len(snap)

    def num(self, name: str) -> np.ndarray:
        if name not in self.frame:
            return np.full(self.n, np.nan)
        return self.frame[name].to_numpy(dtype=float, copy=True)

    def text(self, name: str) -> np.ndarray:
        if name not in self.frame:
            return np.full(self.n, None, dtype=object)
        col = self.frame[name]  # numpy given a Series would look up its attributes: slow
        return np.where(col.notna().to_numpy(), col.astype(str).to_numpy(dtype=object), _NONE)

    def date(self, name: str) -> pd.DatetimeIndex:
        col = f"{name}_date"
        if col not in self.frame:
            return pd.DatetimeIndex(np.full(self.n, np.datetime64("NaT"), dtype="datetime64[us]"))
        return pd.DatetimeIndex(self.frame[col])


def _snapshot_market_cap(
    store: Store,
    universe: Universe,
    snap: _Snap,
    price_usd: np.ndarray,
    actions: pd.DataFrame,
    idx: pd.MultiIndex,
) -> tuple[np.ndarray, np.ndarray]:
    """A snapshot's market cap rolled to each row's date on traded prices: ``market cap x (close
    as traded x splits since the snapshot) / the snapshot's own quote`` (its traded close where
    it has none).  Returns the rolled market cap and the roll factor."""
    d = idx.get_level_values("date")
    tk = idx.get_level_values("ticker").to_numpy()
    mc_date = snap.date("market_cap")
    k = split_restatement(actions, tk, mc_date.to_numpy(), d.to_numpy())
    quote = snap.num("market_cap_price")
    no_quote = ~(np.isfinite(quote) & (quote > 0)) & ~mc_date.isna()
    if no_quote.any():
        tickers = list(dict.fromkeys(tk))  # the panel's own list: its kept prices are reused
        at = traded_prices_usd(
            store, universe, tickers, pd.DatetimeIndex(mc_date[no_quote].unique())
        )
        keys = pd.MultiIndex.from_arrays([mc_date[no_quote], tk[no_quote]])
        quote[no_quote] = at["price_usd"].reindex(keys).to_numpy(dtype=float)
    roll = price_usd * k / quote
    return snap.num("market_cap") * roll, roll


def _provenance(
    out: pd.DataFrame, fa: pd.DataFrame, filed: _Filed, snap: _Snap, used: dict[str, np.ndarray]
) -> None:
    """Where each figure came from and when it was public (columns added to ``out``)."""
    filed_basis = np.where(fa["sales_basis"].to_numpy(dtype=object) == "ttm", "ttm", "latest_fy")
    out["sales_basis"] = np.where(
        used["sales"],
        snap.text("sales_basis"),
        np.where(np.isfinite(filed.sales), filed_basis, _NONE),
    )
    # the period and public date of the figure used: a snapshot's sales carry its date instead
    from_filing = filed.sales_ok & ~used["sales"]
    out["sales_period_end"] = fa["sales_period_end"].where(from_filing)
    out["sales_source"] = np.where(
        used["sales"],
        np.char.add(
            np.char.add("snapshot ", snap.text("sales_source").astype(str)),
            np.char.add(" ", np.datetime_as_string(snap.date("sales").to_numpy(), unit="D")),
        ),
        np.where(np.isfinite(filed.sales), "filed " + fa["sales_basis"].astype(str), _NONE),
    )
    out["earnings_period_end"] = fa["earnings_period_end"].where(filed.earn_ok)
    any_snap = used["any"]
    src = snap.text("market_cap_source")
    for other in ("sales_source", "net_income_source"):
        src = np.where(pd.isna(src), snap.text(other), src)
    annual_any = np.isfinite(filed.sales) | np.isfinite(filed.net_income)
    out["valuation_source"] = np.where(any_snap, src, np.where(annual_any, "annual", _NONE))
    out["snapshot_date"] = np.where(any_snap, snap.date("market_cap"), pd.NaT)
    per = pd.concat([out["sales_period_end"], out["earnings_period_end"]], axis=1)
    out["fundamentals_period_end"] = per.min(axis=1)
    out["sales_public_date"] = fa["sales_public_date"].where(from_filing)
    out["earnings_public_date"] = fa["earnings_public_date"].where(filed.earn_ok)
    pub = pd.concat([out["sales_public_date"], out["earnings_public_date"]], axis=1)
    out["fundamentals_public_date"] = pub.max(axis=1)
    unused = pd.concat(
        [
            fa["sales_period_end"].where(~filed.sales_ok),
            fa["earnings_period_end"].where(~filed.earn_ok),
        ],
        axis=1,
    )
    out["unused_fundamentals_end"] = unused.max(axis=1)


@dataclass(frozen=True)
class _Sources:
    """The store's tables ready for point-in-time lookups (kept per store and universe)."""

    actions: pd.DataFrame
    fundamentals: FiledFundamentals
    shares: Published
    snapshots: dict[str, pd.DataFrame]


def _sources(store: Store, universe: Universe) -> _Sources:
    def build() -> _Sources:
        actions = store.table("corporate_actions")
        fund = company_fundamentals(store.table("fundamentals"), universe, actions)
        counts = company_share_counts(share_counts_of(store), universe, actions)
        return _Sources(
            actions=actions,
            fundamentals=filed(fund),
            shares=counts_published(counts),
            snapshots=snapshot_rows(store.table("valuations")),
        )

    return store.cached(repr(("panel sources", universe.fingerprint())), build)


def valuation_panel(
    store: Store,
    universe: Universe,
    dates_in: Iterable,
    tickers: list[str] | None = None,
    config: PanelConfig | None = None,
) -> pd.DataFrame:
    """Point-in-time valuation inputs for ``tickers`` (default: Chinese names and US peers)."""
    cfg = config or PanelConfig()
    dates = as_days(dates_in)
    tickers = list(tickers or [*universe.china, *universe.us])
    prices = _prices(store, tickers)
    if not len(prices.index) or dates.min() < prices.index.min():
        first = prices.index.min().date() if len(prices.index) else "never"
        raise NoDataError(
            f"as-of date {dates.min().date()} is before any price data (first price {first})"
        )
    grid = grid_frame(dates, tickers)
    idx = pd.MultiIndex.from_frame(grid)
    d = idx.get_level_values("date")
    tk = idx.get_level_values("ticker").to_numpy()
    fx = fx_asof(store, dates)
    out = traded_prices_usd(store, universe, tickers, dates, fx).reindex(idx)
    fresh_price = np.asarray(
        (d - pd.DatetimeIndex(out["price_date"])).days <= cfg.max_price_age_days
    )
    first = pd.Series(prices.listed, index=tickers)
    listed = np.asarray(d >= pd.DatetimeIndex(first.reindex(tk)))
    price_usd = out["price_usd"].where(fresh_price).to_numpy(dtype=float)

    src = _sources(store, universe)
    actions = src.actions
    fa = fundamentals_asof(src.fundamentals, actions, grid).reindex(idx)
    sh = shares_asof(src.shares, actions, grid, max_age_days=cfg.max_shares_age_days).reindex(idx)
    snap = _Snap(
        snapshot_fields_asof(src.snapshots, grid, max_age_days=cfg.max_snapshot_age_days).reindex(
            idx
        )
    )
    filed = _filed_usd(fa, fx[0], cfg)

    snap_mc, roll = _snapshot_market_cap(store, universe, snap, price_usd, actions, idx)
    used = _market_cap(out, snap, snap_mc, roll, price_usd, sh)
    used |= _statement_figures(out, fa, filed, snap, actions, tk, d)
    used["any"] = used["market_cap"] | used["sales"] | used["net_income"]  # a snapshot's figure
    out["ev"] = out["market_cap"] + snap.num("debt") - snap.num("cash")
    out["revenue_growth_pct"] = filed.growth
    out["growth_sales"] = np.where(np.isfinite(filed.growth), filed.sales, np.nan)
    out["price_usd"] = price_usd
    _provenance(out, fa, filed, snap, used)
    why = _why(out, fa, sh, cfg, listed, fresh_price, used)
    for k, v in why.items():
        out[f"why_{k}"] = v
    fund_fx = np.where(filed.sales_ok & ~used["sales"], out["fx_date"], np.datetime64("NaT"))
    flags = _flags(out, cfg, d, fresh_price, used["any"], fund_fx)
    cny = (fa["sales_currency"] == "CNY").to_numpy() & filed.sales_ok & ~used["sales"]
    cny |= np.array([universe[t].currency == "CNY" for t in tk])
    out["flags"] = _fixing_flags(flags, cny, d, fixing_since(store).get("CNY"))
    return out.drop(columns=["fx_rate"])


def _market_cap(
    out: pd.DataFrame,
    snap: _Snap,
    snap_mc: np.ndarray,
    roll: np.ndarray,
    price_usd: np.ndarray,
    sh: pd.DataFrame,
) -> dict[str, np.ndarray]:
    """Into ``out``: the market cap (a fresh snapshot's rolled on traded prices, else traded
    price x shares), its source and the share count; returns where the snapshot was used."""
    used = {"market_cap": np.isfinite(snap_mc) & (snap_mc > 0)}
    shares_mc = price_usd * sh["shares"].to_numpy(dtype=float) * 1e6
    out["market_cap"] = np.where(used["market_cap"], snap_mc, shares_mc)
    out["market_cap_source"] = np.where(
        used["market_cap"],
        np.char.add("snapshot ", snap.text("market_cap_source").astype(str)),
        np.where(np.isfinite(shares_mc), "price x shares", _NONE),
    )
    out["snapshot_price_roll"] = np.where(used["market_cap"], roll, np.nan)
    for c in ("shares", "shares_as_of", "shares_public_date", "shares_kind", "shares_source"):
        out[c] = sh[c]
    return used


def _statement_figures(
    out: pd.DataFrame,
    fa: pd.DataFrame,
    filed,
    snap: _Snap,
    actions: pd.DataFrame,
    tk: np.ndarray,
    d: pd.DatetimeIndex,
) -> dict[str, np.ndarray]:
    """Into ``out``: sales, net income, EPS (trailing and forward, restated for splits made
    after the figure's date) and EBITDA: a fresh snapshot's field, else the filed figure; a
    filed trailing twelve months (ending at a quarter public by then) is newer than a
    snapshot's "latest fiscal year" (Nasdaq's salesB / incomeB) and wins over it.  Returns
    where the snapshot's sales and net income were used."""
    newer_ttm = (fa["sales_basis"].to_numpy(dtype=object) == "ttm") & (
        snap.text("sales_basis") == "latest_fy"
    )
    mine: dict[str, np.ndarray] = {}
    for name, figure in (("sales", filed.sales), ("net_income", filed.net_income)):
        v = snap.num(name)
        mine[name] = np.isfinite(v) & ~(newer_ttm & np.isfinite(figure))
        out[name] = np.where(mine[name], v, figure)
    k_eps = split_restatement(actions, tk, snap.date("eps_ttm").to_numpy(), d.to_numpy())
    eps_snap = snap.num("eps_ttm") / k_eps
    out["eps_ttm"] = np.where(
        np.isfinite(eps_snap), eps_snap, np.where(mine["net_income"], np.nan, filed.eps)
    )
    k_fwd = split_restatement(actions, tk, snap.date("eps_fwd").to_numpy(), d.to_numpy())
    out["eps_fwd"] = snap.num("eps_fwd") / k_fwd
    out["ebitda"] = snap.num("ebitda")
    return mine


def _fixing_flags(
    flags: np.ndarray, cny: np.ndarray, d: pd.DatetimeIndex, since: pd.Timestamp | None
) -> np.ndarray:
    """Say so where a CNY figure (statements or a price) was converted at the PBOC fixing."""
    if since is None:
        return flags
    on_fix = cny & np.asarray(d >= since)
    return _join(flags, _text(on_fix, "USD/CNY: PBOC fixing, not spot"))


def _why(
    out: pd.DataFrame,
    fa: pd.DataFrame,
    sh: pd.DataFrame,
    cfg: PanelConfig,
    listed: np.ndarray,
    fresh_price: np.ndarray,
    used: dict[str, np.ndarray],
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
    no_snap = (
        ~used["any"],
        "no valuation snapshot",
    )
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


def _text(mask: np.ndarray, text) -> np.ndarray:
    """``text`` (a string, or one per row) where ``mask``, else ''."""
    return np.where(mask, text, "").astype(object)


def _join(*parts: np.ndarray) -> np.ndarray:
    """Row by row, the non-empty strings of ``parts`` joined with '; '."""
    out = parts[0]
    for p in parts[1:]:
        both = (out != "") & (p != "")
        out = np.where(both, out + "; " + p, np.where(out == "", p, out))
    return out


def _day(values: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD`` of each date."""
    return np.datetime_as_string(values.astype("datetime64[D]"), unit="D").astype(object)


def _flags(
    out: pd.DataFrame,
    cfg: PanelConfig,
    dates: pd.DatetimeIndex,
    fresh_price: np.ndarray,
    use_snap: np.ndarray,
    fund_fx_date: np.ndarray,
) -> np.ndarray:
    """Human-readable caveats per row: stale or missing price, a price that is the adjusted close
    (no traded close known), stale fundamentals, figures too old to use, FX carried forward."""
    day = dates.to_numpy().astype("datetime64[us]")

    def dt(values) -> np.ndarray:
        return np.asarray(values).astype("datetime64[us]")

    pdate, fend = dt(out["price_date"]), dt(out["fundamentals_period_end"])
    unused, fxd, ffxd = dt(out["unused_fundamentals_end"]), dt(out["fx_date"]), dt(fund_fx_date)
    basis = out["price_basis"].to_numpy(dtype=object)
    no_price = np.isnat(pdate)
    stale = ~no_price & ~fresh_price
    price = np.select(
        [no_price, stale, basis == "adjusted", basis == "traded, estimated"],
        [
            "no price",
            "stale price (last " + _day(pdate) + ")",
            "adjusted close used (no traded close)",
            "traded price estimated (gap in the dividend record)",
        ],
        "",
    ).astype(object)
    stale_f = ~use_snap & ~np.isnat(fend)
    stale_f &= (day - fend) > np.timedelta64(cfg.stale_fundamentals_days, "D")
    too_old = ~use_snap & ~np.isnat(unused) & (np.isnat(fend) | (unused < fend))
    carry = np.timedelta64(cfg.fx_carry_flag_days, "D")
    c1 = ~np.isnat(fxd) & ((day - fxd) > carry)
    c2 = ~np.isnat(ffxd) & ((day - ffxd) > carry)
    first = np.where(c1 & c2, np.minimum(fxd, ffxd), np.where(c1, fxd, ffxd))
    return _join(
        price,
        _text(stale_f, "stale fundamentals (FY end " + _day(fend) + ")"),
        _text(too_old, "fundamentals too old to use (FY end " + _day(unused) + ")"),
        _text(c1 | c2, "FX carried forward from " + _day(first) + ""),
    )
