"""The one rule for values in JSON documents (data.jsonsafe)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from data.jsonsafe import clean, number, to_json


@given(st.floats(allow_nan=True, allow_infinity=True), st.integers(0, 10))
def test_a_float_is_rounded_or_null(x, digits):
    got = json.loads(to_json({"x": np.float64(x)}))["x"] if digits == 8 else number(x, digits)
    if not math.isfinite(x):
        assert got is None
    else:
        assert got == round(x, 8 if digits == 8 else digits)


@given(st.integers(-(10**15), 10**15))
def test_integers_stay_integers(n):
    assert number(n) == n and isinstance(number(n), int)
    assert json.loads(to_json([n])) == [n]


def test_documents_are_the_same_text_every_time():
    doc = {
        "b": [1.23456789012, float("nan"), None, True, "x"],
        "a": pd.Timestamp("2026-07-14 00:00"),
        3: {
            "inf": float("-inf"),
            "np": np.int64(7),
            "obj": object,
            "yes": np.bool_(True),
            "nat": pd.NaT,
            "na": pd.NA,
            "d64": np.datetime64("2020-01-01T00:00:00.000000000"),
            "nat64": np.datetime64("NaT"),
        },
    }
    text = to_json(doc)
    assert text == to_json(clean(doc))  # cleaning twice changes nothing
    back = json.loads(text)
    assert list(back) == ["3", "a", "b"]  # sorted keys, as text
    assert back["a"] == "2026-07-14" and back["b"] == [1.23456789, None, None, True, "x"]
    assert back["3"]["inf"] is None and back["3"]["np"] == 7.0
    assert back["3"]["yes"] is True and back["3"]["nat"] is None and back["3"]["na"] is None
    assert back["3"]["d64"] == "2020-01-01" and back["3"]["nat64"] is None
