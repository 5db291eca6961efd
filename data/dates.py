"""Reading dates given by users."""

from __future__ import annotations

import pandas as pd

from data.errors import InputError

__all__ = ["parse_date", "parse_period"]


def parse_date(value, name: str = "date") -> pd.Timestamp:
    """A timestamp (midnight), or a one-line :class:`InputError` naming the argument."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise InputError(f"{name}: cannot read date {value!r} (use YYYY-MM-DD)") from None
    if ts is pd.NaT or pd.isna(ts):
        raise InputError(f"{name}: cannot read date {value!r} (use YYYY-MM-DD)")
    return ts.tz_localize(None).normalize() if ts.tzinfo else ts.normalize()


def parse_period(start, end) -> tuple[pd.Timestamp, pd.Timestamp]:
    s, e = parse_date(start, "--start"), parse_date(end, "--end")
    if s >= e:
        raise InputError(f"--start {s.date()} must be before --end {e.date()}")
    return s, e
