"""How much a sweep's best result owes to the number of configurations tried.

* :func:`distinct_trials` - configurations with identical returns are one trial, not two;
* :func:`deflated_sharpe` - Bailey and Lopez de Prado, "The Deflated Sharpe Ratio" (Journal of
  Portfolio Management, 2014): the probability that the best configuration's Sharpe ratio is
  above what the best of ``N`` unskilled trials would show, given the trials' dispersion, the
  sample length, skewness and kurtosis;
* :func:`probability_of_backtest_overfitting` - Bailey, Borwein, Lopez de Prado and Zhu, "The
  Probability of Backtest Overfitting" (Journal of Computational Finance, 2017): combinatorially
  symmetric cross-validation over ``S`` blocks of the sample; the share of splits in which the
  in-sample winner ranks at or below the median out of sample.

All work on per-period (daily) returns; no annualisation enters the formulas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations, pairwise

import numpy as np
import pandas as pd
from scipy.stats import kurtosis, norm, skew

__all__ = [
    "Overfitting",
    "deflated_sharpe",
    "distinct_trials",
    "expected_max_sharpe",
    "nothing_selected",
    "overfitting_report",
    "probability_of_backtest_overfitting",
]

EULER_GAMMA = 0.5772156649015329


def distinct_trials(returns: pd.DataFrame) -> list[str]:
    """The columns of ``returns`` that differ from every earlier column (identical daily returns
    to 1e-12 are one configuration)."""
    keep: list[str] = []
    arr = returns.fillna(0.0).to_numpy(dtype=float)
    for j, c in enumerate(returns.columns):
        if not any(
            np.allclose(arr[:, j], arr[:, returns.columns.get_loc(k)], atol=1e-12, rtol=0)
            for k in keep
        ):
            keep.append(c)
    return keep


def _sharpe(r: np.ndarray) -> float:
    sd = r.std(ddof=1)
    return float(r.mean() / sd) if sd > 0 else float("nan")


def expected_max_sharpe(trial_sharpes: np.ndarray) -> float:
    """SR0: the per-period Sharpe the best of N unskilled trials with these Sharpes' variance
    would show (the hurdle of the deflated Sharpe ratio)."""
    sr = np.asarray(trial_sharpes, dtype=float)
    sr = sr[np.isfinite(sr)]
    n = len(sr)
    if n < 2:
        return float("nan")
    v = float(sr.var(ddof=1))
    return math.sqrt(v) * (
        (1 - EULER_GAMMA) * norm.ppf(1 - 1.0 / n) + EULER_GAMMA * norm.ppf(1 - 1.0 / (n * math.e))
    )


def deflated_sharpe(
    sharpe: float, n_obs: int, skewness: float, kurt: float, trial_sharpes: np.ndarray
) -> float:
    """DSR of a per-period Sharpe ``sharpe`` over ``n_obs`` returns with ``skewness`` and
    (non-excess) kurtosis ``kurt``, selected as the best of the trials whose per-period Sharpes
    are ``trial_sharpes`` (their count is N, their variance V)."""
    sr = np.asarray(trial_sharpes, dtype=float)
    sr = sr[np.isfinite(sr)]
    n = len(sr)
    if n < 2 or n_obs < 3 or not math.isfinite(sharpe):
        return float("nan")
    sr0 = expected_max_sharpe(sr)
    den = 1 - skewness * sharpe + (kurt - 1) / 4 * sharpe**2
    if den <= 0:
        return float("nan")
    return float(norm.cdf((sharpe - sr0) * math.sqrt(n_obs - 1) / math.sqrt(den)))


def probability_of_backtest_overfitting(returns: pd.DataFrame, blocks: int = 16) -> float:
    """PBO by CSCV: ``returns`` is ``T x N`` (N >= 2 configurations), cut into ``blocks`` (even)
    blocks of consecutive rows; for each of the C(S, S/2) halves taken in sample, the
    configuration with the best in-sample Sharpe gets its relative rank ``w`` out of sample and
    ``logit = ln(w / (1 - w))``; PBO = share of halves with ``logit <= 0``."""
    x = returns.fillna(0.0).to_numpy(dtype=float)
    t, n = x.shape
    if n < 2 or blocks % 2 or t < 2 * blocks:
        return float("nan")
    edges = np.linspace(0, t, blocks + 1).astype(int)
    s1 = np.array([x[a:b].sum(axis=0) for a, b in pairwise(edges)])
    s2 = np.array([(x[a:b] ** 2).sum(axis=0) for a, b in pairwise(edges)])
    cnt = np.diff(edges).astype(float)
    combos = np.array(list(combinations(range(blocks), blocks // 2)))
    mask = np.zeros((len(combos), blocks))
    mask[np.arange(len(combos))[:, None], combos] = 1.0

    def sharpe(m: np.ndarray) -> np.ndarray:
        k = (m @ cnt)[:, None]
        mean = (m @ s1) / k
        var = ((m @ s2) - k * mean**2) / (k - 1)
        sd = np.sqrt(np.maximum(var, 0.0))
        return np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), -np.inf)

    is_sr, oos_sr = sharpe(mask), sharpe(1.0 - mask)
    best = np.argmax(is_sr, axis=1)
    oos_best = oos_sr[np.arange(len(combos)), best]
    # relative rank out of sample in (0, 1): 1 = the best of the N
    rank = (oos_sr < oos_best[:, None]).sum(axis=1) + 0.5 * (
        (oos_sr == oos_best[:, None]).sum(axis=1) - 1
    )
    w = (rank + 1) / (n + 1)
    logit = np.log(w / (1 - w))
    return float((logit <= 0).mean())


@dataclass(frozen=True)
class Overfitting:
    """The overfitting figures of one sweep."""

    n_configurations: int
    n_trials: int
    best: str
    best_sharpe_annualised: float
    hurdle_sharpe_annualised: float
    deflated_sharpe: float
    pbo: float

    def to_dict(self) -> dict:
        return {
            "n_configurations": self.n_configurations,
            "n_trials": self.n_trials,
            "best": self.best,
            "best_sharpe": self.best_sharpe_annualised,
            "hurdle_sharpe": self.hurdle_sharpe_annualised,
            "deflated_sharpe": self.deflated_sharpe,
            "pbo": self.pbo,
        }


def nothing_selected(n_configurations: int, n_trials: int, note: str) -> dict:
    """The overfitting figures of a sweep that selected nothing (one distinct trial): the
    counts, no deflated Sharpe, no PBO, and why."""
    return {
        "n_configurations": n_configurations,
        "n_trials": n_trials,
        "deflated_sharpe": None,
        "pbo": None,
        "note": note,
    }


def overfitting_report(returns: pd.DataFrame, days_per_year: int = 252) -> Overfitting:
    """Distinct trials, the best one's deflated Sharpe ratio and the sweep's PBO, from the
    ``date x configuration`` daily returns of a sweep."""
    distinct = distinct_trials(returns)
    r = returns[distinct].dropna(how="all").fillna(0.0)
    per = {c: _sharpe(r[c].to_numpy()) for c in distinct}
    best = max(per, key=lambda c: (np.nan_to_num(per[c], nan=-np.inf), c))
    b = r[best].to_numpy()
    dsr = deflated_sharpe(
        per[best],
        len(b),
        float(skew(b)),
        float(kurtosis(b, fisher=False)),
        np.array(list(per.values())),
    )
    pbo = probability_of_backtest_overfitting(r) if len(distinct) >= 2 else float("nan")
    return Overfitting(
        n_configurations=returns.shape[1],
        n_trials=len(distinct),
        best=str(best),
        best_sharpe_annualised=per[best] * math.sqrt(days_per_year),
        hurdle_sharpe_annualised=expected_max_sharpe(np.array(list(per.values())))
        * math.sqrt(days_per_year),
        deflated_sharpe=dsr,
        pbo=pbo,
    )
