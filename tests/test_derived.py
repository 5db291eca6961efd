"""Figures kept on disk between runs (data.derived): found again only while every input is
unchanged, recomputed when a table or the universe changes, and never in the way of an error."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from aigap.cli import main
from data.derived import load_or_compute
from data.store import Store
from screens.screen import run_screen

from synthetic import write_store  # noqa: F401  (the synthetic store fixture writes with it)


@pytest.fixture
def pinned(synthetic_store) -> Store:
    """The SYNTHETIC store committed once: every table pinned by a checksum in the manifest
    (figures of a store written before checksums are never kept)."""
    from data.commit import commit_tables

    commit_tables(synthetic_store.root, {}, synthetic_store.manifest())
    return Store(synthetic_store.root)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "derived"
    monkeypatch.setenv("AIGAP_CACHE_DIR", str(d))
    return d


def _counting(value):
    calls = []

    def compute():
        calls.append(1)
        return value

    return calls, compute


def test_a_fresh_process_finds_the_figures_again(pinned, cache_dir):
    calls, compute = _counting({"x": 1})
    assert load_or_compute(pinned, "k", compute) == {"x": 1}
    assert load_or_compute(Store(pinned.root), "k", compute) == {"x": 1}
    assert len(calls) == 1 and len(list(cache_dir.glob("*.pkl"))) == 1
    load_or_compute(pinned, "another key", compute)
    assert len(calls) == 2


def test_a_store_without_checksums_is_never_kept(synthetic_store, cache_dir):
    """What a Store read from a table no checksum pins cannot be told from the folder later."""
    calls, compute = _counting(1)
    load_or_compute(synthetic_store, "k", compute)
    load_or_compute(Store(synthetic_store.root), "k", compute)
    assert len(calls) == 2 and not cache_dir.exists()


def test_a_store_updated_twice_is_still_kept(pinned, cache_dir):
    """A commit keeps the version before it (``<name>.<sha12>.parquet``) until the next one;
    that file is never read, and the store's figures are kept as before."""
    from data.commit import commit_tables

    prices = pinned.table("prices")
    for cut in (1, 2):  # two more commits: each leaves the previous version beside it
        commit_tables(pinned.root, {"prices": prices.iloc[:-cut]}, Store(pinned.root).manifest())
    store = Store(pinned.root)
    kept = {e["file"] for e in store.manifest()["files"].values()}
    assert any(n.endswith(".parquet") and n not in kept for n, *_ in store.stamp)
    calls, compute = _counting(1)
    load_or_compute(store, "k", compute)
    load_or_compute(Store(pinned.root), "k", compute)
    assert len(calls) == 1 and len(list(cache_dir.glob("*.pkl"))) == 1


def test_a_changed_table_or_key_is_computed_again(pinned, cache_dir):
    calls, compute = _counting(1)
    load_or_compute(pinned, "k", compute)
    table = next(p for p in pinned.root.iterdir() if p.name.startswith("fundamentals"))
    st = table.stat()
    table.write_bytes(table.read_bytes() + b"\0")  # another size and time
    load_or_compute(Store(pinned.root), "k", compute)
    assert len(calls) == 2
    os.utime(table, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # only the time
    load_or_compute(Store(pinned.root), "k", compute)
    assert len(calls) == 3


def test_the_screen_is_the_same_from_the_cache_and_without_it(
    pinned, synthetic_universe, cache_dir, monkeypatch
):
    first = run_screen(pinned, synthetic_universe, "2024-06-28")
    assert list(cache_dir.glob("*.pkl"))  # the panel, the scores and the checks were kept
    again = run_screen(Store(pinned.root), synthetic_universe, "2024-06-28")
    monkeypatch.setenv("AIGAP_NO_CACHE", "1")
    fresh = run_screen(Store(pinned.root), synthetic_universe, "2024-06-28")
    for other in (again, fresh):
        pd.testing.assert_frame_equal(first.rows, other.rows)
        pd.testing.assert_frame_equal(first.segments, other.segments)


def test_a_table_corrupted_after_a_screen_is_still_refused(tmp_path, cache_dir, capsys):
    import shutil

    from data.store import EMBEDDED

    store = tmp_path / "store"
    shutil.copytree(EMBEDDED, store)
    assert main(["screen", "--data-dir", str(store), "--as-of", "2025-06-30"]) == 0
    prices = next(p for p in store.iterdir() if p.name.startswith("prices"))
    data = bytearray(prices.read_bytes())
    data[len(data) // 2] ^= 0xFF
    prices.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["screen", "--data-dir", str(store), "--as-of", "2025-06-30"]) == 3
    assert "prices" in capsys.readouterr().err


def test_a_broken_entry_or_an_unwritable_folder_only_costs_time(pinned, tmp_path, monkeypatch):
    d = tmp_path / "derived"
    monkeypatch.setenv("AIGAP_CACHE_DIR", str(d))
    calls, compute = _counting([1, 2])
    load_or_compute(pinned, "k", compute)
    (entry,) = d.glob("*.pkl")
    entry.write_bytes(b"not a pickle")
    assert load_or_compute(Store(pinned.root), "k", compute) == [1, 2]
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv("AIGAP_CACHE_DIR", str(blocker / "derived"))  # cannot be a folder
    assert load_or_compute(pinned, "k", compute) == [1, 2]
    assert len(calls) == 3


def test_a_reader_older_than_a_commit_never_poisons_the_new_state(tmp_path, cache_dir):
    """A Store that read its tables before `aigap data update` committed (a notebook, a Dask
    worker) keeps its own figures; a fresh process on the new store computes the new ones."""
    import shutil

    from data.calendar import data_bounds
    from data.commit import commit_tables
    from data.store import EMBEDDED
    from data.universe import load_universe

    root = tmp_path / "store"
    shutil.copytree(EMBEDDED, root)
    uni = load_universe()
    old = Store(root)
    for name in ("prices", "fundamentals", "valuations"):
        old.table(name)
    writer = Store(root)
    px = writer.table("prices")
    commit_tables(root, {"prices": px[px["date"] < "2026-01-01"]}, writer.manifest())
    assert data_bounds(old, uni).last_us_day == pd.Timestamp("2026-07-14")  # its own view
    fresh = data_bounds(Store(root), uni).last_us_day
    assert fresh == pd.Timestamp("2025-12-31")


def test_a_folder_others_can_write_is_never_read(pinned, tmp_path, monkeypatch):
    """A pickle runs code when loaded: a cache folder anyone else may write is ignored."""
    d = tmp_path / "shared"
    d.mkdir()
    d.chmod(0o777)
    monkeypatch.setenv("AIGAP_CACHE_DIR", str(d))
    calls, compute = _counting(1)
    load_or_compute(pinned, "k", compute)
    load_or_compute(Store(pinned.root), "k", compute)
    assert len(calls) == 2 and list(d.iterdir()) == []
