"""``aigap backtest pairs`` and ``aigap pairs scan`` output."""

from __future__ import annotations

import sys

import pandas as pd
from rich.console import Console

from aigap.options import Output
from backtests.pairs import PairsParams, PairsResult, heatmap, run_pairs_sweep
from backtests.report import check_out_dir, finish_document, write_out_dir
from backtests.walkforward import WalkForward
from data.jsonsafe import frame_records, to_json
from data.store import Store
from data.universe import Universe
from strategies.pairs import PairSpec

__all__ = ["run_pairs_cli", "scan_cli", "write_pairs_report"]

SHOW = [
    "pair",
    "lookback",
    "entry",
    "exit",
    "stop",
    "total_return",
    "cagr",
    "sharpe",
    "max_drawdown",
    "turnover",
    "trades",
    "win_rate",
    "avg_days_held",
    "borrow_paid",
]


def run_pairs_cli(
    store: Store,
    universe: Universe,
    pairs: list[PairSpec],
    params: PairsParams,
    output: Output,
    *,
    walk: WalkForward | None = None,
    engine: str = "local",
    workers: int | None = None,
) -> dict:
    """Run the sweep, then write what ``output`` asks for; returns the JSON document."""
    check_out_dir(output.out)
    res = run_pairs_sweep(store, universe, pairs, params, engine=engine, workers=workers)
    if output.report:
        write_pairs_report(store, universe, pairs, res, params, output.report)
    doc = res.to_document(params)
    finish_document(
        doc, store, res.returns, walk=walk, universe=universe,
        tickers=tuple(dict.fromkeys(t for p in pairs for t in (p.a, p.b))),
    )  # fmt: skip
    if output.out:
        paths = write_out_dir(output.out, doc, _frames(res))
        print(f"wrote {len(paths)} files to {output.out}", file=sys.stderr)
    output.emit(doc, lambda console: _print_tables(console, res, doc, params))
    return doc


def write_pairs_report(
    store: Store,
    universe: Universe,
    pairs: list[PairSpec],
    res: PairsResult,
    params: PairsParams,
    path: str,
) -> None:
    """The HTML tear sheet of a pairs run (``--report`` and ``aigap report pairs``), stating
    the period the run covered, the grid and the rule's settings."""
    from aigap.report import inputs_block, pairs_report, write_report

    inputs = inputs_block(
        store, universe, pairs=[p.label for p in pairs], start=res.value.index[0].date(),
        end=res.value.index[-1].date(), lookbacks=params.lookbacks, entries=params.entries,
        exits=params.exits, stops=params.stops, **params.settings(),
    )  # fmt: skip
    write_report(pairs_report(res, inputs), path)


def _frames(res: PairsResult) -> dict[str, pd.DataFrame]:
    """The CSV files of ``--out``."""
    t = res.table
    frames = {"runs": t, "equity": res.value, "returns": res.returns, "heatmap_sharpe": heatmap(t)}
    for p, roll in res.rolling.items():
        frames[f"rolling_stats_{p.replace(':', '_')}"] = roll
    traded = {r: x for r, x in res.trades.items() if len(x)}
    frames["trades"] = pd.concat(traded, names=["run"]) if traded else pd.DataFrame()
    return frames


def _print_tables(console: Console, res: PairsResult, doc: dict, params: PairsParams) -> None:
    from aigap.render import frame_table, print_overfitting, walk_forward_tables

    t = res.table
    if res.stats:
        table = pd.DataFrame({p: s.as_dict() for p, s in res.stats.items()}).T
        table.index.name = "pair"
        frame_table(
            console,
            table,
            "Pair statistics (statsmodels: Engle-Granger, ADF; half-life "
            "from AR(1) of the spread; rolling = 252-day windows)",
            "{:.3f}",
        )
    best = t.sort_values("sharpe", ascending=False)[SHOW[1:]].head(20)
    frame_table(
        console,
        best,
        f"{len(t)} parameter sets, best 20 by Sharpe (USD, after fees, "
        f"slippage and {params.borrow_rate:.1%} borrow)",
        "{:.3f}",
    )
    if len(t) > 1:
        frame_table(
            console, heatmap(t), "Mean Sharpe: lookback (rows) x entry |z| (columns)", "{:.2f}"
        )
    top = best.index[0]
    tr = res.trades[top]
    if len(tr):
        show = tr.tail(10).set_index("signal_date")
        frame_table(console, show, f"Last trades of {top}", "{:.3f}")
    if doc["overfitting"].get("deflated_sharpe") is not None:
        print_overfitting(console, doc["overfitting"])
    for note in doc["notes"]:
        console.print(f"note: {note}")
    if "walk_forward" in doc:
        walk_forward_tables(console, doc["walk_forward"])


#: the scan table's columns
SCAN_COLUMNS = [
    "rank", "segment", "obs", "coint_pvalue", "coint_qvalue", "coint_pvalue_1st_half",
    "coint_pvalue_2nd_half", "both_halves", "adf_pvalue", "half_life_days", "return_corr", "beta",
]  # fmt: skip


def _scan_tables(console: Console, df: pd.DataFrame, summary: dict, start, end) -> None:
    from aigap.render import frame_table

    frame_table(
        console,
        df[SCAN_COLUMNS],
        f"Candidate pairs {start} to {end}, ranked by Engle-Granger p-value",
        "{:.3f}",
    )
    console.print(
        f"{summary['tested']} pairs tested: {summary['p_below_0.05']} with p < 0.05 against "
        f"{summary['expected_by_chance']} expected by chance; {summary['pass_fdr_0.05']} pass "
        f"a 5% false discovery rate (Benjamini-Hochberg q-values); "
        f"{summary['pass_both_halves']} are cointegrated in both halves of the sample"
    )


def scan_cli(store: Store, universe: Universe, *, start, end, top, fmt, out, console) -> None:
    if end is None:  # the store's last US trading day, never a date written in the code
        from data.calendar import us_calendar

        end = us_calendar(store).max().date().isoformat()
    from aigap.render import progress_bar
    from strategies.pair_scan import candidate_pairs, scan_pairs

    with progress_bar("pairs scanned", len(candidate_pairs(universe))) as advance:
        df = scan_pairs(store, universe, start, end, on_done=advance)
    tested = int(df.attrs.get("tested", len(df)))
    summary = {
        "tested": tested,
        "p_below_0.05": int((df["coint_pvalue"] < 0.05).sum()),
        "expected_by_chance": round(0.05 * tested, 1),
        "pass_fdr_0.05": int(df["passes_fdr"].sum()),
        "pass_both_halves": int(df["both_halves"].sum()),
    }
    if top:
        df = df.head(top)
    if fmt == "json":
        text = to_json(
            {"start": str(start), "end": str(end), "summary": summary, "pairs": frame_records(df)}
        )
    elif fmt == "csv":
        text = df.to_csv(float_format="%.6g", lineterminator="\n", date_format="%Y-%m-%d")
    else:
        _scan_tables(console, df, summary, start, end)
        return
    if out:
        from screens.export import write_text

        write_text(text, out)
    else:
        sys.stdout.write(text)
