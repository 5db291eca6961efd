"""CLI contract of the backtests: JSON keys, --out files, sweeps, one-line errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from aigap.cli import main
from backtests.metrics import SUMMARY_METRICS

pytestmark = pytest.mark.vbt


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_backtest_discount_json_and_out(capsys, tmp_path):
    code, out, err = run(
        capsys,
        "backtest",
        "discount",
        "--start",
        "2021-01-01",
        "--end",
        "2024-12-31",
        "--top",
        "4",
        "--rebalance",
        "M",
        "--format",
        "json",
        "--out",
        str(tmp_path / "bt"),
        "--walk-forward",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert {"metrics", "benchmarks", "rebalances", "diagnostics", "walk_forward"} <= set(doc)
    for k in (*SUMMARY_METRICS, "turnover", "exposure"):
        assert k in doc["metrics"]
    assert {"KWEB", "MCHI", "China EW", "US peers EW"} <= set(doc["benchmarks"])
    assert {"alpha", "beta", "information_ratio"} <= set(doc["relative"]["KWEB"])
    r = doc["rebalances"][0]
    assert r["trade_date"] > r["signal_date"] and len(r["weights"]) == 4
    assert sum(r["weights"].values()) == pytest.approx(1.0)
    eq = pd.read_csv(tmp_path / "bt" / "equity.csv", index_col=0, parse_dates=True)
    assert eq.index[0] >= pd.Timestamp("2021-01-01") and "KWEB" in eq.columns
    assert (tmp_path / "bt" / "weights_00.csv").exists()
    saved = json.loads((tmp_path / "bt" / "result.json").read_text())
    assert saved["metrics"] == doc["metrics"]


def test_backtest_discount_sweep_table(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: labels are not cut
    code, out, err = run(
        capsys,
        "backtest",
        "discount",
        "--start",
        "2022-01-01",
        "--end",
        "2023-12-29",
        "--top",
        "3,5",
        "--rebalance",
        "W,M",
        "--weighting",
        "equal,inverse_vol",
        "--signal",
        "valuation,price",
    )
    assert code == 0, err
    assert out.count("top3|") >= 8 and "top5|M|inverse_vol|price" in out


def test_backtest_pairs_sweep_json(capsys):
    code, out, err = run(
        capsys,
        "backtest",
        "pairs",
        "--pair",
        "BABA:AMZN",
        "--pair",
        "JD:AMZN",
        "--lookback",
        "20,60",
        "--entry",
        "1.5,2",
        "--exit",
        "0,0.5",
        "--stop",
        "3,4",
        "--borrow-rate",
        "0.05",
        "--format",
        "json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert len(doc["runs"]) == 2 * 2 * 2 * 2 * 2
    run0 = doc["runs"][0]
    assert {"params", "metrics", "trades"} <= set(run0)
    t = run0["trades"][0]
    assert {"entry_date", "exit_date", "direction", "long_leg", "short_leg", "pnl"} <= set(t)
    assert doc["pair_statistics"] == {}  # opt-in
    code, out, err = run(
        capsys,
        "backtest",
        "pairs",
        "--pair",
        "BABA:9988.HK",
        "--start",
        "2024-01-01",
        "--stats",
        "--format",
        "json",
    )
    assert code == 0, err
    assert json.loads(out)["pair_statistics"]["BABA:9988.HK"]["coint_pvalue"] is not None


@pytest.mark.parametrize(
    "args",
    [
        ("backtest", "discount", "--start", "2025-01-01", "--end", "2024-01-01"),
        ("backtest", "discount", "--top", "three"),
        ("backtest", "discount", "--rebalance", "fortnightly"),
        ("backtest", "discount", "--weighting", "magic"),
        ("backtest", "discount", "--start", "2030-01-01", "--end", "2031-01-01"),
        ("backtest", "pairs", "--pair", "BABA-AMZN"),
        ("backtest", "pairs", "--pair", "BABA:AMZN", "--entry", "2", "--exit", "3"),
        ("backtest", "pairs", "--pair", "BABA:AMZN", "--hedge", "kalman"),
        ("backtest", "discount", "--out", "/proc/version"),
    ],
)
def test_backtest_bad_input(capsys, args):
    code, _, err = run(capsys, *args)
    assert code != 0 and err.startswith("aigap: error:") and err.count("\n") == 1, err
