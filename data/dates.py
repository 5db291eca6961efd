"""Reading dates given by users: ISO ``YYYY-MM-DD`` (or ``today``), nothing ambiguous."""

from __future__ import annotations

import re

import pandas as pd

from data.errors import DateRangeError, InputError

__all__ = ["parse_date", "parse_period"]

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(value, name: str = "date") -> pd.Timestamp:
    """A timestamp (midnight), or a one-line :class:`InputError` naming the argument.

    Strings must be ISO dates (``2026-01-02``) or ``today`` (the local calendar date): a form
    such as ``01/02/2026`` reads as 2 January in one country and 1 February in another, so it is
    refused rather than guessed.  Timestamps and dates pass through."""
    if isinstance(value, str):
        text = value.strip()
        if text.lower() == "today":
            return pd.Timestamp.today().normalize()
        if not _ISO.fullmatch(text):
            raise InputError(f"{name}: cannot read date {value!r} (use YYYY-MM-DD or today)")
        value = text
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
        raise DateRangeError(s.date(), e.date())
    return s, e
