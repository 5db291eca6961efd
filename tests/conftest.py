"""Shared fixtures.  Everything called ``synthetic`` here is made-up data for unit tests only;
the toolkit's real data is the embedded snapshot."""

from __future__ import annotations

import gc
import os

import pandas as pd
import pytest

from data.store import EMBEDDED, Store
from data.universe import Universe, load_universe

from synthetic import SYNTHETIC_UNIVERSE, bdays, fund_row, write_store

# what pytest, its plugins, pandas and the store have made so far is kept out of the
# collector's sight while the test modules are imported (and rewritten for assertions): each
# full collection scanned it all again, 1.1 of the 3.5 s a worker took to collect where no
# bytecode is written (9 full collections; with this, one).  Full collections are also rarer
# for the whole session: during the tests they took 1.3 s per worker (16 of about 80 ms,
# measured with ``gc.callbacks``); with these thresholds 7 took 0.7 s, and the young
# generations cost the same.
gc.freeze()
gc.set_threshold(2000, 20, 100)


def pytest_collection_finish(session):
    """The objects that exist once the tests are collected (the modules of pandas, vectorbt,
    scipy, ...: about a million) are moved out of the garbage collector's sight too: each full
    collection scanned them all again (about 2 s per worker, measured with ``gc.callbacks``),
    and so did the one at the interpreter's exit (0.65 s after ``import vectorbt`` alone).
    Garbage the tests make is collected as before."""
    gc.collect()
    gc.freeze()


def pytest_collection_modifyitems(items):
    """The tests marked ``first`` (a few seconds each, much of it waiting for other
    processes) run first: started last, one of them kept a worker busy after the other had
    ended (about 1.5 s of one idle core at the end of a run).  A test moved ahead of its
    module sets that module's fixtures up once more: mark none that uses module fixtures."""
    items.sort(key=lambda item: item.get_closest_marker("first") is None)  # stable


@pytest.fixture(scope="session", autouse=True)
def _derived_cache(tmp_path_factory):
    """Derived figures (data.derived) are kept in a folder of this test session, shared by its
    workers and the commands they start; never in the user's cache."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    os.environ["AIGAP_CACHE_DIR"] = str(base / "aigap-derived")
    os.environ.pop("AIGAP_NO_CACHE", None)


@pytest.fixture(scope="session")
def embedded() -> Store:
    return Store(EMBEDDED)


@pytest.fixture(scope="session")
def universe() -> Universe:
    return load_universe()


@pytest.fixture
def synthetic_universe(tmp_path) -> Universe:
    p = tmp_path / "synthetic_universe.toml"
    p.write_text(SYNTHETIC_UNIVERSE)
    return load_universe(p)


@pytest.fixture
def synthetic_store(tmp_path) -> Store:
    """SYNTHETIC: flat prices, known fundamentals, FX CNY=7.0 / HKD=7.8, so every multiple can be
    computed by hand (see tests/test_screen.py)."""
    idx = bdays()
    const = lambda v: pd.Series(float(v), index=idx)  # noqa: E731
    prices = {
        "CNA": const(10.0),
        "9001.HK": const(9.75),
        "CNB": const(5.0),
        "CNS": const(20.0),
        "USA": const(100.0),
        "USB": const(50.0),
        "USC": const(30.0),
        "USS": const(40.0),
        "UST": const(60.0),
        "BMK": const(1.0),
        "CNY=X": const(7.0),
        "HKD=X": const(7.8),
    }
    f = [
        # CNA: ADR, CNY statements. shares in ADS millions.  P/S = 10*100 / (700/7) = 10
        fund_row(
            "CNA",
            2023,
            "2024-03-15",
            currency="CNY",
            revenue=700.0,
            net_income=70.0,
            eps=0.7,
            shares=100.0,
        ),
        fund_row("CNA", 2022, "2023-03-15", currency="CNY", revenue=350.0),
        fund_row("CNB", 2023, "2024-03-15", revenue=100.0, net_income=-10.0, eps=-0.5, shares=20.0),
        fund_row("CNS", 2023, "2024-03-15", revenue=100.0, net_income=10.0, eps=1.0, shares=10.0),
        fund_row(
            "USA", 2023, "2024-02-15", revenue=500.0, net_income=50.0, eps=5.0, shares=10.0
        ),  # P/S 2, P/E 20
        fund_row(
            "USB", 2023, "2024-02-15", revenue=100.0, net_income=20.0, eps=1.0, shares=20.0
        ),  # P/S 10, P/E 50
        fund_row(
            "USC", 2023, "2024-02-15", revenue=150.0, net_income=10.0, eps=1.0, shares=10.0
        ),  # P/S 2, P/E 30
        fund_row(
            "USS", 2023, "2024-02-15", revenue=40.0, net_income=4.0, eps=1.0, shares=4.0
        ),  # P/S 4, P/E 40
        fund_row(
            "UST", 2023, "2024-02-15", revenue=60.0, net_income=2.0, eps=1.0, shares=2.0
        ),  # P/S 2, P/E 60
    ]
    return write_store(tmp_path / "store", prices, f)
