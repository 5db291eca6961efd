"""Benchmark: the point-in-time valuation panel for all weekly dates 2019-2026 in one call vs one
call per date (the baseline, what a naive backtest loop would do).  Prints seconds and ratio.

    .venv/bin/python bench/bench_panel.py
"""

from __future__ import annotations

import time

from data.pointintime import valuation_panel
from data.store import resolve_store
from data.universe import load_universe
from strategies.long_discount import signal_dates


def main() -> None:
    store, uni = resolve_store(), load_universe()
    cal = store.close(["SPY"]).loc["2019-01-01":].index
    dates = signal_dates(cal, "W")
    valuation_panel(store, uni, dates[:2])  # load tables once
    t = time.perf_counter()
    for d in dates:
        valuation_panel(store, uni, [d])
    loop = time.perf_counter() - t
    t = time.perf_counter()
    valuation_panel(store, uni, dates)
    once = time.perf_counter() - t
    print(f"{len(dates)} weekly dates x {len(uni.china) + len(uni.us)} names")
    print(f"baseline, one call per date: {loop:.3f} s")
    print(f"one call for all dates:      {once:.3f} s")
    print(f"speed-up:                    {loop / once:.1f}x")


if __name__ == "__main__":
    main()
