"""What a PM reads: market cap, --sort, cut names, the counts under each segment median, the
line saying how old the data are, and why a name entered or left since the last screen."""

from __future__ import annotations

import io
import json

import pandas as pd

from aigap.cli import main
from aigap.render import _cut, data_age_line


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_sort_by_market_cap_keeps_the_ranks(capsys):
    code, out, err = run(capsys, "screen", "--sort", "-market_cap", "--format", "csv")
    assert code == 0, err
    df = pd.read_csv(io.StringIO(out))
    ranked = df[df["rank"].notna()]
    assert list(ranked["market_cap"]) == sorted(ranked["market_cap"], reverse=True)
    assert sorted(ranked["rank"]) == list(range(1, len(ranked) + 1))
    code, _, err = run(capsys, "screen", "--sort", "beauty")
    assert code == 2 and "--sort must be one of" in err


def test_table_has_market_cap_counts_and_the_data_age_line(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = run(capsys, "screen", "--as-of", "2026-07-01")
    assert code == 0, err
    assert "mcap $bn" in out and "each median rests on" in out
    assert " 12:21" in out or ":21" in out  # China:US counts under the ALL medians
    today = pd.Timestamp.today().normalize()
    assert f"data end 2026-07-14: {(today - pd.Timestamp('2026-07-14')).days} days" in out


def test_data_age_and_cut_helpers():
    line = data_age_line(pd.Timestamp("2026-07-14"), pd.Timestamp("2026-11-29 15:00"))
    assert line == "data end 2026-07-14: 138 days before today (2026-11-29)"
    assert _cut("Alibaba Group Holding", 10) == "Alibaba G\u2026" and _cut("JD", 10) == "JD"


def test_the_diff_says_why_a_name_entered_or_left(capsys, tmp_path):
    arch = tmp_path / "arch"
    assert main(["screen", "--as-of", "2025-12-31", "--archive", str(arch), "--format", "json",
                 "--out", str(tmp_path / "old.json")]) == 0  # fmt: skip
    capsys.readouterr()
    code, out, err = run(capsys, "screen", "--as-of", "2026-07-14", "--archive", str(arch),
                         "--diff", "2025-12-31", "--format", "json")  # fmt: skip
    assert code == 0, err
    changes = json.loads(out)["diff"]["changes"]
    by = {c["ticker"]: c for c in changes}
    left = [c for c in changes if c["change"] == "left"]
    entered = [c for c in changes if c["change"] == "entered"]
    assert left or entered
    for c in left + entered:
        assert c["why"], c  # a reason for every entry and exit
    now = json.loads((tmp_path / "old.json").read_text())
    for c in left:  # the reason is the name's flags today
        assert c["previous_score"] is not None and c["score"] is None
    assert all(set(c) >= {"previous_score", "score", "why"} for c in by.values())
    assert now["as_of"] == "2025-12-31"


def test_backtest_tables_stay_readable_at_100_columns(capsys, monkeypatch):
    """Nothing cut at 100 columns: long run labels become r1, r2 ... with a legend, and a
    table too wide for the terminal continues below instead of squeezing its cells."""
    monkeypatch.setenv("COLUMNS", "100")
    code, out, err = run(capsys, "backtest", "discount", "--start", "2024-01-01", "--top", "3,5",
                         "--rebalance", "W,M")  # fmt: skip
    assert code == 0, err
    assert "r1 = top3|W|equal|valuation" in out
    code, out2, err = run(capsys, "backtest", "pairs", "--pair", "BABA:AMZN", "--start",
                          "2023-01-01")  # fmt: skip
    assert code == 0, err
    for text in (out, out2):
        table_lines = [x for x in text.splitlines() if x.strip()]
        assert all(len(x) <= 100 for x in table_lines)
        assert "\u2026" not in text  # no cell cut with an ellipsis
    assert "2024-05-06" in out2  # pairs dates whole
    code, out3, err = run(capsys, "screen")
    assert code == 0, err
    assert all(len(x) <= 100 for x in out3.splitlines()) and "\u2026" not in out3
    assert "(continued)" in out3 and "mcap $bn" in out3


def test_the_diff_in_csv_and_its_reasons(capsys, tmp_path):
    arch = tmp_path / "arch"
    assert main(["screen", "--as-of", "2025-12-31", "--archive", str(arch), "--format", "json",
                 "--out", str(tmp_path / "old.json")]) == 0  # fmt: skip
    capsys.readouterr()
    code, out, err = run(capsys, "screen", "--archive", str(arch), "--diff", "2025-12-31",
                         "--format", "csv")  # fmt: skip
    assert code == 0, err
    df = pd.read_csv(io.StringIO(out))
    assert {"previous_rank", "previous_score", "change", "why"} <= set(df.columns)
    moved = df[df["change"].isin(["entered", "left"])]
    assert len(moved) and moved["why"].notna().all()
    reasons = ("new data", "was filtered", "was stale", "filtered", "stale", "no data")
    assert all(str(w).startswith(reasons) for w in moved["why"])
    entered = df[df["change"] == "entered"]
    assert all("(previously:" in w or "not in the previous" in w for w in entered["why"])
