"""Valuation multiples from point-in-time inputs (:func:`data.pointintime.valuation_panel`).

Every numerator and denominator is in USD at the same date.  A multiple is defined only where its
denominator is positive: a negative P/E is not "cheap", it is undefined.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["METRICS", "METRIC_LABELS", "compute_multiples"]

#: metric -> human label
METRIC_LABELS = {
    "ev_sales": "EV/Sales",
    "ps": "P/S",
    "pe_trailing": "P/E (trailing)",
    "pe_forward": "P/E (forward)",
    "ev_ebitda": "EV/EBITDA",
    "ps_growth": "P/S / revenue growth %",
}
METRICS = tuple(METRIC_LABELS)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    num, den = num.astype(float), den.astype(float)
    ok = (den > 0) & (num > 0) & np.isfinite(num) & np.isfinite(den)
    return (num / den).where(ok)


def compute_multiples(panel: pd.DataFrame) -> pd.DataFrame:
    """Add one column per metric in :data:`METRICS` to a copy of ``panel``.

    * ``ps`` = market cap / sales; ``ev_sales`` = (market cap + debt - cash) / sales.
    * ``pe_trailing`` = market cap / net income where both are known, else price / trailing EPS.
    * ``pe_forward`` = price / next-year EPS (snapshots only).
    * ``ev_ebitda`` = EV / EBITDA (live yfinance data only; the embedded data has no EBITDA).
    * ``ps_growth`` = market cap / filed sales divided by that period's revenue growth over the
      year before, in percent (growth > 0); the sales and the growth come from one period.
    """
    out = panel.copy()
    out["ps"] = _ratio(out["market_cap"], out["sales"])
    out["ev_sales"] = _ratio(out["ev"], out["sales"])
    by_eps = _ratio(out["price_usd"], out["eps_ttm"])
    by_ni = _ratio(out["market_cap"], out["net_income"])
    # market cap / net income where both exist (one share count, one currency: per-ADS EPS of
    # vendors is unreliable for ADRs); price / EPS otherwise
    has_ni = out["net_income"].notna() & out["market_cap"].notna()
    out["pe_trailing"] = by_ni.where(has_ni, by_eps)
    out["pe_forward"] = _ratio(out["price_usd"], out["eps_fwd"])
    out["ev_ebitda"] = _ratio(out["ev"], out["ebitda"])
    # growth and the sales it divides come from one filed period
    growth_sales = out["growth_sales"] if "growth_sales" in out else out["sales"]
    out["ps_growth"] = _ratio(_ratio(out["market_cap"], growth_sales), out["revenue_growth_pct"])
    earnings = out["net_income"].where(has_ni, out["eps_ttm"])
    neg = (earnings <= 0).fillna(False)
    out["negative_earnings"] = neg
    return out
