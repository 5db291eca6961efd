"""Which valued names a screen may rank (and a backtest may hold): one pure rule for both.

A PM who screens with ``--min-metrics 2 --min-market-cap 1e9 --exclude-stale`` can backtest
the same rule (``aigap backtest discount`` takes the same four options; with a rule, every
signal kind holds only names the screen ranks, so ``--signal auto`` holds valued names only).
``--max-price-age`` stays the screen's: the backtests use the one 7-day price rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from data.errors import InputError
from data.rules import STALE_FUNDAMENTALS_DAYS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Eligibility", "exclusions"]


@dataclass(frozen=True)
class Eligibility:
    """``min_market_cap`` in USD; ``stale_days``: a name valued on annual figures whose period
    ended longer ago than this is stale (flagged; with ``exclude_stale``, not ranked)."""

    min_metrics: int = 1
    min_market_cap: float = 0.0
    stale_days: int = STALE_FUNDAMENTALS_DAYS
    exclude_stale: bool = False

    def __post_init__(self) -> None:
        if self.min_metrics < 1:
            raise InputError("--min-metrics must be at least 1")
        if not self.min_market_cap >= 0:
            raise InputError("--min-market-cap must not be negative")
        if self.stale_days < 1:
            raise InputError("--stale-days must be at least 1")


def exclusions(rows: pd.DataFrame, dates, rule: Eligibility) -> pd.DataFrame:
    """One row per row of ``rows`` (the screen's columns ``composite``, ``n_metrics``,
    ``market_cap``, ``fundamentals_period_end`` and ``valuation_source``, on ``dates``: one date
    or one per row): ``stale``, and why a valued name is left out: ``few`` metrics, too
    ``small``, ``old`` (stale, when stale names are excluded); ``ranked``: valued and none of
    the three (what the screen ranks and the backtest may hold)."""
    import pandas as pd

    has = rows["composite"].notna()
    fend = pd.to_datetime(rows["fundamentals_period_end"])
    when = pd.Series(pd.to_datetime(dates), index=rows.index)
    stale = ((when - fend).dt.days > rule.stale_days) & (rows["valuation_source"] == "annual")
    few = has & (rows["n_metrics"] < rule.min_metrics)
    small = has & (rows["market_cap"] < rule.min_market_cap)
    old = has & stale & rule.exclude_stale
    return pd.DataFrame(
        {"stale": stale, "few": few, "small": small, "old": old,
         "ranked": has & ~(few | small | old)},
        index=rows.index,
    )  # fmt: skip
