"""Terminal rendering (rich tables) of screens and backtest results."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

from screens.multiples import METRIC_LABELS, METRICS
from screens.screen import ScreenResult

__all__ = [
    "diff_table",
    "frame_table",
    "print_overfitting",
    "screen_table",
    "walk_forward_tables",
]


def _f(x, fmt: str = "{:.2f}") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)) or pd.isna(x):
        return ""
    return fmt.format(x)


_SHORT = {
    "ev_sales": "EV/S",
    "ps": "P/S",
    "pe_trailing": "P/E",
    "pe_forward": "fwd P/E",
    "ev_ebitda": "EV/EBITDA",
    "ps_growth": "P/S÷g",
}


def screen_table(console: Console, res: ScreenResult) -> None:
    """Ranked names: each multiple as ``value/peer median``; flags listed under the table; a
    terminal too narrow for every column gets the rest in a continued table (nothing cut)."""
    ranked = res.rows[res.rows["rank"].notna()]
    shown = [m for m in METRICS if ranked[m].notna().any()] or list(METRICS[:2])
    wide = console.width >= 150
    caption = (
        "multiples as value/US peer median; comp = weighted log discount (+ = cheaper) "
        "on n metrics; score = comp + ln(tilt); "
        + ", ".join(
            f"{_SHORT[m]} = {METRIC_LABELS[m]}" for m in shown if _SHORT[m] != METRIC_LABELS[m]
        )
    )
    names = [*(["name"] if wide else []), "segment", *(["src"] if wide else []), "mcap $bn"]
    names += [_SHORT[m] for m in shown] + ["comp (n)", "z seg", "tilt", "score", "!"]
    texts = [n in ("name", "segment", "src") for n in names]
    labels, body, notes = [], [], []
    for r in ranked.to_dict("records"):
        src = r["valuation_source"] if isinstance(r["valuation_source"], str) else ""
        labels.append(f"{_f(r['rank'], '{:.0f}'):>2} {r['ticker']}")
        cells = [
            *([_cut(str(r["name"]), 18)] if wide else []),
            r["segment"],
            *(
                [{"yfinance_info": "yf info", "yfinance_live": "yf live"}.get(src, src)]
                if wide
                else []
            ),
            _f(r["market_cap"] / 1e9 if _f(r["market_cap"]) else np.nan, "{:,.1f}"),
        ]
        for m in shown:
            v, p = r[m], r[f"{m}_peer"]
            cells.append(f"{_f(v, '{:.1f}')}/{_f(p, '{:.1f}') or '-'}" if _f(v) else "")
        mark = ""
        if r["flags"]:
            notes.append((r["ticker"], r["flags"]))
            mark = str(len(notes))
        cells += [
            f"{_f(r['composite'], '{:+.2f}')} ({r['n_metrics']})",
            _f(r["z_segment"], "{:+.2f}"),
            _f(r["tilt"]),
            _f(r["score"], "{:+.2f}"),
            mark,
        ]
        body.append(cells)
    _print_groups(console, f"aigap screen as of {res.as_of.date()}", "# ticker", labels, names,
                  body, texts, not wide, caption=caption)  # fmt: skip
    for k, (ticker, flags) in enumerate(notes, 1):
        console.print(f"  {k}. {ticker}: {flags}")
    _unranked_table(console, res.rows[res.rows["rank"].isna()])
    _segment_gap_table(console, res.segments)


def _unranked_table(console: Console, rest: pd.DataFrame) -> None:
    if not len(rest):
        return
    u = Table(
        title="Not ranked (no multiple computable from the data as of this date, or filtered out)"
    )
    for c in ["ticker", "name", "segment", "flags"]:
        u.add_column(c, no_wrap=c != "flags")
    for r in rest.to_dict("records"):
        u.add_row(r["ticker"], _cut(str(r["name"]), 30), r["segment"], r["flags"])
    console.print(u)


def _segment_gap_table(console: Console, seg: pd.DataFrame) -> None:
    """China vs US median of each metric by segment, with the names each median rests on."""
    labels, body = [], []
    for sname, grp in seg.groupby("segment", sort=False):
        labels.append(str(sname))
        cells = []
        for m in METRICS:
            r = grp[grp["metric"] == m].iloc[0]
            thin = "*" if min(r["china_n"], r["us_n"]) < 3 else ""
            cells.append(
                f"{_f(r['china_median'], '{:.1f}')} vs {_f(r['us_median'], '{:.1f}')}"
                f" ({_f(r['gap_pct'] * 100, '{:+.0f}')}%) {int(r['china_n'])}:{int(r['us_n'])}"
                f"{thin}"
                if _f(r["gap_pct"])
                else ""
            )
        body.append(cells)
    _print_groups(
        console,
        "Segment gap: China vs US median multiple (gap = China / US - 1; China:US names each "
        "median rests on, * under 3)",
        "segment",
        labels,
        [METRIC_LABELS[m] for m in METRICS],
        body,
        [False] * len(METRICS),
        console.width < 150,
    )


def _cut(text: str, width: int) -> str:
    """A name cut to ``width`` characters with an ellipsis."""
    return text if len(text) <= width else text[: width - 1] + "…"


def data_age_line(data_end: pd.Timestamp, today: pd.Timestamp) -> str:
    """The line under every screen: when the data end, and how old that is today."""
    days = (today.normalize() - data_end.normalize()).days
    return f"data end {data_end.date()}: {days} days before today ({today.date()})"


def _cell(v) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return ""
    if isinstance(v, float):
        return f"{v:+.2f}"
    return str(v)


def diff_table(console: Console, d: pd.DataFrame, prev: str, cur: str) -> None:
    t = Table(title=f"Changes since the screen of {prev} (now {cur})")
    for c in d.columns:
        t.add_column(c)
    for r in d.itertuples(index=False):
        t.add_row(*[_cell(v) for v in r])
    console.print(t)


#: short column names for terminals narrower than :data:`WIDE` columns
SHORT_NAMES = {
    "total_return": "return", "volatility": "vol", "sharpe": "Sharpe", "sortino": "Sortino",
    "max_drawdown": "max DD", "calmar": "Calmar", "hit_rate": "hit", "turnover": "turn",
    "exposure": "expo", "invested": "inv", "lookback": "L", "entry": "E", "exit": "X",
    "stop": "S", "trades": "n", "win_rate": "win", "avg_days_held": "days",
    "borrow_paid": "borrow", "signal_date": "signal", "entry_date": "entry",
    "exit_date": "exit", "direction": "dir", "long_leg": "long", "short_leg": "short",
    "weight_a": "w a", "weight_b": "w b", "days_held": "days", "data_ended": "ended",
    "information_ratio": "IR", "alpha": "alpha", "beta": "beta",
}  # fmt: skip
#: below this width, tables use short column names and short run labels with a legend
WIDE = 140
#: a row label longer than this is replaced by r1, r2, ... and a legend on narrow terminals
LABEL_MAX = 12


def frame_table(console: Console, df: pd.DataFrame, title: str, fmt: str = "{:.4f}") -> None:
    """A frame as a table: dates as YYYY-MM-DD, whole-number columns without decimals.  On a
    terminal narrower than :data:`WIDE` columns the column names are shortened and long row
    labels (sweep runs) become r1, r2, ... with a legend, so nothing is cut."""
    df = df.copy()
    if isinstance(df.index, pd.DatetimeIndex):
        df.index = df.index.strftime("%Y-%m-%d")
    narrow = console.width < WIDE
    legend: list[str] = []
    labels = [str(i) for i in df.index]
    if narrow and any(len(x) > LABEL_MAX for x in labels):
        legend = [f"r{k} = {x}" for k, x in enumerate(labels, 1)]
        labels = [f"r{k}" for k in range(1, len(labels) + 1)]
    cols: dict[str, str] = {}
    for c in df.columns:
        col = df[c]
        if pd.api.types.is_datetime64_any_dtype(col):
            cols[c] = "date"
        elif pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            v = col.dropna().to_numpy(dtype=float)
            whole = len(v) and np.all(np.isfinite(v)) and np.all(v == np.round(v))
            cols[c] = "int" if whole and np.abs(v).max() < 1e7 else "float"
        else:
            cols[c] = "text"
    if narrow and fmt == "{:.4f}":
        fmt = "{:.3f}"
    names = [SHORT_NAMES.get(str(c), str(c)) if narrow else str(c) for c in df.columns]
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for c, v in zip(df.columns, row, strict=True):
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                cells.append("")
            elif cols[c] == "date" or isinstance(v, pd.Timestamp):
                cells.append(pd.Timestamp(v).strftime("%Y-%m-%d"))
            elif cols[c] == "int":
                cells.append(f"{int(v)}")
            elif cols[c] == "float":
                cells.append(_compact(float(v), fmt) if narrow else _f(float(v), fmt))
            else:
                cells.append(str(v))
        body.append(cells)
    texts = [cols[c] == "text" for c in df.columns]
    _print_groups(console, title, df.index.name or "", labels, names, body, texts, narrow)
    for line in legend:
        console.print(f"  {line}", soft_wrap=True)


def _print_groups(console, title, label_name, labels, names, body, texts, narrow,
                  caption=None) -> None:  # fmt: skip
    """Rows of text cells as one or more tables, each no wider than the terminal."""
    groups = _column_groups(console.width, labels, names, body)
    for part, group in enumerate(groups):
        t = Table(
            title=title if part == 0 else "(continued)",
            box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD,
            caption=caption if part == len(groups) - 1 else None,
        )
        t.add_column(label_name, no_wrap=True, min_width=max([len(x) for x in labels] + [1]))
        for j in group:  # numbers never wrap; a text too long for any terminal wraps
            t.add_column(
                names[j],
                justify="left" if texts[j] else "right",
                no_wrap=not texts[j],
                overflow="fold" if texts[j] else "ellipsis",
            )
        for label, cells in zip(labels, body, strict=True):
            t.add_row(label, *[cells[j] for j in group])
        console.print(t)


def _column_groups(width: int, labels: list[str], names: list[str], body: list[list[str]]):
    """Columns packed into tables no wider than the terminal (each keeps the row labels), so
    that no cell is ever cut."""
    label_w = max([len(x) for x in labels] + [0]) + 4
    widths = [max([len(n)] + [len(r[j]) for r in body]) + 3 for j, n in enumerate(names)]
    budget = width - 4  # the table's edges
    groups: list[list[int]] = [[]]
    used = label_w
    for j, w in enumerate(widths):
        if groups[-1] and used + w > budget:
            groups.append([])
            used = label_w
        groups[-1].append(j)
        used += w
    return groups


def _compact(v: float, fmt: str) -> str:
    """A number in at most about eight characters (large P&L in thousands or millions)."""
    if abs(v) >= 1e6:
        return f"{v / 1e6:,.2f}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:,.1f}k"
    return _f(v, fmt)


def walk_forward_tables(console: Console, wf: dict) -> None:
    if not wf["windows"]:
        console.print(f"Walk-forward: {wf['note']}")
        return
    frame_table(
        console,
        pd.DataFrame(wf["windows"]).set_index("test_start"),
        "Walk-forward: chosen on the training window, held out of sample",
        "{:.3f}",
    )
    rows = {"chosen in each window": wf["oos_metrics"]}
    if wf.get("median_config_oos_metrics"):
        rows["median configuration"] = wf["median_config_oos_metrics"]
    frame_table(
        console,
        pd.DataFrame(list(rows.values()), index=list(rows)),
        "Walk-forward: stitched out-of-sample returns (what choosing adds: compare the rows)",
        "{:.3f}",
    )


def coverage_document(res) -> dict:
    """The coverage as JSON: per date the summary and, per name, each metric's reason
    (``null`` = computable)."""
    from screens.multiples import METRICS

    out = []
    for _, srow in res.summary.iterrows():
        d = srow["date"]
        rows = res.rows[res.rows["date"] == d]
        out.append(
            {
                "date": d.date().isoformat(),
                "china_valued": int(srow["china_valued"]),
                "china_names": int(srow["china_names"]),
                "us_valued": int(srow["us_valued"]),
                "us_with_ps": int(srow["us_with_ps"]),
                "us_names": int(srow["us_names"]),
                "names": [
                    {
                        "ticker": r["ticker"],
                        "role": r["role"],
                        "segment": r["segment"],
                        "valued": bool(r["valued"]),
                        "metrics": {m: (r[m] if isinstance(r[m], str) else None) for m in METRICS},
                    }
                    for _, r in rows.iterrows()
                ],
            }
        )
    return {"dates": out}


def coverage_table(console, res) -> None:
    """One summary line per date, then one row per name: computable metrics and the gaps."""
    from rich.table import Table

    from screens.multiples import METRICS

    for _, srow in res.summary.iterrows():
        d = srow["date"]
        console.print(
            f"[bold]{d.date()}[/bold]: {srow['china_valued']} of {srow['china_names']} Chinese "
            f"names valued; {srow['us_valued']} of {srow['us_names']} US peers valued "
            f"({srow['us_with_ps']} with P/S)"
        )
        t = Table(show_edge=False, pad_edge=False)
        for c in ("ticker", "role", "valued", "computable", "missing (metric: input)"):
            t.add_column(c, overflow="fold")
        for _, r in res.rows[res.rows["date"] == d].iterrows():
            ok = [m for m in METRICS if not isinstance(r[m], str)]
            gaps: dict[str, list[str]] = {}
            for m in METRICS:
                if isinstance(r[m], str):
                    gaps.setdefault(r[m], []).append(m)
            t.add_row(
                r["ticker"],
                r["role"],
                "yes" if r["valued"] else "no",
                ",".join(ok) or "-",
                "; ".join(f"{','.join(ms)}: {why}" for why, ms in gaps.items()),
            )
        console.print(t)


def verify_table(console: Console, report) -> None:
    """``aigap data verify``: one line of counts, then one row per finding."""
    counts = ", ".join(f"{n} {c}" for c, n in report.counts().items()) or "nothing found"
    console.print(f"aigap data verify: {report.root} (data end {report.data_end}): {counts}")
    if not report.findings:
        return
    t = Table()
    for c in ("check", "ticker", "date", "detail"):
        t.add_column(c)
    for f in report.findings:
        t.add_row(f.check, f.ticker or "", f.date or "", f.detail)
    console.print(t)


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A transient progress bar on stderr when it is a terminal (nothing in pipes and logs);
    yields the function to call with the number of steps done."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.progress import Progress

    with Progress(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def gap_table(console: Console, rows: pd.DataFrame) -> None:
    """One row per date, one column per segment: China vs US median, the gap and the counts;
    a median on fewer than three names is marked with *."""
    for metric, g in rows.groupby("metric", sort=False):
        t = Table(title=f"China vs US median {metric} over time (point in time; * = under 3 names)")
        segs = list(dict.fromkeys(g["segment"]))
        t.add_column("date")
        for sname in segs:
            t.add_column(sname, justify="right")
        for d, by_date in g.groupby("date", sort=True):
            cells = []
            for sname in segs:
                r = by_date[by_date["segment"] == sname].iloc[0]
                if pd.isna(r["gap_pct"]):
                    cells.append(f"- ({int(r['china_n'])}:{int(r['us_n'])})")
                    continue
                mark = "*" if r["thin"] else ""
                cells.append(
                    f"{r['china_median']:.1f} vs {r['us_median']:.1f} {r['gap_pct']:+.0%} "
                    f"({int(r['china_n'])}:{int(r['us_n'])}){mark}"
                )
            t.add_row(pd.Timestamp(d).date().isoformat(), *cells)
        console.print(t)


def reference_lines(store, universe, facts: pd.DataFrame, dates: pd.DatetimeIndex) -> list[str]:
    """Public P/E reference points dated within the period.  A point about a basket is set
    beside our whole basket on the same day, with the counts that explain the difference; a
    point about single names, one sector or an ETF is listed, not compared."""
    import re
    import textwrap

    from screens.gap import gap_history

    out = []
    pe = facts[facts["metric"].str.contains(r"\bPE\b", regex=True)]
    for fact_date, group in pe.groupby("as_of_date", sort=True):
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(fact_date)):
            continue  # a month or a season: no day to compare on
        day = pd.Timestamp(str(fact_date))
        if not (dates.min() <= day <= dates.max()):
            continue
        is_basket = group["universe_or_scope"].str.contains("basket", case=False)
        for f, basket in zip(group.itertuples(), is_basket, strict=True):
            scope = "" if basket else " (another scope: not compared)"
            out.append(
                f"reference {f.fact_id} ({f.original_author}, {fact_date}): {f.metric} "
                f"{f.value} {f.unit} [{f.universe_or_scope}]{scope}"
            )
        if not is_basket.any():
            continue
        ours = gap_history(store, universe, pd.DatetimeIndex([day]),
                           metrics=("pe_forward", "pe_trailing"), segments=("ALL",))  # fmt: skip
        for r in ours.itertuples():
            if not (r.china_n and r.us_n):
                out.append(f"  ours on {day.date()}: {r.metric}: no figure on that day")
                continue
            out.append(
                f"  ours on {day.date()}: {r.metric} China {r.china_median:.1f}x on "
                f"{r.china_n} of {len(universe.china)} names vs US {r.us_median:.1f}x on "
                f"{r.us_n} of {len(universe.us)}: a median of the names with that figure on "
                "the day, not the reference's basket (its own stocks and consensus estimates)"
            )
    return [w for line in out for w in textwrap.wrap(line, 98, subsequent_indent="    ")]


def print_overfitting(console: Console, o: dict) -> None:
    """The overfitting figures of a sweep's document in one line (two with the active
    returns of a long-only sweep)."""
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
