"""Sweeps on a distributed engine give the local run's results exactly (a Dask cluster of two
worker processes on this machine)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from backtests.engines import map_chunks
from backtests.pairs import run_pairs_sweep
from data.errors import CorruptFileError, DataError, InputError
from strategies.pairs import parse_pair


def _square(x: int) -> int:
    return x * x


def _chunk(kind: str) -> None:
    """``sleep``: a chunk still running when another fails; ``env``: fails with what the worker
    reads of the environment in its message (an error of two arguments, which plain pickling
    cannot carry back)."""
    import os
    import time
    from pathlib import Path

    from data.errors import CorruptFileError

    if kind == "sleep":
        time.sleep(0.3)
        return
    seen = (os.environ.get("AIGAP_CACHE_DIR"), os.environ.get("XDG_CACHE_HOME"))
    raise CorruptFileError(Path("prices.parquet"), repr(seen))


def test_local_map_keeps_order_and_reports_progress():
    seen = []
    assert map_chunks(_square, [(3,), (1,), (2,)], on_done=seen.append) == [9, 1, 4]
    assert seen == [1, 1, 1]
    with pytest.raises(InputError, match="--engine"):
        map_chunks(_square, [(1,)], engine="spark")


@pytest.mark.first
def test_dask_sweep_is_identical_to_the_local_run(embedded, universe, monkeypatch, tmp_path, capfd):
    pytest.importorskip("distributed")
    pairs = [parse_pair(p, universe) for p in ("BABA:AMZN", "KC:basket")]
    kw = dict(
        lookbacks=(20, 60),
        entries=(1.5, 2.0),
        exits=(0.5,),
        stops=(4.0,),
        start="2024-06-01",  # about 500 days: every run trades, and the statistics are computed
        stats=True,
    )
    local = run_pairs_sweep(embedded, universe, pairs, engine="local", **kw)
    assert len(local.trades) == 8 and all(len(t) for t in local.trades.values())
    assert set(local.stats) == {"BABA:AMZN", "KC:basket"}
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # in the workers' server's environment
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
    # the workers are forked from a server started with the first cluster's environment; a
    # later cluster's workers read this process's as it is now (a variable unset since: its
    # default); a chunk's error reaches the caller as itself, without a log on stderr
    monkeypatch.setenv("AIGAP_CACHE_DIR", str(tmp_path / "later"))
    monkeypatch.delenv("XDG_CACHE_HOME")
    capfd.readouterr()
    with pytest.raises(CorruptFileError) as failed:
        map_chunks(_chunk, [("env",), ("sleep",), ("sleep",)], engine="dask", workers=1)
    assert f"({(str(tmp_path / 'later'), str(Path.home() / '.cache'))!r})" in str(failed.value)
    assert capfd.readouterr().err == ""  # nor a warning for a chunk cut short
    assert "in _chunk" in failed.value.__notes__[0]  # the worker's traceback, for --debug


@pytest.mark.parametrize("legacy", [False, True])
def test_a_chunk_runs_only_on_the_store_and_universe_the_sweep_started_on(
    synthetic_universe, tmp_path, legacy, monkeypatch
):
    """A worker opens the store by its path: after a commit (or on a machine holding other
    files) it would mix two versions into one sweep; it refuses instead, for a store with
    checksums and for one written before them (``legacy``).  SYNTHETIC prices."""
    import numpy as np

    import backtests.engines
    from backtests.pairs import PairsParams, _inputs_version, pairs_chunk
    from data.store import Store
    from data.universe import load_universe

    from synthetic import bdays, edited_copy, write_store

    idx = bdays("2023-01-02", "2024-12-31")
    walk = np.exp(np.random.default_rng(5).normal(0, 0.01, (len(idx), 2)).cumsum(axis=0))
    prices = {"CNA": pd.Series(10 * walk[:, 0], idx), "USA": pd.Series(50 * walk[:, 1], idx)}
    prices |= {t: pd.Series(v, idx) for t, v in (("SPY", 1.0), ("BMK", 1.0), ("CNY=X", 7.0))}
    written = write_store(tmp_path / "written", prices)
    root = edited_copy(written.root, tmp_path / "store", {}, legacy=legacy)
    universe = synthetic_universe
    store = Store(root)
    version = _inputs_version(store, universe)
    pair = parse_pair("CNA:USA", universe)
    params = PairsParams(lookbacks=(20,), start="2024-06-03")
    args = (str(root), str(universe.path))
    assert pairs_chunk(*args, version, pair, params, 50).table.shape[0] == 1
    edited_copy(root, root, {"prices": lambda px: px[px["date"] < px["date"].max()]},
                legacy=legacy)  # fmt: skip
    with pytest.raises(DataError, match="not the one the sweep started on"):
        pairs_chunk(*args, version, pair, params, 50)  # the same Store object is not reused
    # the sweep sees it before it starts a cluster
    monkeypatch.setattr(backtests.engines, "map_chunks", lambda *a, **k: pytest.fail("ran"))
    with pytest.raises(DataError, match="committed again after it was opened"):
        run_pairs_sweep(store, universe, [pair], params, engine="dask")
    other = tmp_path / "universe.toml"
    other.write_text(universe.path.read_text().replace("Synthetic benchmark", "Another", 1))
    assert load_universe(other).fingerprint() != universe.fingerprint()
    fresh = _inputs_version(Store(root), universe)
    assert pairs_chunk(*args, fresh, pair, params, 50).table.shape[0] == 1
    with pytest.raises(DataError, match="not the one the sweep started on"):
        pairs_chunk(str(root), str(other), fresh, pair, params, 50)


def test_the_toolkits_errors_survive_pickling_as_themselves():
    """A chunk's error comes back from a worker process pickled; plain pickling calls the
    constructor with the message alone, which most of these do not take."""
    import io
    import pickle

    from data.errors import (
        AigapError,
        DateRangeError,
        OutputPathError,
        ProviderError,
        StoreLockedError,
        UnknownTickerError,
    )

    errors = [
        CorruptFileError(Path("/s/prices.parquet"), "truncated"),
        OutputPathError("/x.csv", "Permission denied"),
        DateRangeError("2025-01-01", "2024-01-01"),
        StoreLockedError("/s"),
        UnknownTickerError(["ZZZ", "YYY"], "the universe"),
        ProviderError("Yahoo failed", tickers=["BABA"]),
        DataError("plain"),
    ]
    for err in errors:
        buf = io.BytesIO()
        pickler = pickle.Pickler(buf)
        # not what other libraries register (distributed installs tblib's reducer for every
        # exception class loaded when it is imported)
        pickler.dispatch_table = {}
        pickler.dump(err)
        back = pickle.loads(buf.getvalue())
        assert type(back) is type(err) and str(back) == str(err)
        assert vars(back) == vars(err) and isinstance(back, AigapError)


def test_a_store_version_leaves_out_what_is_not_a_table_file(embedded, tmp_path):
    from data.store import Store

    from synthetic import edited_copy

    root = edited_copy(embedded.root, tmp_path / "store", {}, legacy=True)
    before = Store(root).version()
    (root / "notes.parquet").mkdir()  # a folder, and a link to nothing, named like tables
    (root / "gone.parquet").symlink_to(tmp_path / "nowhere")
    assert Store(root).version() == before


def test_an_unreadable_table_file_is_a_data_error(embedded, tmp_path, monkeypatch):
    import hashlib

    from data.store import Store

    from synthetic import edited_copy

    root = edited_copy(embedded.root, tmp_path / "store", {}, legacy=True)

    def fails(*a, **k):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(hashlib, "file_digest", fails)
    with pytest.raises(DataError, match=r"cannot read .*Input/output error"):
        Store(root).version()
