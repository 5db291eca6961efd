"""The one rule for trading costs a backtest accepts."""

from __future__ import annotations

from data.errors import InputError

__all__ = ["MAX_COST", "check_costs"]

#: fees or slippage at or above 10% per trade are a unit mistake (``--fees 10`` meant 10 bp)
MAX_COST = 0.1


def check_costs(fees: float, slippage: float) -> None:
    """Fees and slippage are fractions per trade in [0, :data:`MAX_COST`)."""
    for opt, v in (("--fees", fees), ("--slippage", slippage)):
        if not 0 <= v < MAX_COST:
            raise InputError(
                f"{opt} {v:g} is a fraction per trade (0.001 = 0.1%) and must be in "
                f"[0, {MAX_COST:g})"
            )
