"""Store safety: versions committed by one manifest rename, checksums that refuse a corrupted
file, one writer at a time, and SIGKILL at any moment leaving a readable, consistent store."""

from __future__ import annotations

import json
import multiprocessing
import random
import signal
import time

import numpy as np
import pandas as pd
import pytest
from kill_child import PricesOnly, first_update, provider_frame, updates_forever

from aigap.cli import main
from data.commit import LOCK_FILE, commit_tables, store_lock
from data.errors import CorruptFileError, OfflineError, StoreLockedError
from data.store import EMBEDDED, Store
from data.update import UpdateReport, adr_units, statement_additions, update_store
from data.yfinance_provider import PriceBatch

from synthetic import SYNTHETIC_UNIVERSE, bdays, edited_copy, write_store


@pytest.fixture
def committed(tmp_path):
    """A SYNTHETIC store committed with checksums."""
    idx = bdays()
    src = write_store(
        tmp_path / "src",
        {t: pd.Series(10.0 + i, index=idx) for i, t in enumerate(["CNA", "CNB", "USA", "USB"])}
        | {"SPY": pd.Series(400.0, index=idx)},
    )
    return edited_copy(src.root, tmp_path / "store", {})


def test_a_commit_keeps_the_current_and_the_previous_version_only(committed):
    (committed / "notes.txt").write_text("a user's file")
    reader = Store(committed)  # opened before the commits: its manifest is the first version
    first = reader.manifest()["files"]["prices"]["file"]
    px = reader.table("prices")
    commit_tables(committed, {"prices": px[px["date"] < "2024-06-01"]}, reader.manifest())
    second = Store(committed).manifest()["files"]["prices"]["file"]
    assert first != second and {first, second} <= {p.name for p in committed.iterdir()}
    assert len(reader.table("fundamentals")) >= 0  # the previous version is still readable
    commit_tables(committed, {"prices": px[px["date"] < "2024-03-01"]}, Store(committed).manifest())
    names = {p.name for p in committed.iterdir()}
    third = Store(committed).manifest()["files"]["prices"]["file"]
    assert first not in names and {second, third} <= names  # two versions back: removed
    assert "notes.txt" in names  # nothing but table versions and temporary files is removed
    files = json.loads((committed / "manifest.json").read_text())["files"]
    assert names - {"notes.txt", "manifest.json", LOCK_FILE, second} == {
        e["file"] for e in files.values()
    }
    assert Store(committed).table("prices")["date"].max() < pd.Timestamp("2024-03-01")


def test_a_malformed_manifest_is_a_data_error(committed, capsys):
    for bad in (
        '{"files": {"prices": 5}}',
        '{"files": []}',
        '{"files": {"prices": {"file": "x"}}}',
        "[1, 2]",
        "{not json",
    ):
        (committed / "manifest.json").write_text(bad)
        code = main(["screen", "--data-dir", str(committed)])
        err = capsys.readouterr().err
        assert code == 3 and "manifest.json is corrupted" in err and err.count("\n") == 1, bad


def test_first_updates_into_a_new_folder_seed_it_once_under_the_lock(tmp_path, universe):
    root = tmp_path / "new"
    frame = _frame(["JD"], pd.bdate_range("2026-07-01", "2026-07-31"))
    rep = update_store(root, universe, ["JD"], provider=_Fixed(frame))
    assert rep.succeeded == ["JD"] and Store(root).close(["JD"]).index.max() >= pd.Timestamp(
        "2026-07-31"
    )
    # an interrupted first copy (tables, no manifest yet) is copied again, not refused
    part = tmp_path / "part"
    part.mkdir()
    (part / "prices.parquet").write_bytes(b"half")
    update_store(part, universe, ["JD"], provider=_Fixed(frame))
    assert Store(part).has_table("prices")
    # a first update that receives nothing leaves no copy that looks like a store
    empty = tmp_path / "empty"
    with pytest.raises(OfflineError):
        update_store(empty, universe, ["JD"], provider=_Fixed({}))
    assert [p.name for p in empty.iterdir() if not p.name.startswith(".")] == []


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_corrupted_file_is_refused_with_exit_3(committed, capsys, damage):
    path = Store(committed).table_path("prices")
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
    else:
        data = data[: len(data) // 2]
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="checksum differs"):
        Store(committed).table("prices")
    code = main(["data", "prices", "CNA", "--data-dir", str(committed)])
    err = capsys.readouterr().err
    assert code == 3 and f"{path} is corrupted" in err and err.count("\n") == 1


