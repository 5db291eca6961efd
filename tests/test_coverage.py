"""``aigap data coverage``: per date and name, which multiples are computable and why not."""

from __future__ import annotations

import json

import pandas as pd

from aigap.cli import main
from screens.coverage import coverage
from screens.screen import run_screen


def _json(capsys, *args: str) -> dict:
    assert main(["data", "coverage", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_coverage_json_agrees_with_the_screen(capsys, embedded, universe):
    doc = _json(capsys, "--start", "2021-06-01", "--end", "2021-06-30")
    (day,) = doc["dates"]
    assert day["date"] == "2021-06-30"
    ranked = run_screen(embedded, universe, "2021-06-30").rows["rank"].notna().sum()
    assert day["china_valued"] == ranked >= 20
    assert day["us_with_ps"] >= 20
    names = {n["ticker"]: n for n in day["names"]}
    assert set(names) == set(universe.china) | set(universe.us)
    assert names["2513.HK"]["metrics"]["ps"] == "not listed yet"  # Zhipu listed in 2026
    assert names["KC"]["metrics"]["ps"] == "no share count"  # only an IPO-year average then
    assert names["NTES"]["metrics"]["ps"] is None
    assert names["PDD"]["metrics"]["pe_trailing"] == "negative earnings"


def test_coverage_table_has_a_summary_line_per_date(capsys):
    assert main(["data", "coverage", "--start", "2025-04-01", "--end", "2025-06-30"]) == 0
    out = capsys.readouterr().out
    for d in ("2025-04-30", "2025-05-30", "2025-06-30"):
        assert f"{d}: " in out
    assert "Chinese names valued" in out


def test_every_gap_names_its_input(embedded, universe):
    res = coverage(embedded, universe, [pd.Timestamp("2026-07-01")])
    china = res.rows[res.rows["role"] == "china"]
    unvalued = china[~china["valued"]]
    assert len(unvalued) and unvalued["ps"].map(lambda x: isinstance(x, str) and x != "").all()


def test_coverage_bad_input_is_one_line(capsys):
    assert main(["data", "coverage", "--start", "2026-07-01", "--end", "2026-05-01"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("aigap: error:") and "\n" not in err
