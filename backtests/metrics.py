"""Performance metrics as pure functions of daily returns (or values).  Conventions: 252
trading days a year, risk-free rate 0 (returns are in USD, excess over cash not modelled),
degenerate input gives NaN."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "MIN_ANNUALISE_DAYS",
    "MIN_BACKTEST_DAYS",
    "SUMMARY_METRICS",
    "alpha_beta",
    "information_ratio",
    "max_drawdown",
    "summary",
]

DAYS = 252
#: the shortest backtest period, in US trading days
MIN_BACKTEST_DAYS = 60
#: below this many daily returns a window is too short to annualise (a 9-day Sharpe of 5.5 is
#: noise, not a result): CAGR, volatility, Sharpe, Sortino and Calmar are left blank
MIN_ANNUALISE_DAYS = 63
_ANNUALISED = ("cagr", "volatility", "sharpe", "sortino", "calmar")
#: the keys of :func:`summary`, in display order
SUMMARY_METRICS = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "hit_rate",
)


def _clean(r: pd.Series) -> pd.Series:
    return r.replace([np.inf, -np.inf], np.nan).dropna()


def max_drawdown(value: pd.Series) -> float:
    v = value.dropna()
    if len(v) < 2:
        return float("nan")
    return float((v / v.cummax() - 1.0).min())


def _paired(r: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The two return series on their common dates where both are known."""
    if not r.index.equals(b.index):
        x = pd.concat([r, b], axis=1)
        r, b = x.iloc[:, 0], x.iloc[:, 1]
    rv, bv = r.to_numpy(dtype=float), b.to_numpy(dtype=float)
    ok = ~(np.isnan(rv) | np.isnan(bv))
    return rv[ok], bv[ok]


def alpha_beta(r: pd.Series, b: pd.Series) -> tuple[float, float]:
    """OLS of daily portfolio returns on benchmark returns: annualised alpha, beta."""
    rv, bv = _paired(r, b)
    if len(rv) < MIN_ANNUALISE_DAYS or np.var(bv, ddof=1) == 0:
        return float("nan"), float("nan")
    beta = float(np.cov(rv, bv, ddof=1)[0, 1] / np.var(bv, ddof=1))
    alpha = float(rv.mean() - beta * bv.mean()) * DAYS
    return alpha, beta


def information_ratio(r: pd.Series, b: pd.Series) -> float:
    rv, bv = _paired(r, b)
    a = rv - bv
    if len(a) < MIN_ANNUALISE_DAYS or np.std(a, ddof=1) == 0:
        return float("nan")
    return float(a.mean() / np.std(a, ddof=1) * np.sqrt(DAYS))


def summary(returns: pd.Series, value: pd.Series | None = None) -> dict[str, float]:
    """Total return, CAGR, volatility, Sharpe, Sortino, max drawdown, Calmar, daily hit rate;
    the annualised ones blank below :data:`MIN_ANNUALISE_DAYS` returns."""
    r = _clean(returns)
    if len(r) < 2:
        return {k: float("nan") for k in SUMMARY_METRICS}
    v = value.dropna() if value is not None else (1 + r).cumprod()
    total = float((1 + r).prod() - 1)
    years = (r.index[-1] - r.index[0]).days / 365.25
    if years <= 0:
        cagr = float("nan")
    else:
        cagr = float((1 + total) ** (1 / years) - 1) if total > -1 else -1.0
    vol = float(r.std() * np.sqrt(DAYS))
    sharpe = float(r.mean() / r.std() * np.sqrt(DAYS)) if r.std() > 0 else float("nan")
    down = np.sqrt((np.minimum(r, 0) ** 2).mean())
    sortino = float(r.mean() / down * np.sqrt(DAYS)) if down > 0 else float("nan")
    mdd = max_drawdown(v)
    calmar = cagr / abs(mdd) if mdd < 0 else float("nan")
    hit = float((r[r != 0] > 0).mean()) if (r != 0).any() else float("nan")
    if len(r) < MIN_ANNUALISE_DAYS:
        cagr = vol = sharpe = sortino = calmar = float("nan")
    return {
        "total_return": total,
        "cagr": cagr,
        "volatility": vol,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": mdd,
        "calmar": calmar,
        "hit_rate": hit,
    }