def test_the_embedded_snapshot_carries_checksums_that_hold(embedded):
    files = embedded.manifest()["files"]
    assert set(files) >= {"prices", "fundamentals", "shares", "valuations"}
    for name in files:
        embedded.table(name)  # raises if a committed snapshot file does not match


def test_an_update_rebuilds_a_corrupted_table_from_the_embedded_copy(tmp_path, universe):
    root = edited_copy(EMBEDDED, tmp_path / "store", {})
    path = Store(root).table_path("corporate_actions")
    path.write_bytes(path.read_bytes()[:100])
    frame = _frame(["JD"], pd.bdate_range("2026-07-01", "2026-07-31"))
    rep = update_store(root, universe, ["JD"], provider=_Fixed(frame))
    assert any("corrupted: rebuilt from the embedded snapshot" in w for w in rep.warnings)
    pd.testing.assert_frame_equal(
        Store(root).table("corporate_actions"), Store(EMBEDDED).table("corporate_actions")
    )


def test_one_writer_at_a_time(committed, capsys, universe):
    with store_lock(committed):
        with pytest.raises(StoreLockedError, match="another `aigap data update`"):
            update_store(committed, universe, ["CNA"], provider=_Fixed({}))
        code = main(["data", "update", "CNA", "--data-dir", str(committed)])
    assert code == 3 and "another `aigap data update`" in capsys.readouterr().err
    with store_lock(committed):  # released: it can be taken again
        pass


def test_dividends_in_a_download_are_stored(tmp_path, universe):
    root = edited_copy(EMBEDDED, tmp_path / "store", {})
    dates = pd.bdate_range("2026-07-01", "2026-07-31")
    frame = _frame(["JD"], dates)
    frame["JD"].loc[pd.Timestamp("2026-07-10"), "dividend"] = 0.5
    update_store(root, universe, ["JD"], provider=_Fixed(frame))
    d = Store(root).table("dividends")
    assert d.to_dict("records") == [
        {
            "ticker": "JD",
            "date": pd.Timestamp("2026-07-10"),
            "amount": 0.5,
            "currency": "USD",
            "source": "yfinance Dividends",
        }
    ]


# ----------------------------------------------------------------------- statements and units
def _stmt(**kw):
    row = {
        "ticker": "BABA",
        "fiscal_year": 2025,
        "period_end": pd.Timestamp("2025-03-31"),
        "currency": "CNY",
        "revenue": 996_347.0,
        "net_income": 129_470.0,
        "diluted_eps": 53.58,
        "diluted_shares": 2_416.0,
        "source": "yfinance income_stmt",
        "public_date": pd.Timestamp("2025-07-29"),
        "eps_unit": "listed unit",
    }
    return pd.Series(row | kw)


def test_adr_units_per_ordinary_share_are_converted_to_per_ads():
    # Yahoo gave BABA per ordinary share: 19,328M shares = 2,416M ADS x 8; EPS 6.70 per share
    row, unit = adr_units(_stmt(diluted_shares=19_328.0, diluted_eps=6.70), 8.0, 2_400.0)
    assert row["diluted_shares"] == pytest.approx(2_416.0)
    assert row["diluted_eps"] == pytest.approx(53.6) and "x8" in unit
    # independent check: EPS per ADS ~ net income / ADS count
    assert row["diluted_eps"] == pytest.approx(129_470.0 / 2_416.0, rel=0.01)
    same, unit = adr_units(_stmt(), 8.0, 2_400.0)
    assert same["diluted_eps"] == 53.58 and unit == "per ADS (as given)"
    unclear, unit = adr_units(_stmt(diluted_shares=600.0), 8.0, 2_400.0)
    assert np.isnan(unclear["diluted_eps"]) and unit.startswith("ADR units unclear")
    bad_eps, unit = adr_units(_stmt(diluted_eps=6.70), 8.0, 2_400.0)
    assert np.isnan(bad_eps["diluted_eps"]) and "EPS dropped" in unit
    none, unit = adr_units(_stmt(), 8.0, None)
    assert np.isnan(none["diluted_shares"]) and "no stored ADS count" in unit


