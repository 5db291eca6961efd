"""Screen outputs: every watchlist format, byte-identical reruns, the archive diff."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from data.errors import InputError
from screens.export import (
    WATCHLIST_FORMATS,
    diff_screens,
    load_screen_json,
    screen_csv,
    screen_document,
    screen_json,
    write_watchlist,
)
from screens.screen import run_screen


@pytest.fixture(scope="module")
def embedded_screen(embedded, universe):
    return run_screen(embedded, universe, "2026-07-01")


def test_json_document_shape(embedded_screen):
    doc = json.loads(screen_json(embedded_screen))
    assert doc["as_of"] == "2026-07-01"
    assert {"rows", "segments"} <= set(doc)
    r = doc["rows"][0]
    for k in (
        "rank",
        "ticker",
        "name",
        "segment",
        "metrics",
        "composite_discount",
        "tilt",
        "score",
        "flags",
        "n_metrics",
    ):
        assert k in r
    assert set(r["metrics"]["ps"]) == {"value", "peer_median", "peers_n", "log_gap", "discount_pct"}
    assert r["rank"] == 1
    seg = {(s["segment"], s["metric"]) for s in doc["segments"]}
    assert ("ALL", "pe_forward") in seg


@pytest.mark.parametrize("fmt", WATCHLIST_FORMATS)
def test_watchlists_are_byte_identical_and_readable(
    tmp_path, embedded, universe, embedded_screen, fmt
):
    a, b = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
    n = write_watchlist(embedded_screen, universe, a, fmt)
    again = run_screen(embedded, universe, "2026-07-01")  # a fresh run, same inputs
    write_watchlist(again, universe, b, fmt)
    assert a.read_bytes() == b.read_bytes()
    ranked = embedded_screen.rows[embedded_screen.rows["rank"].notna()]["ticker"].tolist()
    assert n == len(ranked)
    if fmt == "txt":
        assert a.read_text().split() == ranked
    elif fmt == "tradingview":
        lines = a.read_text().split()
        assert lines[ranked.index("BABA")] == "NYSE:BABA"
        assert all(":" in x for x in lines)
    elif fmt == "csv":
        df = pd.read_csv(a)
        assert df["ticker"].tolist() == ranked and df["rank"].tolist() == list(range(1, n + 1))
    elif fmt == "json":
        assert [r["ticker"] for r in json.loads(a.read_text())["rows"]] == ranked
    else:
        back = pd.read_excel(a, sheet_name=None)
        assert back["screen"]["ticker"].tolist() == ranked
        assert back["screen"]["composite"].tolist() == pytest.approx(
            embedded_screen.rows.loc[embedded_screen.rows["rank"].notna(), "composite"].tolist()
        )
        assert "segments" in back


def test_csv_and_json_reruns_identical(embedded, universe, embedded_screen):
    again = run_screen(embedded, universe, "2026-07-01")
    assert screen_csv(again) == screen_csv(embedded_screen)
    assert screen_json(again) == screen_json(embedded_screen)


def test_tradingview_hk_and_a_share_symbols(tmp_path, embedded, universe):
    res = run_screen(embedded, universe, "2025-12-31")
    p = tmp_path / "tv.txt"
    write_watchlist(res, universe, p, "tradingview")
    text = p.read_text()
    assert "HKEX:3690" in text and "SZSE:002230" in text


def test_diff_entered_left_moved():
    prev = {
        "as_of": "2026-06-24",
        "rows": [
            {"ticker": "A", "rank": 1},
            {"ticker": "B", "rank": 2},
            {"ticker": "C", "rank": 3},
        ],
    }
    cur = {
        "as_of": "2026-07-01",
        "rows": [
            {"ticker": "B", "rank": 1},
            {"ticker": "A", "rank": 2},
            {"ticker": "D", "rank": 3},
            {"ticker": "C", "rank": None},
        ],
    }
    d = diff_screens(prev, cur).set_index("ticker")
    assert d.loc["B", "change"] == "up" and d.loc["B", "moved"] == 1
    assert d.loc["A", "change"] == "down" and d.loc["A", "moved"] == -1
    assert d.loc["D", "change"] == "entered" and d.loc["C", "change"] == "left"


def test_diff_between_real_screens(embedded, universe, embedded_screen):
    old = screen_document(run_screen(embedded, universe, "2025-12-31"))
    d = diff_screens(old, screen_document(embedded_screen))
    assert {"entered", "left"} & set(d["change"])


def test_bad_previous_screen(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("[1, 2]")
    with pytest.raises(InputError, match="not an aigap screen"):
        load_screen_json(p)
    with pytest.raises(InputError, match="not found"):
        load_screen_json(tmp_path / "missing.json")


def test_xlsx_cells_are_typed_and_the_sheet_is_usable(tmp_path, embedded, universe,
                                                      embedded_screen):  # fmt: skip
    import datetime as dt

    import openpyxl

    from screens.export import write_watchlist

    path = tmp_path / "w.xlsx"
    write_watchlist(embedded_screen, universe, path, "xlsx")
    ws = openpyxl.load_workbook(path)["screen"]
    head = [c.value for c in ws[1]]
    row = dict(zip(head, [c.value for c in ws[2]], strict=True))
    assert isinstance(row["as_of"], dt.datetime) and isinstance(row["price_date"], dt.datetime)
    assert isinstance(row["rank"], int) and isinstance(row["score"], float)
    assert isinstance(row["market_cap"], (int, float))
    # no binary noise: every float has at most 7 significant digits
    for c in ws.iter_rows(min_row=2, values_only=True):
        for v in c:
            if isinstance(v, float) and v != 0:
                assert float(f"{v:.7g}") == v
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref
    assert ws.column_dimensions["D"].width >= len("name") + 2
