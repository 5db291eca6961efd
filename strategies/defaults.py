"""The strategies' defaults: one home, read by the parameter objects and the command line.

No imports, so the CLI declares its options without loading pandas."""

from __future__ import annotations

#: the long-discount rule: names held, rebalancing calendar (pandas frequency), weighting,
#: the signal that ranks the names, and the cap on one name's weight
TOP_N = 5
REBALANCE = "ME"
WEIGHTING = "equal"
SIGNAL = "valuation"
CAP = 0.25
