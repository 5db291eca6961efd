"""The command-line contract: names, formats, one-line errors, non-zero exits, no partial files."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from aigap.cli import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_data_status_json(capsys, universe):
    code, out, _ = run(capsys, "data", "status", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert set(rows[0]) == {"ticker", "source", "first_date", "last_date", "rows", "currency"}
    tickers = {r["ticker"] for r in rows}
    assert set(universe.tickers) <= tickers and {"CNY=X", "HKD=X"} <= tickers


def test_data_prices_csv_matches_store(capsys, embedded):
    code, out, _ = run(
        capsys, "data", "prices", "BABA", "0700.HK", "--start", "2024-01-02", "--end", "2024-01-31"
    )
    assert code == 0
    df = pd.read_csv(io.StringIO(out), index_col="date", parse_dates=True)
    ref = embedded.close(["BABA", "0700.HK"], "2024-01-02", "2024-01-31")
    assert list(df.columns) == ["BABA", "0700.HK"]
    pd.testing.assert_frame_equal(
        df, ref, check_names=False, check_freq=False, atol=1e-6, check_index_type=False
    )


def test_data_prices_json_and_fx(capsys):
    code, out, _ = run(
        capsys,
        "data",
        "prices",
        "HKD=X",
        "--start",
        "2025-01-02",
        "--end",
        "2025-01-03",
        "--format",
        "json",
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["currency"]["HKD=X"] == "HKD per USD"
    assert 7.7 < doc["prices"][0]["HKD=X"] < 7.9


@pytest.mark.parametrize(
    "args",
    [
        ("data", "prices", "NOPE"),
        ("data", "prices", "BABA", "--start", "yesterday-ish"),
        ("data", "status", "--format", "xml"),
        ("screen", "--as-of", "1999-01-01"),
        ("screen", "--as-of", "not-a-date"),
        ("screen", "--segments", "crypto"),
        ("screen", "--universe", "/nonexistent/universe.toml"),
        ("screen", "--no-such-option"),
        ("data", "status", "--data-dir", "/nonexistent/store"),
        ("data", "update", "BABA"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(capsys, monkeypatch, args):
    monkeypatch.delenv("AIGAP_DATA_DIR", raising=False)
    code, _, err = run(capsys, *args)
    assert code != 0
    assert err.startswith("aigap: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_screen_json_out_and_exports(capsys, tmp_path):
    out_file = tmp_path / "screen.json"
    wl = tmp_path / "watch.txt"
    code, _, err = run(
        capsys,
        "screen",
        "--as-of",
        "2026-07-01",
        "--format",
        "json",
        "--out",
        str(out_file),
        "--export",
        str(wl),
        "--watchlist-format",
        "txt",
        "--archive",
        str(tmp_path / "arch"),
    )
    assert code == 0, err
    doc = json.loads(out_file.read_text())
    assert doc["as_of"] == "2026-07-01"
    ranked = [r["ticker"] for r in doc["rows"] if r["rank"] is not None]
    assert wl.read_text().split() == ranked
    assert (tmp_path / "arch" / "screen-2026-07-01.json").read_text() == out_file.read_text()
    code, out, _ = run(
        capsys,
        "screen",
        "--as-of",
        "2025-12-31",
        "--archive",
        str(tmp_path / "arch"),
        "--diff",
        "2026-07-01",
        "--segments",
        "cloud,software",
        "--top",
        "3",
    )
    assert code == 0 and "Changes since the screen of 2026-07-01" in out


def test_failed_write_leaves_no_partial_file(capsys, tmp_path):
    target = tmp_path / "adir"
    target.mkdir()
    code, _, err = run(
        capsys, "screen", "--as-of", "2026-07-01", "--format", "csv", "--out", str(target)
    )
    assert code != 0 and "is a folder" in err
    assert list(target.iterdir()) == [] and list(tmp_path.glob(".*")) == []
