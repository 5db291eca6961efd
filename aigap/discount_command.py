"""``aigap backtest discount``: parameter grid -> one run -> table or JSON, CSVs under --out."""

from __future__ import annotations

import itertools
import sys

import pandas as pd
from rich.console import Console

from backtests.discount import run_discount_backtest
from backtests.metrics import SUMMARY_METRICS
from backtests.report import check_out_dir, finish_document, frame_records, to_json, write_out_dir
from backtests.walkforward import check_walk_forward
from data.store import Store
from data.universe import Universe
from strategies.long_discount import LongDiscountParams

__all__ = ["run_discount_cli"]


def _overfitting(res) -> dict:
    """``n_trials``, ``deflated_sharpe`` and ``pbo`` of the sweep (one run: one trial, the
    other two undefined)."""
    o = res.overfitting
    if o is None:
        return {
            "n_configurations": len(res.params),
            "n_trials": len(res.params) - len(res.duplicates),
            "deflated_sharpe": None,
            "pbo": None,
            "note": "one distinct configuration: nothing was selected, nothing to deflate",
        }
    out = o.to_dict()
    if res.overfitting_active is not None:
        out["active_vs_china_ew"] = res.overfitting_active.to_dict()
    return out


def run_discount_cli(
    store: Store,
    universe: Universe,
    *,
    start,
    end,
    tops,
    rebalances,
    weightings,
    signals,
    cap,
    quantile,
    per_segment,
    fees,
    slippage,
    walk_forward: bool,
    train_years,
    test_months,
    fmt,
    out,
    console: Console,
    report: str | None = None,
) -> dict:
    check_out_dir(out)
    if walk_forward:
        check_walk_forward(train_years, test_months)
    grid = [
        LongDiscountParams(
            top_n=n,
            rebalance=r,
            weighting=w,
            signal=s,
            cap=cap,
            quantile=quantile,
            per_segment=per_segment,
        )
        for n, r, w, s in itertools.product(tops, rebalances, weightings, signals)
    ]
    res = run_discount_backtest(
        store, universe, grid, start=start, end=end, fees=fees, slippage=slippage
    )
    if report:
        from aigap.report import discount_report, inputs_block, write_report

        inputs = inputs_block(store, universe, runs=list(res.params), start=start, end=end,
                              fees=fees, slippage=slippage, notes=res.notes)  # fmt: skip
        write_report(discount_report(res, inputs), report)
    runs = list(res.params)
    bench = [r for r in res.metrics.index if r not in res.params]
    first = runs[0]

    def rebal(run: str) -> list:
        return [
            {
                "signal_date": r["signal_date"],
                "trade_date": r["trade_date"],
                "weights": dict(sorted(r["weights"].items())),
                "data_ended": r.get("data_ended", []),
            }
            for r in res.rebalances[run]
        ]

    doc = {
        "start": res.value.index[0],
        "end": res.value.index[-1],
        "fees": fees,
        "slippage": slippage,
        "currency": "USD",
        "params": {**res.params[first].__dict__, "label": first},
        "metrics": frame_records(res.metrics.loc[[first]])[first],
        "relative": frame_records(res.relative.loc[first]),
        "benchmarks": frame_records(res.metrics.loc[bench]),
        "rebalances": rebal(first),
        "runs": [
            {
                "label": r,
                "params": res.params[r].__dict__,
                "metrics": frame_records(res.metrics.loc[[r]])[r],
                "relative": frame_records(res.relative.loc[r]),
            }
            for r in runs
        ],
        "diagnostics": {
            k: {"ic": frame_records(v["ic"]), "quantiles": frame_records(v["quantiles"])}
            for k, v in res.diagnostics.items()
        },
        "overfitting": _overfitting(res),
        "notes": [
            "signal at the close of the signal date; orders at the first later close on which "
            "every name traded had a home-market close (next trading day unless a market was "
            "shut); every leg, benchmarks included, starts on the strategy's first fill",
            "valuation signal: the screen's score on point-in-time data; price "
            "signal: PRICE-RELATIVE to US peers, not a valuation",
            "one line per company on every date (the universe's primary line where it trades)",
            "risk-free rate 0 in Sharpe, Sortino and alpha",
            "hindsight: the universe was chosen in 2026 (SMIC and Cambricon rose about 12x and "
            "10x from 2019), so the China equal-weight basket is not an investable benchmark; "
            "KWEB and MCHI are",
            *res.notes,
        ],
    }
    finish_document(
        doc,
        store,
        res.returns[runs],
        walk_forward=walk_forward,
        train_years=train_years,
        test_months=test_months,
        universe=universe,
        tickers=tuple(universe.china),
    )
    wf = doc.get("walk_forward")
    if out:
        frames = {
            "equity": res.value,
            "returns": res.returns,
            "metrics": res.metrics,
            "relative": res.relative,
        }
        for i, r in enumerate(runs):
            w = res.weights[r].dropna(how="all")
            frames[f"weights_{i:02d}"] = w.loc[:, (w.fillna(0) != 0).any()]
        paths = write_out_dir(
            out, {**doc, "rebalances_by_run": {r: rebal(r) for r in runs}}, frames
        )
        print(f"wrote {len(paths)} files to {out}", file=sys.stderr)
    if fmt == "json":
        sys.stdout.write(to_json(doc))
    else:
        from aigap.render import frame_table, walk_forward_tables

        m = res.metrics[[*SUMMARY_METRICS, "turnover", "exposure", "invested"]]
        frame_table(
            console,
            m,
            f"Long-discount backtest {doc['start'].date()} to "
            f"{doc['end'].date()} (USD, fees {fees:g}, slippage {slippage:g}; "
            "signal at close, trade next close)",
            "{:.3f}",
        )
        frame_table(
            console,
            res.relative.loc[[first]].reset_index(level=0, drop=True),
            f"{first} against the benchmarks (annualised alpha, beta, IR)",
            "{:.3f}",
        )
        for k, v in res.diagnostics.items():
            frame_table(console, v["ic"], f"Signal '{k}': rank IC with forward returns", "{:.3f}")
            frame_table(
                console,
                v["quantiles"],
                f"Signal '{k}': mean 21-day forward return by quantile (3 = cheapest)",
                "{:.4f}",
            )
        last = res.rebalances[first][-1] if res.rebalances[first] else None
        if last:
            w = pd.Series(last["weights"]).sort_values(ascending=False).to_frame("weight")
            w.index.name = "ticker"
            frame_table(
                console,
                w,
                f"{first}: last rebalance, signal {last['signal_date'].date()}"
                f", traded {last['trade_date'].date()}",
                "{:.3f}",
            )
        o = doc["overfitting"]
        console.print(
            f"overfitting: {o['n_trials']} distinct trials of {o['n_configurations']}; "
            + (
                f"best {o['best']} Sharpe {o['best_sharpe']:.2f} (hurdle "
                f"{o['hurdle_sharpe']:.2f}), deflated Sharpe {o['deflated_sharpe']:.2f}, "
                f"PBO {o['pbo']:.2f}"
                if o.get("deflated_sharpe") is not None
                else "no selection to deflate"
            )
        )
        a = o.get("active_vs_china_ew")
        if a:
            console.print(
                f"overfitting of the returns less the China EW basket: best {a['best']} "
                f"Sharpe {a['best_sharpe']:.2f} (hurdle {a['hurdle_sharpe']:.2f}), deflated "
                f"Sharpe {a['deflated_sharpe']:.2f}, PBO {a['pbo']:.2f}"
            )
        if wf:
            walk_forward_tables(console, wf)
        for note in doc["notes"]:
            console.print(f"note: {note}")
    return doc
