"""``aigap backtest discount``: parameter grid -> one run -> table or JSON, CSVs under --out."""

from __future__ import annotations

import sys
from dataclasses import asdict

import pandas as pd
from rich.console import Console

from aigap.options import Output
from backtests.discount import DiscountSettings, run_discount_backtest
from backtests.metrics import SUMMARY_METRICS
from backtests.report import check_out_dir, finish_document, write_out_dir
from backtests.walkforward import WalkForward
from data.jsonsafe import frame_records
from data.store import Store
from data.universe import Universe
from strategies.long_discount import DiscountGrid

__all__ = ["discount_document", "run_discount_cli"]


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
        from aigap.report import discount_report, inputs_block, write_report

        inputs = inputs_block(store, universe, runs=list(res.params), start=settings.start,
                              end=settings.end, fees=settings.fees, slippage=settings.slippage,
                              **_eligibility(settings), notes=res.notes)  # fmt: skip
        write_report(discount_report(res, inputs), output.report)
    doc = discount_document(res, settings)
    finish_document(doc, store, res.returns[list(res.params)], walk=walk, universe=universe,
                    tickers=tuple(universe.china))  # fmt: skip
    if output.out:
        runs = list(res.params)
        frames = {"equity": res.value, "returns": res.returns, "metrics": res.metrics,
                  "relative": res.relative}  # fmt: skip
        for i, r in enumerate(runs):
            w = res.weights[r].dropna(how="all")
            frames[f"weights_{i:02d}"] = w.loc[:, (w.fillna(0) != 0).any()]
        by_run = {r: _rebalances(res, r) for r in runs}
        paths = write_out_dir(output.out, {**doc, "rebalances_by_run": by_run}, frames)
        print(f"wrote {len(paths)} files to {output.out}", file=sys.stderr)
    output.emit(doc, lambda console: _print_tables(console, res, doc, settings))
    return doc


def _eligibility(settings: DiscountSettings) -> dict:
    e = settings.eligibility
    return {} if e is None else {"eligibility": asdict(e)}


def _rebalances(res, run: str) -> list[dict]:
    """The rebalances of ``run`` as the document states them (names in order)."""
    return [{**asdict(r), "weights": dict(sorted(r.weights.items()))} for r in res.rebalances[run]]


#: what every long-discount document says about how it was run
NOTES = (
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
)


def discount_document(res, settings: DiscountSettings) -> dict:
    """The JSON document of a long-discount run: the first run in full (parameters, metrics,
    against the benchmarks, rebalances), every run's metrics, the diagnostics, the
    overfitting figures and the notes."""
    runs = list(res.params)
    bench = [r for r in res.metrics.index if r not in res.params]
    first = runs[0]
    return {
        "start": res.value.index[0],
        "end": res.value.index[-1],
        "fees": settings.fees,
        "slippage": settings.slippage,
        **_eligibility(settings),
        "currency": "USD",
        "params": {**res.params[first].__dict__, "label": first},
        "metrics": frame_records(res.metrics.loc[[first]])[first],
        "relative": frame_records(res.relative.loc[first]),
        "benchmarks": frame_records(res.metrics.loc[bench]),
        "rebalances": _rebalances(res, first),
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
        "notes": [*NOTES, *_eligibility_note(settings), *res.notes],
    }


def _eligibility_note(settings: DiscountSettings) -> list[str]:
    e = settings.eligibility
    if e is None:
        return []
    return [
        f"held only names the screen would rank on each signal date: market cap at least USD "
        f"{e.min_market_cap:,.0f}, at least {e.min_metrics} metric(s), annual figures older "
        f"than {e.stale_days} days {'excluded' if e.exclude_stale else 'flagged only'}"
    ]


def _print_tables(console: Console, res, doc: dict, settings: DiscountSettings) -> None:
    from aigap.render import frame_table, walk_forward_tables

    first = next(iter(res.params))
    m = res.metrics[[*SUMMARY_METRICS, "turnover", "exposure", "invested"]]
    frame_table(
        console,
        m,
        f"Long-discount backtest {doc['start'].date()} to {doc['end'].date()} (USD, fees "
        f"{settings.fees:g}, slippage {settings.slippage:g}; signal at close, trade next close)",
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
        w = pd.Series(last.weights).sort_values(ascending=False).to_frame("weight")
        w.index.name = "ticker"
        frame_table(
            console,
            w,
            f"{first}: last rebalance, signal {last.signal_date.date()}"
            f", traded {last.trade_date.date()}",
            "{:.3f}",
        )
    _print_overfitting(console, doc["overfitting"])
    if doc.get("walk_forward"):
        walk_forward_tables(console, doc["walk_forward"])
    for note in doc["notes"]:
        console.print(f"note: {note}")


def _print_overfitting(console: Console, o: dict) -> None:
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
