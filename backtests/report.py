"""Serialising backtest results: a JSON document and CSV files under ``--out``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtests.walkforward import WalkForward, walk_forward_report
from data.errors import OutputPathError
from data.jsonsafe import to_json
from data.paths import check_output_dir
from data.store import atomic_write_text

__all__ = ["check_out_dir", "finish_document", "write_out_dir"]


def check_out_dir(out: str | Path | None) -> None:
    """Fail before any work when ``--out`` cannot be a folder we may write."""
    if out is not None:
        check_output_dir(out)


def write_out_dir(out: str | Path, doc: dict, frames: dict[str, pd.DataFrame]) -> list[Path]:
    """Write ``result.json`` and one CSV per frame into ``out`` (created if missing)."""
    root = check_output_dir(out)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputPathError(root, e.strerror or type(e).__name__) from None
    written = []
    for name, df in frames.items():
        p = root / f"{name}.csv"
        atomic_write_text(
            df.to_csv(float_format="%.8g", lineterminator="\n", date_format="%Y-%m-%d"), p
        )
        written.append(p)
    p = root / "result.json"
    atomic_write_text(to_json(doc), p)
    written.append(p)
    return written


def finish_document(
    doc: dict,
    store,
    returns: pd.DataFrame,
    *,
    walk: WalkForward | None = None,
    universe=None,
    tickers: tuple[str, ...] = (),
) -> None:
    """What every backtest document ends with: the FX caveat, what `aigap data verify` finds
    on ``tickers`` within the backtest (``data_checks``), and the walk-forward selection over
    ``returns`` (date x run) when ``walk`` is given."""
    from data.fx import fx_coverage_note
    from data.verify import flags_by_ticker, verify_store

    note = fx_coverage_note(store, returns.index[-1])
    if note:
        doc["notes"].append(note)
    if universe is not None:
        found = flags_by_ticker(
            verify_store(store, universe, files=False), returns.index[0], returns.index[-1]
        )
        doc["data_checks"] = {t: found[t] for t in tickers if t in found}
        if doc["data_checks"]:
            doc["notes"].append(
                f"data checks: {len(doc['data_checks'])} name(s) with findings of "
                f"`aigap data verify` in the window: {', '.join(doc['data_checks'])}"
            )
    if walk is not None:
        doc["walk_forward"] = walk_forward_report(
            returns, train_years=walk.train_years, test_months=walk.test_months
        )
