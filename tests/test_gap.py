"""``aigap gap``: the screen's segment view on every period end, point in time."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
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


def test_a_dates_figures_do_not_depend_on_the_other_dates_asked(embedded, universe):
    """The history reads month ends from one panel over all of them (shared and kept) and
    takes every median in one group-by: the same figures as numpy's median, name by name, on a
    panel of just the dates asked (month ends or not)."""
    from screens.gap import gap_history
    from screens.multiples import METRICS
    from screens.scoring import score_panel

    dates = pd.DatetimeIndex(["2019-06-28", "2021-12-31", "2024-03-28", "2025-08-14"])
    got = gap_history(embedded, universe, dates).set_index(["date", "segment", "metric"])
    mult, _ = score_panel(embedded, universe, dates)  # only these four dates
    n = 0
    for d in dates:
        snap = mult.xs(d, level="date")
        for seg in [*universe.segments, "ALL"]:
            for m in METRICS:
                inseg = [t for t in universe.tickers if seg == "ALL" or universe[t].segment == seg]
                a = _values(snap, m, [t for t in universe.china if t in inseg])
                b = _values(snap, m, [t for t in universe.us if t in inseg])
                row = got.loc[(d, seg, m)]
                assert (row["china_n"], row["us_n"]) == (len(a), len(b))
                if a and b:
                    ca, cb = float(np.median(a)), float(np.median(b))
                    assert row["china_median"] == ca and row["us_median"] == cb
                    assert row["log_gap"] == pytest.approx(np.log(ca / cb), rel=1e-12)
                    n += 1
                else:
                    assert np.isnan(row["log_gap"])
    assert n > 20  # figures, not a table of NaN


def _values(snap, metric, names):
    """The metric's figures of ``names`` that exist on the day (a hand loop, no group-by)."""
    out = []
    for t in names:
        if t in snap.index and not np.isnan(float(snap.at[t, metric])):
            out.append(float(snap.at[t, metric]))
    return out
