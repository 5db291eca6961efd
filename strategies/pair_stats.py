"""Pair statistics with statsmodels (no hand-written tests): Engle-Granger cointegration, ADF on
the spread, half-life of mean reversion, return correlation; over a whole sample and on rolling
windows (cointegration between a Chinese ADR and a US megacap breaks in regime changes)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = ["FIXED_LAGS", "half_life", "pair_statistics", "rolling_pair_statistics"]

#: the lag order of the Engle-Granger and ADF regressions on rolling windows and in the pairs
#: scan: fixed, because statsmodels' AIC search fits ~27 regressions per test (84% of a scan's
#: time, measured) and its choice jumps between neighbouring windows
FIXED_LAGS = 1


def half_life(spread: pd.Series) -> float:
    """ln 2 / theta from the OLS ``d s_t = c + b s_{t-1}`` (theta = -b); NaN if not reverting."""
    import statsmodels.api as sm

    s = spread.dropna()
    if len(s) < 20:
        return float("nan")
    ds = s.diff().dropna()
    lag = s.shift(1).reindex(ds.index)
    b = float(
        sm.OLS(ds.to_numpy(), sm.add_constant(lag.to_numpy(), has_constant="add")).fit().params[1]
    )
    return float(np.log(2) / -b) if b < 0 else float("nan")


def pair_statistics(prices: pd.DataFrame, lags: int | None = None) -> dict[str, float]:
    """``prices`` has columns ``a`` and ``b`` (same currency).  Static statistics; the lag order
    of the unit-root regressions is chosen by AIC, or fixed at ``lags``."""
    import statsmodels.api as sm
    from statsmodels.tsa.stattools import adfuller, coint

    p = prices[["a", "b"]].dropna()
    out = {
        "obs": float(len(p)),
        "coint_pvalue": np.nan,
        "adf_pvalue": np.nan,
        "half_life_days": np.nan,
        "return_corr": np.nan,
        "beta": np.nan,
    }
    if len(p) < 60:
        return out
    la, lb = np.log(p["a"]), np.log(p["b"])
    if np.ptp(la.to_numpy()) == 0 or np.ptp(lb.to_numpy()) == 0:  # a constant leg: no test
        return out
    with warnings.catch_warnings():  # statsmodels warns on near-singular small samples
        warnings.simplefilter("ignore")
        auto = {"autolag": "aic"} if lags is None else {"autolag": None, "maxlag": lags}
        out["coint_pvalue"] = float(coint(la, lb, **auto)[1])
        fit = sm.OLS(la.to_numpy(), sm.add_constant(lb.to_numpy(), has_constant="add")).fit()
        spread = pd.Series(la.to_numpy() - fit.params[1] * lb.to_numpy(), index=p.index)
        out["beta"] = float(fit.params[1])
        adf = {"autolag": "AIC"} if lags is None else {"autolag": None, "maxlag": lags}
        out["adf_pvalue"] = float(adfuller(spread, **adf)[1])
        out["half_life_days"] = half_life(spread)
    out["return_corr"] = float(p.pct_change().dropna().corr().iloc[0, 1])
    return out


def rolling_pair_statistics(
    prices: pd.DataFrame, window: int = 252, step: int = 21
) -> pd.DataFrame:
    """:func:`pair_statistics` (lag order :data:`FIXED_LAGS`) on trailing windows ending every
    ``step`` days; ``held`` says whether Engle-Granger rejects no-cointegration at 5% in that
    window."""
    p = prices[["a", "b"]].dropna()
    rows = []
    for end in range(window, len(p) + 1, step):
        w = p.iloc[end - window : end]
        st = pair_statistics(w, lags=FIXED_LAGS)
        rows.append({"window_end": w.index[-1], **st})
    df = pd.DataFrame(rows)
    if len(df):
        df["held"] = df["coint_pvalue"] < 0.05
        df = df.set_index("window_end")
    return df
