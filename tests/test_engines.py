"""Sweeps on a distributed engine give the local run's results exactly (a Dask cluster of two
worker processes on this machine)."""

from __future__ import annotations

import pandas as pd
import pytest

from backtests.engines import map_chunks
from backtests.pairs import run_pairs_sweep
from data.errors import InputError
from strategies.pairs import parse_pair


def _square(x: int) -> int:
    return x * x


def test_local_map_keeps_order_and_reports_progress():
    seen = []
    assert map_chunks(_square, [(3,), (1,), (2,)], on_done=seen.append) == [9, 1, 4]
    assert seen == [1, 1, 1]
    with pytest.raises(InputError, match="--engine"):
        map_chunks(_square, [(1,)], engine="spark")


def test_dask_sweep_is_identical_to_the_local_run(embedded, universe):
    pytest.importorskip("distributed")
    pairs = [parse_pair(p, universe) for p in ("BABA:AMZN", "KC:basket")]
    kw = dict(
        lookbacks=(20, 60),
        entries=(1.5, 2.0),
        exits=(0.5,),
        stops=(4.0,),
        start="2023-01-01",
        stats=True,
    )
    local = run_pairs_sweep(embedded, universe, pairs, engine="local", **kw)
    done = []
    dist = run_pairs_sweep(
        embedded, universe, pairs, engine="dask", workers=2, on_done=done.append, **kw
    )
    assert len(done) == 4  # 2 pairs x 2 lookbacks
    pd.testing.assert_frame_equal(local.table, dist.table)
    pd.testing.assert_frame_equal(local.value, dist.value)
    pd.testing.assert_frame_equal(local.returns, dist.returns)
    assert local.trades.keys() == dist.trades.keys()
    for run in local.trades:
        pd.testing.assert_frame_equal(local.trades[run], dist.trades[run])
    assert local.stats == dist.stats
