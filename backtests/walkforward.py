"""Walk-forward selection over the runs of a sweep: choose on a training window, report the next
window out of sample, roll forward.  Works on any ``date x run`` returns frame; since every run's
returns on a date depend only on data up to that date, slicing one full-period sweep is the same
as re-running it window by window."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtests import defaults
from backtests.metrics import MIN_ANNUALISE_DAYS, summary
from data.errors import InputError

__all__ = ["WalkForward", "check_walk_forward", "walk_forward", "walk_forward_report"]


def check_walk_forward(train_years: float, test_months: int) -> None:
    if not train_years > 0:
        raise InputError("--train-years must be positive")
    if test_months < 1:
        raise InputError("--test-months must be at least 1")


@dataclass(frozen=True)
class WalkForward:
    """A walk-forward selection: train on ``train_years``, test the next ``test_months``."""

    train_years: float = defaults.TRAIN_YEARS
    test_months: int = defaults.TEST_MONTHS

    def __post_init__(self) -> None:
        check_walk_forward(self.train_years, self.test_months)


def walk_forward(
    returns: pd.DataFrame,
    *,
    train_years: float = defaults.TRAIN_YEARS,
    test_months: int = defaults.TEST_MONTHS,
    metric: str = "sharpe",
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Returns the per-window choices, the stitched out-of-sample returns of the configuration
    chosen in each training window, and those of the median configuration of each training
    window (what choosing adds: compare the two)."""
    check_walk_forward(train_years, test_months)
    idx = returns.index
    train = pd.DateOffset(months=round(train_years * 12))
    start = idx[0] + train
    choices: list[dict] = []
    oos: list[pd.Series] = []
    med: list[pd.Series] = []
    while start <= idx[-1]:
        stop = start + pd.DateOffset(months=test_months)
        tr = returns.loc[start - train : start - pd.Timedelta(days=1)]
        te = returns.loc[start : stop - pd.Timedelta(days=1)]
        if len(tr) < MIN_ANNUALISE_DAYS:
            break
        if stop > idx[-1] and len(te) < 0.75 * test_months * 21:
            break  # the last, partial test window is too short to compare: dropped
        scores = {r: summary(tr[r])[metric] for r in tr.columns}
        ranked = sorted(scores, key=lambda r: (np.nan_to_num(scores[r], nan=-np.inf), r))
        best, median = ranked[-1], ranked[(len(ranked) - 1) // 2]
        choices.append(
            {
                "train_start": tr.index[0],
                "test_start": te.index[0],
                "test_end": te.index[-1],
                "chosen": best,
                f"train_{metric}": scores[best],
                f"test_{metric}": summary(te[best])[metric],
                "median_config": median,
                f"median_test_{metric}": summary(te[median])[metric],
            }
        )
        oos.append(te[best])
        med.append(te[median])
        start = stop
    empty = pd.Series(dtype=float)
    return (
        pd.DataFrame(choices),
        pd.concat(oos) if oos else empty,
        pd.concat(med) if med else empty,
    )


def walk_forward_report(
    returns: pd.DataFrame,
    *,
    train_years: float = defaults.TRAIN_YEARS,
    test_months: int = defaults.TEST_MONTHS,
) -> dict:
    """The walk-forward result as plain data: the windows and the out-of-sample metrics (None,
    with a note, when the period is shorter than one training plus one test window)."""
    choices, oos, med = walk_forward(returns, train_years=train_years, test_months=test_months)
    if choices.empty:
        return {
            "windows": [],
            "oos_metrics": None,
            "note": f"the period is shorter than {train_years:g} training years plus "
            f"{test_months} test months",
        }
    return {
        "windows": choices.to_dict("records"),
        "oos_metrics": summary(oos),
        "median_config_oos_metrics": summary(med),
        "train_years": train_years,
        "test_months": test_months,
    }
