"""The backtests' defaults: one home, read by the parameter objects and the command line.

No imports, so the CLI declares its options without loading pandas."""

from __future__ import annotations

#: the first day of a default backtest period (the end: the store's last US trading day)
START = "2019-01-01"
#: costs, fractions of the notional per trade (:mod:`backtests.costs` checks them)
FEES = 0.001
SLIPPAGE = 0.0005
#: the pairs rule: z-score lookback (days), entry, exit and stop thresholds (|z|), holding
#: limit (days) and the borrow fee on the short leg (annual)
LOOKBACK = 60
ENTRY = 2.0
EXIT = 0.5
STOP = 4.0
MAX_HOLD = 60
BORROW_RATE = 0.03
#: the hedge ratio of the spread (strategies.pairs.HEDGES)
HEDGE = "ols"
#: the walk-forward selection
TRAIN_YEARS = 2.0
TEST_MONTHS = 6
