"""The one rule for values in the JSON documents (screens, gap histories, backtests): NaN and
infinities are null, dates are ISO days, numbers are rounded so that the bytes do not depend on
the last bits of a float, and the same document is always the same text."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["DIGITS", "clean", "frame_records", "iso_day", "number", "to_json"]

#: decimal places of a number in a backtest document (the screen's figures state their own)
DIGITS = 8


def iso_day(x: Any) -> str | None:
    """A date (timestamp, numpy date, date text) as its ISO day; None where missing."""
    return None if x is None or pd.isna(x) else pd.Timestamp(x).date().isoformat()


def number(x: Any, digits: int = DIGITS) -> Any:
    """One value as JSON: None for missing (NaN, NaT, NA) or infinite; dates (pandas and
    numpy) as ISO days (:func:`iso_day`); booleans (numpy's too) and Python integers as they
    are; any other number (numpy integers included) a float rounded to ``digits`` places;
    text as text; anything else its text."""
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, np.bool_):
        return bool(x)
    if x is pd.NaT or x is pd.NA:
        return None
    if isinstance(x, (pd.Timestamp, np.datetime64)):
        return iso_day(x)
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(f):
        return None
    if isinstance(x, int):
        return int(x)
    return round(f, digits)


def clean(x: Any, digits: int = DIGITS) -> Any:
    """A whole document JSON-safe: :func:`number` on every value."""
    if isinstance(x, dict):
        return {str(k): clean(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v, digits) for v in x]
    return number(x, digits)


def frame_records(df: pd.DataFrame) -> dict:
    """A frame as ``{index: {column: value}}``, cleaned."""
    return {str(i): clean(r) for i, r in df.to_dict("index").items()}


def to_json(doc: Any, *, sort_keys: bool = True) -> str:
    """The document as text: cleaned, indented by one, keys sorted, a final newline."""
    return json.dumps(clean(doc), indent=1, sort_keys=sort_keys, allow_nan=False) + "\n"
