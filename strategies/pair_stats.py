"""Pair statistics with statsmodels (no hand-written tests): Engle-Granger cointegration, ADF on
the spread, half-life of mean reversion, return correlation; over a whole sample and on rolling
windows (cointegration between a Chinese ADR and a US megacap breaks in regime changes)."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

__all__ = ["FIXED_LAGS", "PairStats", "half_life", "pair_statistics", "rolling_pair_statistics"]


@dataclass(frozen=True)
class PairStats:
    """The statistics of a pair on one sample (NaN where the sample is too short or a leg is
    constant); with the rolling windows, how many there were and the share in which the pair
    was cointegrated at 5%."""

    obs: float
    coint_pvalue: float = np.nan  #: Engle-Granger, no cointegration as the null
    adf_pvalue: float = np.nan  #: ADF on the OLS spread of the log prices
    half_life_days: float = np.nan
    return_corr: float = np.nan  #: of daily returns
    beta: float = np.nan  #: OLS hedge ratio of ln a on ln b
    rolling_windows: float | None = None
    rolling_share_cointegrated: float | None = None

    def as_dict(self) -> dict[str, float]:
        """The figures (the rolling ones only when computed), in this order."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def with_rolling(self, rolling: pd.DataFrame) -> PairStats:
        """These statistics with the summary of ``rolling`` (:func:`rolling_pair_statistics`)."""
        if not len(rolling):
            return self
        return replace(self, rolling_windows=float(len(rolling)),
                       rolling_share_cointegrated=float(rolling["held"].mean()))  # fmt: skip


#: the lag order of the Engle-Granger and ADF regressions on rolling windows and in the pairs
#: scan: fixed, because statsmodels' AIC search fits ~27 regressions per test (84% of a scan's
#: time, measured) and its choice jumps between neighbouring windows
FIXED_LAGS = 1


def half_life(spread) -> float:
    """ln 2 / theta from the OLS ``d s_t = c + b s_{t-1}`` (theta = -b); NaN if not reverting.
    ``spread``: a series or an array (missing values are left out)."""
    from statsmodels.regression.linear_model import OLS
    from statsmodels.tools.tools import add_constant

    s = np.asarray(spread, dtype=float)
    s = s[~np.isnan(s)]
    if len(s) < 20:
        return float("nan")
    b = float(OLS(np.diff(s), add_constant(s[:-1], has_constant="add")).fit().params[1])
    return float(np.log(2) / -b) if b < 0 else float("nan")


def pair_statistics(prices: pd.DataFrame, lags: int | None = None) -> PairStats:
    """``prices`` has columns ``a`` and ``b`` (same currency).  Static statistics; the lag order
    of the unit-root regressions is chosen by AIC, or fixed at ``lags``.  The tests run on
    arrays: statsmodels converts a series to one anyway, after checks that cost more than the
    test on a short window."""
    from statsmodels.regression.linear_model import OLS
    from statsmodels.tools.tools import add_constant
    from statsmodels.tsa.stattools import adfuller, coint

    ab = prices[["a", "b"]].to_numpy(dtype=float)
    ab = ab[~np.isnan(ab).any(axis=1)]
    none = PairStats(obs=float(len(ab)))
    if len(ab) < 60:
        return none
    la, lb = np.log(ab[:, 0]), np.log(ab[:, 1])
    if np.ptp(la) == 0 or np.ptp(lb) == 0:  # a constant leg: no test
        return none
    with warnings.catch_warnings():  # statsmodels warns on near-singular small samples
        warnings.simplefilter("ignore")
        auto = {"autolag": "aic"} if lags is None else {"autolag": None, "maxlag": lags}
        coint_p = float(coint(la, lb, **auto)[1])
        fit = OLS(la, add_constant(lb, has_constant="add")).fit()
        spread = la - fit.params[1] * lb
        adf = {"autolag": "AIC"} if lags is None else {"autolag": None, "maxlag": lags}
        return PairStats(
            obs=float(len(ab)),
            coint_pvalue=coint_p,
            adf_pvalue=float(adfuller(spread, **adf)[1]),
            half_life_days=half_life(spread),
            return_corr=_return_corr(ab),
            beta=float(fit.params[1]),
        )


def _return_corr(ab: np.ndarray) -> float:
    """Pearson correlation of the daily returns (pandas' algorithm, as before)."""
    r = ab[1:] / ab[:-1] - 1
    return float(pd.DataFrame(r).corr().iloc[0, 1])


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
        rows.append({"window_end": w.index[-1], **st.as_dict()})
    df = pd.DataFrame(rows)
    if len(df):
        df["held"] = df["coint_pvalue"] < 0.05
        df = df.set_index("window_end")
    return df
