"""Child process of ``test_store_safety.test_sigkill_at_any_moment_leaves_a_consistent_store``.

Runs ``update_store`` on a SYNTHETIC store in a loop with a fake provider that feeds data
slowly (a new day of SYNTHETIC prices per round), so that the parent's SIGKILL lands in any
phase: download, merge, table writes, the manifest commit, the clean-up.
Usage: python kill_child.py STORE UNIVERSE
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from data.universe import load_universe
from data.update import update_store
from data.yfinance_provider import PriceBatch

TICKERS = ["CNA", "CNB", "USA", "USB"]


class SlowProvider:
    """SYNTHETIC prices for TICKERS up to a day that moves forward every round."""

    def __init__(self, end: pd.Timestamp) -> None:
        self.end = end

    def download_prices(self, tickers, start, end=None, on_chunk=None):
        time.sleep(0.005)
        idx = pd.bdate_range(self.end - pd.Timedelta(days=60), self.end)
        frames = {}
        for i, t in enumerate(tickers):
            close = 10.0 + i + np.arange(len(idx)) * 0.01
            frames[t] = pd.DataFrame(
                {
                    "open": close,
                    "high": close,
                    "low": close,
                    "close": close,
                    "volume": 1.0,
                    "close_unadjusted": close,
                    "split": 0.0,
                    "dividend": 0.0,
                },
                index=pd.DatetimeIndex(idx, name="date"),
            )
            time.sleep(0.002)
        return PriceBatch(frames=frames)

    def info(self, ticker):
        raise ConnectionError("SYNTHETIC: no valuations in this test")

    def annual_statements(self, ticker, currency, lag_days):
        raise ConnectionError("SYNTHETIC: no valuations in this test")

    def valuation_measures(self, ticker):
        raise ConnectionError("SYNTHETIC: no valuations in this test")


def main() -> None:
    root, universe = Path(sys.argv[1]), load_universe(sys.argv[2])
    end = pd.Timestamp("2024-12-31")
    print("ready", flush=True)
    while True:
        end += pd.offsets.BDay(1)
        update_store(root, universe, TICKERS, provider=SlowProvider(end))
        print("committed", flush=True)  # the parent kills after a random number of these


if __name__ == "__main__":
    main()
