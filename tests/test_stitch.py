"""Stitching by returns (SYNTHETIC series with known returns)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data.stitch import Source, stitch


def src(name, close):
    df = pd.DataFrame({"close": close})
    return Source(name, df, df["close"].pct_change())


def test_extends_backbone_by_returns_not_levels():
    idx = pd.bdate_range("2024-01-01", periods=10)
    true_ret = np.array([0, 0.01, -0.02, 0.03, 0.0, -0.01, 0.02, 0.01, -0.03, 0.02])
    level = 100 * np.cumprod(1 + true_ret)
    # backbone covers days 4..9; an older download covers 0..6 at a level 5% lower (dividends)
    backbone = src("new", pd.Series(level[4:], index=idx[4:]))
    older = src("old", pd.Series(level[:7] * 0.95, index=idx[:7]))
    out, info = stitch([backbone, older])
    assert out.index.equals(idx)
    np.testing.assert_allclose(out["close"].to_numpy(), level)  # anchored to the backbone
    segs = {s["source"]: s for s in info["segments"]}
    assert segs["new"]["rows"] == 6 and segs["old"]["rows"] == 4


def test_later_source_extends_forward_and_anchors_last_close():
    idx = pd.bdate_range("2024-01-01", periods=6)
    a = src("a", pd.Series([10, 11, 12, 13.0], index=idx[:4]))
    b = src("b", pd.Series([26, 28, 30.0], index=idx[3:]))  # another scale
    out, _ = stitch([a, b])
    # the level at the last date is b's last close; returns of b after the join date are kept
    assert out["close"].iloc[-1] == pytest.approx(30.0)
    np.testing.assert_allclose(out["close"].pct_change().iloc[4:], [28 / 26 - 1, 30 / 28 - 1])
    np.testing.assert_allclose(out["close"].pct_change().iloc[1:4], [0.1, 1 / 11, 1 / 12])


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-0.2, 0.2), min_size=5, max_size=60), st.floats(0.1, 10.0), st.integers(1, 3)
)
def test_scaling_a_source_leaves_stitched_returns_unchanged(rets, scale, cut):
    idx = pd.bdate_range("2020-01-01", periods=len(rets) + 1)
    lvl = pd.Series(100 * np.cumprod(np.r_[1.0, 1 + np.array(rets)]), index=idx)
    k = max(1, len(lvl) - cut - 1)
    a, _ = stitch([src("x", lvl[k - 1 :]), src("y", lvl[: k + 1])])
    b, _ = stitch([src("x", lvl[k - 1 :]), src("y", lvl[: k + 1] * scale)])
    np.testing.assert_allclose(
        a["close"].pct_change().dropna(), lvl.pct_change().dropna(), rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(a["close"], b["close"], rtol=1e-9)
