"""``aigap gap``: the screen's segment view on every period end, point in time."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aigap.cli import main

KEYS = ["date", "segment", "metric", "china_median", "us_median", "china_n", "us_n", "gap_pct",
        "log_gap", "thin"]  # fmt: skip


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_gap_rows_have_the_documented_keys_and_match_the_screen(capsys):
    code, out, err = run(
        capsys,
        "gap",
        "--start",
        "2025-01-01",
        "--end",
        "2025-06-30",
        "--metric",
        "ps,pe_trailing",
        "--format",
        "json",
    )
    assert code == 0, err
    rows = json.loads(out)
    assert rows and all(list(r) == KEYS for r in rows)
    assert {r["date"] for r in rows} == {
        "2025-01-31",
        "2025-02-28",
        "2025-03-31",
        "2025-04-30",
        "2025-05-30",
        "2025-06-30",
    }
    # the screen on one of those dates gives the same segment view ...
    code, out, _ = run(capsys, "screen", "--as-of", "2025-06-30", "--format", "json")
    screen = json.loads(out)
    seg = {(s["segment"], s["metric"]): s for s in screen["segments"]}
    june = [r for r in rows if r["date"] == "2025-06-30"]
    for r in june:
        s = seg[(r["segment"], r["metric"])]
        assert r["china_n"] == s["china_n"] and r["us_n"] == s["us_n"]
        assert r["china_median"] == pytest.approx(s["china_median"], nan_ok=True)
    # ... and the China medians are the plain median of the screen's own per-name figures
    for r in june:
        vals = [x["metrics"][r["metric"]]["value"] for x in screen["rows"]
                if (r["segment"] == "ALL" or x["segment"] == r["segment"])
                and x["metrics"][r["metric"]]["value"] is not None]  # fmt: skip
        assert len(vals) == r["china_n"]
        if vals:
            assert r["china_median"] == pytest.approx(float(np.median(vals)), rel=1e-6)
            assert r["gap_pct"] == pytest.approx(r["china_median"] / r["us_median"] - 1, abs=2e-6)
        assert r["thin"] == (r["china_n"] < 3 or r["us_n"] < 3)


def test_gap_table_and_reference_points(capsys):
    code, out, err = run(capsys, "gap", "--start", "2025-12-01", "--segments", "ALL,chips")
    assert code == 0, err
    assert "China vs US median ps over time" in out and "2026-07-14" in out
    assert "reference J2 (Jefferies, 2026-01-13)" in out
    assert "ours on 2026-01-13: pe_forward China" in out and "not the reference's basket" in out


@pytest.mark.parametrize(
    "args,needle",
    [
        (("gap", "--metric", "magic"), "unknown metric"),
        (("gap", "--segments", "crypto"), "unknown segment"),
        (("gap", "--start", "2030-01-01"), "must be before"),
        (("gap", "--freq", "D"), "--freq"),
    ],
)
def test_gap_bad_input(capsys, args, needle):
    code, out, err = run(capsys, *args)
    assert code == 2 and needle in err and err.count("\n") == 1 and out == ""
