"""Benchmark: a parameter sweep as one stacked vectorbt simulation vs one simulation per
parameter set (the baseline), on the embedded data.  Prints seconds and the ratio; not a test.

    .venv/bin/python bench/bench_sweep.py [runs]
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from backtests.engine import simulate_weights
from data.fx import usd_closes
from data.store import resolve_store
from data.universe import load_universe


def main(k: int = 48) -> None:
    store, uni = resolve_store(), load_universe()
    cal = store.close(["SPY"]).loc["2019-01-01":].index
    px = usd_closes(store, uni, uni.china, cal)
    rng = np.random.default_rng(0)
    weights = {}
    for j in range(k):
        w = pd.DataFrame(np.nan, index=cal, columns=px.columns)
        for i in range(0, len(cal), 5 + j % 17):
            ok = np.flatnonzero(px.iloc[i].notna().to_numpy())
            pick = rng.choice(ok, size=min(5, len(ok)), replace=False)
            w.iloc[i] = np.where(px.iloc[i].notna(), 0.0, np.nan)
            w.iloc[i, pick] = 1.0 / len(pick)
        weights[f"run{j}"] = w
    simulate_weights(px, {"warm": weights["run0"]})  # compile / load kernels once
    t = time.perf_counter()
    for name, w in weights.items():
        simulate_weights(px, {name: w}, fees=0.001).value()
    loop = time.perf_counter() - t
    t = time.perf_counter()
    simulate_weights(px, weights, fees=0.001).value()
    stacked = time.perf_counter() - t
    print(f"{k} parameter sets x {px.shape[1]} names x {len(cal)} days")
    print(f"baseline, one simulation per set: {loop:.3f} s")
    print(f"one stacked simulation:           {stacked:.3f} s")
    print(f"speed-up (baseline / stacked):    {loop / stacked:.1f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 48)
