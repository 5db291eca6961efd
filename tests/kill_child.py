"""Child process of ``test_store_safety.test_sigkill_at_any_moment_leaves_a_consistent_store``.

Runs ``update_store`` on a SYNTHETIC store in a loop with a fake provider that feeds data
slowly (a new day of SYNTHETIC prices per round), so that the parent's SIGKILL lands in any
phase: download, merge, table writes, the manifest commit, the clean-up.
The test forks it (:func:`updates_forever`: no second import of pandas); by hand:
``python kill_child.py STORE UNIVERSE [RUN]``.
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


def provider_frame(close, dates) -> pd.DataFrame:
    """A SYNTHETIC daily frame in the provider's layout (what ``download_prices`` returns per
    ticker): flat OHLC at ``close``, no splits, no dividends."""
    return pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1.0,
         "close_unadjusted": close, "split": 0.0, "dividend": 0.0},
        index=pd.DatetimeIndex(dates, name="date"),
    )  # fmt: skip


class PricesOnly:
    """A SYNTHETIC provider's valuation side: none (every call fails as offline)."""

    def info(self, ticker):
        raise ConnectionError("SYNTHETIC: no valuations in this test")

    def annual_statements(self, ticker, currency, lag_days):
        raise ConnectionError("SYNTHETIC: no valuations in this test")

    def valuation_measures(self, ticker):
        raise ConnectionError("SYNTHETIC: no valuations in this test")


class SlowProvider(PricesOnly):
    """SYNTHETIC prices for TICKERS up to a day that moves forward every round."""

    def __init__(self, end: pd.Timestamp, level: float = 10.0) -> None:
        self.end, self.level = end, level

    def download_prices(self, tickers, start, end=None, on_chunk=None):
        time.sleep(0.005)
        idx = pd.bdate_range(self.end - pd.Timedelta(days=60), self.end)
        frames = {}
        for i, t in enumerate(tickers):
            frames[t] = provider_frame(self.level + i + np.arange(len(idx)) * 0.01, idx)
            time.sleep(0.002)
        return PriceBatch(frames=frames)


def updates_forever(root: str, universe_path: str, run: int, say) -> None:
    """Update the store again and again, saying ``ready`` first and ``committed`` after each
    update (``say``: a callable taking the word); the parent kills it at some moment."""
    universe = load_universe(universe_path)
    # each child prices at its own level: every commit is a version no other child writes
    level = 10.0 + float(run)
    end = pd.Timestamp("2024-12-31")
    say("ready")
    while True:
        end += pd.offsets.BDay(1)
        update_store(Path(root), universe, TICKERS, provider=SlowProvider(end, level))
        say("committed")  # the parent kills after a random number of these


class HeldProvider(SlowProvider):
    """SYNTHETIC prices that wait, inside the download (under the store's lock), until
    ``release`` is set, having set ``holding``: the other update runs while this one holds
    the store."""

    def __init__(self, end: pd.Timestamp, holding, release) -> None:
        super().__init__(end)
        self.holding, self.release = holding, release

    def download_prices(self, tickers, start, end=None, on_chunk=None):
        self.holding.set()
        self.release.wait(60)
        return super().download_prices(tickers, start, end, on_chunk)


def first_update(root: str, universe_path: str, holding, release) -> None:
    """One ``data update`` of TICKERS into ``root`` (a new folder) with a
    :class:`HeldProvider`, exiting 3 when the lock refuses it (any other error ends the child
    with 1; a forked child of
    ``test_store_safety.test_two_first_updates_at_once_leave_one_valid_store``)."""
    from data.errors import StoreLockedError

    provider = HeldProvider(pd.Timestamp("2025-01-31"), holding, release)
    try:
        update_store(root, load_universe(universe_path), TICKERS, provider=provider)
    except StoreLockedError as e:
        sys.exit(e.exit_code)


def main() -> None:
    def say(word: str) -> None:
        print(word, flush=True)

    updates_forever(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0, say)


if __name__ == "__main__":
    main()