def test_statements_fill_missing_figures_in_rows_of_their_own(universe):
    fund = pd.DataFrame(
        [
            _stmt(
                source="compiled",
                diluted_eps=np.nan,
                diluted_shares=np.nan,
                source_rank=1,
                public_date=pd.Timestamp("2025-05-15"),
            ),
        ]
    )
    shares = pd.DataFrame(
        {
            "ticker": ["BABA"],
            "as_of": [pd.Timestamp("2025-03-31")],
            "shares_millions": [2_400.0],
            "usable": [True],
        }
    )
    yahoo = pd.DataFrame(
        [
            _stmt(),
            _stmt(
                fiscal_year=2026,
                period_end=pd.Timestamp("2026-03-31"),
                public_date=pd.Timestamp("2026-07-29"),
            ),
        ]
    )
    add = statement_additions(fund, yahoo, universe, shares, UpdateReport())
    fill, new = add.iloc[0], add.iloc[1]
    assert (
        fill["fiscal_year"] == 2025 and np.isnan(fill["revenue"]) and np.isnan(fill["net_income"])
    )
    assert fill["diluted_eps"] == 53.58 and fill["diluted_shares"] == 2_416.0
    assert "fills diluted_eps, diluted_shares" in fill["source"]
    assert fill["public_date"] == pd.Timestamp("2025-07-29")  # its own date, not the row's
    assert new["fiscal_year"] == 2026 and new["revenue"] == 996_347.0
    assert (add["source_rank"] == 0).all()  # below the compiled row's 1: never preferred
    # the point-in-time reader then keeps the compiled row of the period, even after the fill
    from data.asof import latest_public

    rows = pd.concat([fund, add.iloc[[0]]], ignore_index=True)
    grid = pd.DataFrame({"date": [pd.Timestamp("2025-09-01")], "ticker": ["BABA"]})
    got = latest_public(rows, grid, rank="source_rank")
    assert got["source"].iloc[0] == "compiled"


# ----------------------------------------------------------------------- SIGKILL
@pytest.mark.first
def test_sigkill_at_any_moment_leaves_a_consistent_store(committed, tmp_path):
    uni = tmp_path / "universe.toml"
    uni.write_text(SYNTHETIC_UNIVERSE)
    rng = random.Random(11)
    commits = set()
    took: list[float] = []  # how long a commit takes on this machine
    fork = multiprocessing.get_context("fork")  # the child starts with this process's imports
    for run in range(8):
        ours, theirs = fork.Pipe(duplex=False)
        child = fork.Process(target=updates_forever,
                             args=(str(committed), str(uni), run, theirs.send))  # fmt: skip
        child.start()
        theirs.close()
        try:
            assert _heard(ours, "ready")
            for _ in range(rng.randint(0, 2)):  # let some commits happen, however slow
                began = time.monotonic()
                assert _heard(ours, "committed")
                took.append(time.monotonic() - began)
            # then kill at a random moment of the next one (a quarter second until timed)
            time.sleep(rng.uniform(0.0, max(took, default=0.25)))
        finally:
            child.kill()  # SIGKILL (and never left running when an assertion fails)
            child.join()
        ours.close()
        assert child.exitcode == -signal.SIGKILL
        store = Store(committed)  # opens: the manifest is whole
        files = store.manifest()["files"]
        for name in files:
            store.table(name)  # every file it names is there and matches its checksum
        px = store.table("prices")
        for s in store.manifest()["series"]:  # the manifest and the prices are one version
            mine = px[px["ticker"] == s["ticker"]]
            assert str(mine["date"].max().date()) == s["last_date"]
        commits.add(files["prices"]["file"])
    assert len(commits) >= 3  # the kills landed on different versions
    frame = _frame(["CNA"], pd.bdate_range("2024-12-02", "2024-12-31"))
    rep = update_store(committed, _synthetic(uni), ["CNA"], provider=_Fixed(frame))
    assert rep.succeeded == ["CNA"]
    leftovers = [
        p.name for p in committed.iterdir() if p.name.startswith(".") and p.name != LOCK_FILE
    ]
    assert leftovers == []  # an interrupted write's temporary file is cleaned by the next commit


