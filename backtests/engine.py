"""The simulation engine: the only module that imports vectorbt.

Target weights are executed with ``Portfolio.from_orders(size_type="targetpercent",
group_by=..., cash_sharing=True, call_seq="auto")`` in USD.  Several parameter sets run in one
call: their weights are stacked as column blocks and grouped by parameter set, so a sweep is
one vectorised simulation, not a Python loop of simulations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data.derived import use_numba_cache

__all__ = ["group_frame", "simulate_stacked", "simulate_weights", "traded_value", "vbt"]


use_numba_cache()  # before vectorbt imports numba
import vectorbt as vbt  # noqa: E402


def simulate_weights(
    close: pd.DataFrame,
    weights: dict[str, pd.DataFrame],
    *,
    fees: float = 0.0,
    slippage: float = 0.0,
    init_cash: float = 1_000_000.0,
):
    """Simulate each named target-weight frame on ``close`` (USD, wide, same calendar) in one
    vectorbt call.  Returns the grouped portfolio; its groups are the keys of ``weights``."""
    if not weights:
        raise ValueError("nothing to simulate")
    keys = list(weights)
    big_close = pd.concat({k: close for k in keys}, axis=1, names=["run", "ticker"])
    big_size = pd.concat(
        {k: weights[k].reindex(index=close.index, columns=close.columns) for k in keys},
        axis=1,
        names=["run", "ticker"],
    )
    return simulate_stacked(big_close, big_size, fees=fees, slippage=slippage, init_cash=init_cash)


def simulate_stacked(
    close: pd.DataFrame,
    size: pd.DataFrame,
    *,
    fees: float = 0.0,
    slippage: float = 0.0,
    init_cash: float = 1_000_000.0,
):
    """One vectorbt simulation of target weights ``size`` on ``close``; both have ``(run,
    asset)`` columns and each run is a cash-sharing group.  NaN size = no order; a held
    position is valued at the last close while its market is shut."""
    if not close.columns.equals(size.columns):
        raise ValueError("close and size must have the same columns")
    return vbt.Portfolio.from_orders(
        close=close.ffill(),
        size=size.to_numpy(dtype=float),
        size_type="targetpercent",
        group_by="run",
        cash_sharing=True,
        call_seq="auto",
        fees=fees,
        slippage=slippage,
        init_cash=init_cash,
        freq="1D",
    )


def group_frame(pf, method: str) -> pd.DataFrame:
    """A grouped time series (``value``, ``returns``, ``cash``) as a date x run frame."""
    out = getattr(pf, method)()
    return out if isinstance(out, pd.DataFrame) else out.to_frame()


def traded_value(pf) -> pd.DataFrame:
    """Absolute traded notional per day and run (for turnover)."""
    rec = pf.orders.records
    cols = pf.wrapper.columns
    runs = cols.get_level_values("run")
    idx = pf.wrapper.index
    out = pd.DataFrame(0.0, index=idx, columns=pd.Index(pd.unique(runs), name="run"))
    if len(rec):
        notional = np.abs(rec["size"] * rec["price"])
        df = pd.DataFrame({"i": rec["idx"], "run": runs[rec["col"]], "v": notional})
        agg = df.groupby(["i", "run"])["v"].sum().unstack("run").fillna(0.0)
        rows = agg.index.to_numpy()
        cols_pos = [out.columns.get_loc(c) for c in agg.columns]
        out.iloc[rows, cols_pos] = agg.to_numpy()
    return out
