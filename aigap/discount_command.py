"""``aigap backtest discount``: parameter grid -> one run -> table or JSON, CSVs under --out."""

from __future__ import annotations

import sys

import pandas as pd
from rich.console import Console

from aigap.options import Output
from backtests.discount import DiscountSettings, eligibility_doc, run_discount_backtest
from backtests.metrics import SUMMARY_METRICS
from backtests.report import check_out_dir, finish_document, write_out_dir
from backtests.walkforward import WalkForward
from data.store import Store
from data.universe import Universe
from strategies.long_discount import DiscountGrid

__all__ = ["run_discount_cli", "write_discount_report"]


def run_discount_cli(
    store: Store,
    universe: Universe,
    grid: DiscountGrid,
    settings: DiscountSettings,
    output: Output,
    *,
    walk: WalkForward | None = None,
) -> dict:
    """Run the sweep, then write what ``output`` asks for; returns the JSON document."""
    check_out_dir(output.out)
    res = run_discount_backtest(store, universe, grid.params(), settings)
    if output.report:
        write_discount_report(store, universe, res, output.report)
    doc = res.to_document()
    finish_document(doc, store, res.returns[list(res.params)], walk=walk, universe=universe,
                    tickers=tuple(universe.china))  # fmt: skip
    if output.out:
        runs = list(res.params)
        frames = {"equity": res.value, "returns": res.returns, "metrics": res.metrics,
                  "relative": res.relative}  # fmt: skip
        for i, r in enumerate(runs):
            w = res.weights[r].dropna(how="all")
            frames[f"weights_{i:02d}"] = w.loc[:, (w.fillna(0) != 0).any()]
        by_run = {r: res.rebalance_records(r) for r in runs}
        paths = write_out_dir(output.out, {**doc, "rebalances_by_run": by_run}, frames)
        print(f"wrote {len(paths)} files to {output.out}", file=sys.stderr)
    output.emit(doc, lambda console: _print_tables(console, res, doc))
    return doc


def write_discount_report(store: Store, universe: Universe, res, path: str) -> None:
    """The HTML tear sheet of a long-discount run (``--report`` and ``aigap report
    discount``), stating the period the run covered, its runs, costs and rule."""
    from aigap.report import discount_report, inputs_block, write_report

    caps = sorted({p.cap for p in res.params.values()})
    inputs = inputs_block(
        store, universe, runs=list(res.params), cap=caps[0] if len(caps) == 1 else caps,
        start=res.value.index[0].date(), end=res.value.index[-1].date(),
        fees=res.settings.fees, slippage=res.settings.slippage, **eligibility_doc(res.settings),
        notes=res.notes,
    )  # fmt: skip
    write_report(discount_report(res, inputs), path)


def _print_tables(console: Console, res, doc: dict) -> None:
    from aigap.render import frame_table, print_overfitting, walk_forward_tables

    first = next(iter(res.params))
    m = res.metrics[[*SUMMARY_METRICS, "turnover", "exposure", "invested"]]
    frame_table(
        console,
        m,
        f"Long-discount backtest {doc['start'].date()} to {doc['end'].date()} (USD, fees "
        f"{res.settings.fees:g}, slippage {res.settings.slippage:g}; signal at close, trade next "
        "close)",
        "{:.3f}",
    )
    frame_table(
        console,
        res.relative.loc[[first]].reset_index(level=0, drop=True),
        f"{first} against the benchmarks (annualised alpha, beta, IR)",
        "{:.3f}",
    )
    for k, v in res.diagnostics.items():
        frame_table(console, v.ic, f"Signal '{k}': rank IC with forward returns", "{:.3f}")
        frame_table(
            console,
            v.quantiles,
            f"Signal '{k}': mean 21-day forward return by quantile (3 = cheapest)",
            "{:.4f}",
        )
    last = res.rebalances[first][-1] if res.rebalances[first] else None
    if last:
        w = pd.Series(last.weights).sort_values(ascending=False).to_frame("weight")
        w.index.name = "ticker"
        frame_table(
            console,
            w,
            f"{first}: last rebalance, signal {last.signal_date.date()}"
            f", traded {last.trade_date.date()}",
            "{:.3f}",
        )
    print_overfitting(console, doc["overfitting"])
    if doc.get("walk_forward"):
        walk_forward_tables(console, doc["walk_forward"])
    for note in doc["notes"]:
        console.print(f"note: {note}")
