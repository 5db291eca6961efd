"""Walk-forward selection over the runs of a sweep: choose on a training window, report the next
window out of sample, roll forward.  Works on any ``date x run`` returns frame; since every run's
returns on a date depend only on data up to that date, slicing one full-period sweep is the same
as re-running it window by window."""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.metrics import summary

__all__ = ["walk_forward"]


def walk_forward(
    returns: pd.DataFrame, *, train_years: float = 2.0, test_months: int = 6, metric: str = "sharpe"
) -> tuple[pd.DataFrame, pd.Series]:
    """Returns the per-window choices and the stitched out-of-sample returns."""
    idx = returns.index
    train = pd.DateOffset(months=round(train_years * 12))
    start = idx[0] + train
    choices, oos = [], []
    while start <= idx[-1]:
        stop = start + pd.DateOffset(months=test_months)
        tr = returns.loc[start - train : start - pd.Timedelta(days=1)]
        te = returns.loc[start : stop - pd.Timedelta(days=1)]
        if len(te) == 0 or len(tr) < 20:
            break
        scores = {r: summary(tr[r])[metric] for r in tr.columns}
        best = max(scores, key=lambda r: (np.nan_to_num(scores[r], nan=-np.inf), r))
        choices.append(
            {
                "train_start": tr.index[0],
                "test_start": te.index[0],
                "test_end": te.index[-1],
                "chosen": best,
                f"train_{metric}": scores[best],
                f"test_{metric}": summary(te[best])[metric],
            }
        )
        oos.append(te[best])
        start = stop
    return pd.DataFrame(choices), (pd.concat(oos) if oos else pd.Series(dtype=float))
