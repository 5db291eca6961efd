"""``aigap data verify``: each check finds what was planted in a SYNTHETIC store and nothing
else; the screen and the backtests flag the names it touches; the embedded data is checked."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from aigap.cli import main
from data.store import Store
from data.verify import flags_by_ticker, verify_store
from screens.screen import run_screen

from synthetic import bdays, edited_copy, fund_row, write_store


@pytest.fixture
def planted(tmp_path, synthetic_universe):
    """SYNTHETIC: USA jumps +200% on 2024-06-03 with no action; USB halves on a recorded 2:1
    split that the adjusted close was not restated for; USC has a 20-day hole; USS ends in
    March; UST's split is restated (no finding); 9001.HK is stored in USD."""
    idx = bdays()
    flat = pd.Series(50.0, index=idx)
    usa = flat.where(idx < "2024-06-03", 150.0)
    usb = flat.where(idx < "2024-09-02", 25.0)
    usc = flat.drop(idx[(idx > "2024-04-01") & (idx < "2024-04-22")])
    uss = flat.loc[:"2024-03-28"]
    prices = {
        "USA": usa,
        "USB": usb,
        "USC": usc,
        "USS": uss,
        "UST": flat,
        "SPY": flat,
        "CNA": flat,
        "CNB": flat,
        "CNS": flat,
        "9001.HK": flat,
        "CNY=X": flat * 0 + 7.0,
        "HKD=X": flat * 0 + 7.8,
    }
    actions = [
        {
            "ticker": "USB",
            "date": pd.Timestamp("2024-09-02"),
            "factor": 2.0,
            "kind": "stock_split",
            "note": "synthetic",
        },
        {
            "ticker": "UST",
            "date": pd.Timestamp("2024-09-02"),
            "factor": 2.0,
            "kind": "stock_split",
            "note": "synthetic",
        },
    ]
    fund = [
        fund_row(
            t,
            2023,
            "2024-03-15",
            revenue=1000.0,
            net_income=100.0,
            eps=1.0,
            shares=100.0,
        )
        for t in ("CNA", "CNB", "CNS", "USA", "USB", "USC")
    ]
    store = write_store(tmp_path / "s", prices, fundamentals=fund, actions=actions)
    px = store.table("prices")
    px.loc[px["ticker"] == "9001.HK", "currency"] = "USD"
    px.to_parquet(store.root / "prices.parquet", index=False)
    return Store(store.root)


def test_each_check_finds_what_was_planted(planted, synthetic_universe):
    rep = verify_store(planted, synthetic_universe)
    got = {(f.check, f.ticker, f.date) for f in rep.findings}
    assert got == {
        ("jump", "USA", "2024-06-03"),
        ("unrestated_split", "USB", "2024-09-02"),
        ("gap", "USC", "2024-04-01"),
        ("stale", "USS", "2024-03-28"),
        ("currency", "9001.HK", None),
    }
    assert rep.data_end == "2024-12-31"
    (jump,) = [f for f in rep.findings if f.check == "jump"]
    assert jump.detail.startswith("+200%")  # 50 -> 150, computed by hand


def test_findings_become_flags_within_a_window(planted, synthetic_universe):
    rep = verify_store(planted, synthetic_universe)
    early = flags_by_ticker(rep, pd.Timestamp("2024-01-01"), pd.Timestamp("2024-05-31"))
    assert "USA" not in early and early["USC"] == ["data check: gap 2024-04-01"]
    late = flags_by_ticker(rep, pd.Timestamp("2024-06-01"), pd.Timestamp("2024-12-31"))
    assert late["USA"] == ["data check: jump 2024-06-03"] and "USC" not in late
    assert late["USS"] == ["data check: stale 2024-03-28"]


def test_the_screen_flags_a_name_the_check_touches(planted, synthetic_universe):
    res = run_screen(planted, synthetic_universe, "2024-12-31")
    flags = dict(zip(res.rows["ticker"], res.rows["flags"], strict=True))
    assert "data check: currency" in flags["9001.HK"]
    assert all("data check" not in flags[t] for t in ("CNA", "CNB", "CNS"))


def test_a_corrupt_file_is_a_finding_and_exit_3(tmp_path, embedded, capsys):
    root = edited_copy(embedded.root, tmp_path / "c", {})
    path = Store(root).table_path("valuations")
    path.write_bytes(path.read_bytes()[:-10])
    code = main(["data", "verify", "--data-dir", str(root), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 3 and doc["counts"]["corrupt"] == 1
    assert doc["findings"][0]["detail"].startswith(str(path))


def test_verify_on_the_embedded_data(capsys):
    code = main(["data", "verify", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["data_end"] == "2026-07-14"
    assert set(doc["counts"]) <= {"gap", "stale"}  # no jumps, splits or currencies to doubt
    stale = {f["ticker"] for f in doc["findings"] if f["check"] == "stale"}
    assert {"0981.HK", "3690.HK", "HKD=X"} <= stale and "BABA" not in stale


def test_a_backtest_document_lists_its_data_checks(capsys):
    code = main(
        ["backtest", "pairs", "--pair", "BABA:9988.HK", "--start", "2024-01-01", "--format", "json"]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["data_checks"] == {}
    code = main(
        ["backtest", "pairs", "--pair", "JD:9618.HK", "--start", "2025-01-01", "--format", "json"]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["data_checks"] == {"9618.HK": ["data check: stale 2025-10-30"]}


def test_a_restated_small_bonus_issue_is_not_flagged(tmp_path, synthetic_universe):
    """A 1.2 bonus issue on a quiet, restated day (the close does not move): no finding."""
    idx = bdays()
    flat = pd.Series(50.0, index=idx)
    prices = {"USA": flat, "SPY": flat, "CNA": flat, "CNY=X": flat * 0 + 7.0}
    act = [
        {
            "ticker": "USA",
            "date": pd.Timestamp("2024-05-06"),
            "factor": 1.2,
            "kind": "bonus_issue",
            "note": "synthetic",
        }
    ]
    store = write_store(tmp_path / "s", prices, actions=act)
    rep = verify_store(store, synthetic_universe)
    assert [f for f in rep.findings if f.check == "unrestated_split"] == []