# ----------------------------------------------------------------------- helpers
def _heard(conn, word: str) -> bool:
    return bool(conn.poll(60)) and conn.recv() == word


def _synthetic(path):
    from data.universe import load_universe

    return load_universe(path)


def _frame(tickers, dates):
    close = np.linspace(30.0, 31.0, len(dates))
    return {t: provider_frame(close, dates) for t in tickers}


class _Fixed(PricesOnly):
    """A SYNTHETIC provider that returns the given frames and no valuations."""

    def __init__(self, frames):
        self.frames = frames

    def download_prices(self, tickers, start, end=None, on_chunk=None):
        return PriceBatch(
            frames={t: f for t, f in self.frames.items() if t in tickers},
            failures={t: "no rows returned" for t in tickers if t not in self.frames},
        )


def test_two_first_updates_at_once_leave_one_valid_store(tmp_path):
    """Two `data update` runs into the same new folder, started together: one seeds and
    updates, the other is refused by the lock (exit 3) and removes nothing.  The first to hold
    the lock waits inside its download until the other has ended, so that the two overlap
    however the machine schedules them (without the lock, neither would end)."""
    from multiprocessing.connection import wait

    uni = tmp_path / "universe.toml"
    uni.write_text(SYNTHETIC_UNIVERSE)
    root = tmp_path / "new"
    fork = multiprocessing.get_context("fork")  # two processes, without importing pandas again
    holding, release = fork.Event(), fork.Event()
    procs = [
        fork.Process(target=first_update, args=(str(root), str(uni), holding, release))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    try:
        assert holding.wait(60)  # one holds the store
        assert wait([p.sentinel for p in procs], timeout=30)  # the other has ended meanwhile
    finally:
        release.set()
        for p in procs:
            p.join(60)
            if p.is_alive():  # a child left running would hang this worker at its exit
                p.kill()
    assert sorted(p.exitcode for p in procs) == [0, 3]
    store = Store(root)
    for name in store.manifest()["files"]:
        store.table(name)
    assert store.close(["CNA"]).index.max() == pd.Timestamp("2025-01-31")


def test_a_prices_table_with_a_row_twice_is_refused_in_one_line(committed, tmp_path, capsys):
    """Two closes of one ticker on one date cannot be laid out as a table of closes (it was
    an internal error, exit 70)."""
    twice = edited_copy(committed, tmp_path / "twice", {"prices": lambda px: pd.concat(
        [px, px[px["ticker"] == "CNB"].iloc[[3]]], ignore_index=True)})  # fmt: skip
    day = Store(committed).table("prices").query("ticker == 'CNB'")["date"].iloc[3].date()
    code = main(["data", "prices", "CNA", "--data-dir", str(twice)])
    err = capsys.readouterr().err
    assert code == 3 and err.count("\n") == 1, err
    assert f"1 extra row(s) for a (date, ticker) given before, e.g. CNB on {day}" in err
    # `aigap data verify`, which the message suggests, lists it as a finding
    code = main(["data", "verify", "--data-dir", str(twice), "--format", "json"])
    found = json.loads(capsys.readouterr().out)["findings"]
    assert code == 3 and [f["check"] for f in found] == ["corrupt"], found
    assert "extra row(s) for a (date, ticker)" in found[0]["detail"]
