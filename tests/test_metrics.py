"""Metrics against hand values and an independent implementation (statsmodels OLS)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.regression.linear_model import OLS
from statsmodels.tools.tools import add_constant

from backtests.metrics import alpha_beta, information_ratio, max_drawdown, summary


def series(values, start="2020-01-01"):
    return pd.Series(values, index=pd.bdate_range(start, periods=len(values)))


def test_max_drawdown_by_hand():
    assert max_drawdown(series([100, 120, 90, 130, 65, 70])) == pytest.approx(65 / 130 - 1)


def test_summary_by_hand():
    rng = np.random.default_rng(0)
    r = series(rng.normal(0.0005, 0.01, 756))
    m = summary(r)
    assert m["total_return"] == pytest.approx(np.prod(1 + r) - 1)
    assert m["volatility"] == pytest.approx(r.std() * np.sqrt(252))
    assert m["sharpe"] == pytest.approx(r.mean() / r.std() * np.sqrt(252))
    down = np.sqrt(np.mean(np.minimum(r, 0) ** 2))
    assert m["sortino"] == pytest.approx(r.mean() / down * np.sqrt(252))
    years = (r.index[-1] - r.index[0]).days / 365.25
    assert m["cagr"] == pytest.approx((1 + m["total_return"]) ** (1 / years) - 1)
    assert m["calmar"] == pytest.approx(m["cagr"] / abs(m["max_drawdown"]))
    assert m["hit_rate"] == pytest.approx((r > 0).mean())


def test_noise_lowers_sharpe():
    rng = np.random.default_rng(1)
    r = series(rng.normal(0.001, 0.01, 1000))
    noisy = r + rng.normal(0, 0.02, 1000)
    assert summary(noisy)["sharpe"] < summary(r)["sharpe"]


def test_alpha_beta_match_statsmodels_ols():
    rng = np.random.default_rng(2)
    b = series(rng.normal(0, 0.01, 500))
    r = 0.0002 + 1.3 * b + series(rng.normal(0, 0.005, 500))
    fit = OLS(r.to_numpy(), add_constant(b.to_numpy())).fit()
    a, beta = alpha_beta(r, b)
    assert beta == pytest.approx(fit.params[1])
    assert a == pytest.approx(fit.params[0] * 252)
    active = r - b
    assert information_ratio(r, b) == pytest.approx(active.mean() / active.std() * np.sqrt(252))


def test_degenerate_input_is_nan():
    assert np.isnan(summary(series([0.01]))["sharpe"])
    assert np.isnan(alpha_beta(series([0.01] * 5), series([0.0] * 5))[1])
