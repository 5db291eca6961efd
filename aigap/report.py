"""Self-contained HTML reports (plotly, its JavaScript inlined: no CDN, no network when opened).

* :func:`screen_report`: the ranked table (sortable), discount by segment with name counts, each
  name's multiple against its peer median, and the gap history;
* :func:`discount_report` and :func:`pairs_report`: a tear sheet (equity against benchmarks on a
  log scale, drawdowns, rolling Sharpe, monthly returns, IC by horizon and quantile returns;
  for pairs the z-score with entries and exits marked).

Every report states its inputs (data end, universe, parameters) so it can be reproduced.  A
script in the page records JavaScript errors and how many charts drew in ``data-errors`` and
``data-charts`` on ``<body>``, which the browser test reads (``tests/test_reports.py``).
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["discount_report", "pairs_report", "screen_report"]

_PROBE = """<script>
window.__aigapErrors = [];
window.addEventListener('error', function (e) { window.__aigapErrors.push(String(e.message)); });
window.addEventListener('load', function () {
  setTimeout(function () {
    document.body.setAttribute('data-errors', JSON.stringify(window.__aigapErrors));
    document.body.setAttribute('data-charts',
      String(document.querySelectorAll('.js-plotly-plot .main-svg').length > 0 ?
             document.querySelectorAll('.js-plotly-plot').length : 0));
    document.body.setAttribute('data-drawn',
      String(Array.from(document.querySelectorAll('.js-plotly-plot')).filter(
        function (d) { return d.querySelector('.main-svg'); }).length));
  }, 0);
});
</script>"""

_SORT = """<script>
function aigapSort(th) {
  var table = th.closest('table'), idx = Array.from(th.parentNode.children).indexOf(th);
  var rows = Array.from(table.tBodies[0].rows), asc = th.dataset.asc !== '1';
  rows.sort(function (a, b) {
    var x = a.cells[idx].dataset.v, y = b.cells[idx].dataset.v;
    var num = function (v) { return v !== '' && isFinite(Number(v)); };
    var c = (num(x) && num(y)) ? Number(x) - Number(y) : String(x).localeCompare(String(y));
    return asc ? c : -c;
  });
  rows.forEach(function (r) { table.tBodies[0].appendChild(r); });
  th.dataset.asc = asc ? '1' : '0';
}
</script>"""

_STYLE = """<style>
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
table.data { border-collapse: collapse; font-size: 13px; }
table.data th { cursor: pointer; background: #f0f0f0; position: sticky; top: 0; }
table.data td, table.data th { border: 1px solid #ddd; padding: 3px 6px; text-align: right; }
table.data td.t { text-align: left; }
.inputs { font-size: 12px; color: #555; }
</style>"""


def _page(title: str, inputs: dict, parts: Iterable[str]) -> str:
    import plotly.offline

    js = plotly.offline.get_plotlyjs()  # inlined once: the file opens with no network
    rows = "".join(
        f"<tr><td class='t'>{html.escape(str(k))}</td><td class='t'>{html.escape(str(v))}</td></tr>"
        for k, v in inputs.items()
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>{_STYLE}{_PROBE}{_SORT}"
        f"<script type='text/javascript'>{js}</script></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<h3>Inputs</h3><table class='data inputs'>{rows}</table>"
        + "".join(parts)
        + "</body></html>\n"
    )


def _new_figure(*data):
    """A plotly figure without plotly's default template: :func:`_figure` sets the report's,
    and the default one, deep-copied into every new figure, would only be replaced (about
    15 ms per chart; the page is the same bytes)."""
    import plotly.graph_objects as go

    return go.Figure(*data, layout={"template": "none"})


@functools.cache
def _template() -> dict:
    """plotly's ``plotly_white`` template as a figure carries it, made once: set by name,
    plotly deep-copies the registered template into every figure (about 8 ms per chart).
    Shared by every chart: read-only (plotly's JSON writers do not change it)."""
    import plotly.graph_objects as go

    return go.Figure(layout={"template": "plotly_white"}).to_dict()["layout"]["template"]


def _figure(fig, title: str) -> str:
    """The chart as an HTML fragment, in the report's template (plotly's ``plotly_white``); its
    element id is a hash of its content (plotly's default is a random UUID, which would make
    two runs of one report differ)."""
    import plotly.io as pio

    fig.update_layout(title=title, height=420, margin=dict(l=50, r=20, t=50, b=40))
    spec = fig.to_dict()  # a copy: the template goes in the place of the figure's own
    spec["layout"]["template"] = _template()
    div_id = "chart-" + hashlib.sha256(pio.to_json(spec, validate=False).encode()).hexdigest()[:16]
    return pio.to_html(spec, validate=False, full_html=False, include_plotlyjs=False,
                       config={"responsive": True}, div_id=div_id)  # fmt: skip


def _table(df: pd.DataFrame, title: str) -> str:
    head = "".join(f"<th onclick='aigapSort(this)'>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for r in df.itertuples(index=False):
        cells = []
        for v in r:
            if isinstance(v, (float, np.floating)) and np.isfinite(v):
                cells.append(f"<td data-v='{v:.10g}'>{v:,.3g}</td>")
            elif isinstance(v, (int, np.integer)):
                cells.append(f"<td data-v='{v}'>{v}</td>")
            else:
                text = "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                cells.append(f"<td class='t' data-v='{html.escape(text)}'>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<h3>{html.escape(title)}</h3><table class='data'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _heatmap(grid: pd.DataFrame):
    """Sharpe over two parameters of a sweep (rows x columns of ``grid``)."""
    import plotly.graph_objects as go

    return _new_figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=[str(c) for c in grid.columns],
            y=[str(i) for i in grid.index],
            colorscale="RdYlGn",
        )
    )


def _overfitting(figures) -> list[str]:
    """A sweep's overfitting figures as a table; nothing when there was no selection."""
    if figures is None:
        return []
    o = pd.DataFrame([figures.to_dict()])
    return [_table(o, "Overfitting: deflated Sharpe and the probability of overfitting")]


# ----------------------------------------------------------------------------- screen
def screen_report(
    res, gap_rows: pd.DataFrame, inputs: dict, changes: pd.DataFrame | None = None
) -> str:
    """The screen as a page: ``res`` a :class:`screens.screen.ScreenResult`, ``gap_rows`` from
    :func:`screens.gap.gap_history` (segment ``ALL``), ``changes`` from
    :func:`screens.export.diff_screens` against the previous archived screen (if any)."""
    rows = res.rows
    ranked = rows[rows["rank"].notna()]
    table = ranked[[c for c in _SCREEN_COLUMNS if c in ranked.columns]].copy()
    table["market_cap"] = table["market_cap"] / 1e9
    table = table.rename(columns={"market_cap": "market_cap_usd_bn"})
    bar, scatter, hist = _screen_figures(rows, res.segments, gap_rows)
    return _page(
        f"aigap screen {res.as_of.date()}",
        inputs,
        [
            _table(table, "Ranked Chinese names (click a header to sort)"),
            _figure(bar, "Discount by segment (P/S), with the names each median rests on"),
            _figure(scatter, "Each name's P/S against its peer median"),
            _figure(
                hist,
                "The gap over time (all segments, point in time; medians on fewer than 3 names "
                "left out)",
            ),
            _changes(changes),
        ],
    )


#: the columns of the report's ranked table
_SCREEN_COLUMNS = (
    "rank", "ticker", "name", "segment", "market_cap", "score", "composite", "z_segment",
    "n_metrics", "ps", "ps_peer", "pe_trailing", "pe_trailing_peer", "pe_forward",
    "pe_forward_peer", "ev_sales", "ev_sales_peer", "flags",
)  # fmt: skip


def _screen_figures(rows: pd.DataFrame, seg: pd.DataFrame, gap_rows: pd.DataFrame) -> tuple:
    """The discount by segment (P/S), each name against its peer median, the gap over time."""
    import plotly.graph_objects as go

    ps = seg[seg["metric"] == "ps"]
    bar = _new_figure(
        go.Bar(
            x=ps["segment"],
            y=ps["gap_pct"] * 100,
            text=[
                f"{int(a)}:{int(b)} names" for a, b in zip(ps["china_n"], ps["us_n"], strict=True)
            ],
            textposition="outside",
        )
    )
    bar.update_yaxes(title="China median P/S vs US median, %")
    scatter = _new_figure(
        go.Scatter(
            x=rows["ps_peer"],
            y=rows["ps"],
            mode="markers+text",
            text=rows["ticker"],
            textposition="top center",
        )
    )
    top = float(np.nanmax([rows["ps"].max(), rows["ps_peer"].max(), 1.0]))
    scatter.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="parity"))
    scatter.update_xaxes(title="US peer median P/S")
    scatter.update_yaxes(title="the name's P/S")
    hist = _new_figure()
    for metric, g in gap_rows[gap_rows["segment"] == "ALL"].groupby("metric"):
        solid = (g["gap_pct"] * 100).where(~g["thin"].astype(bool))  # thin medians left out
        hist.add_trace(go.Scatter(x=g["date"], y=solid, name=metric))
    hist.update_yaxes(title="China median vs US median, %")
    return bar, scatter, hist


def _changes(changes: pd.DataFrame | None) -> str:
    if changes is None:
        return "<h3>Changes</h3><p>No previous screen was given (--archive/--diff).</p>"
    moved = changes[changes["change"] != "unchanged"]
    return _table(
        moved.astype(object).where(moved.notna(), None),
        "What changed since the previous screen (score and rank; why a name entered or left)",
    )


# ----------------------------------------------------------------------------- backtests
def _tear_sheet(value: pd.DataFrame, main: str, against: str = "the benchmarks") -> list[str]:
    import plotly.graph_objects as go

    eq = _new_figure(
        [
            go.Scatter(x=value.index, y=value[c] / value[c].dropna().iloc[0], name=c)
            for c in value.columns
        ]
    )
    eq.update_yaxes(type="log", title="growth of 1 (log scale)")
    dd = value[main] / value[main].cummax() - 1
    draw = _new_figure(go.Scatter(x=dd.index, y=dd * 100, fill="tozeroy", name="drawdown"))
    draw.update_yaxes(title="%")
    r = value[main].pct_change()
    roll = r.rolling(126).mean() / r.rolling(126).std() * np.sqrt(252)
    sharpe = _new_figure(go.Scatter(x=roll.index, y=roll, name="126-day Sharpe"))
    monthly = (1 + r.fillna(0)).groupby([r.index.year, r.index.month]).prod() - 1
    grid = monthly.unstack()
    heat = _new_figure(
        go.Heatmap(
            z=grid.to_numpy() * 100,
            x=[str(m) for m in grid.columns],
            y=[str(y) for y in grid.index],
            colorscale="RdYlGn",
            zmid=0,
        )
    )
    return [
        _figure(eq, f"Equity of {main}" + (f" against {against}" if against else "")),
        _figure(draw, "Drawdown"),
        _figure(sharpe, "Rolling Sharpe (126 days)"),
        _figure(heat, "Monthly returns, %"),
    ]


def discount_report(res, inputs: dict) -> str:
    """A :class:`backtests.discount.DiscountResult` as a tear sheet."""
    import plotly.graph_objects as go

    main = next(iter(res.params))
    parts = _tear_sheet(res.value, main)
    w = res.weights[main].dropna(how="all").fillna(0.0)
    w = w.loc[:, (w != 0).any()]  # the names ever held
    held = _new_figure(
        go.Heatmap(z=w.T.to_numpy(), x=w.index, y=list(w.columns), colorscale="Blues")
    )
    parts.append(_figure(held, "Holdings at each rebalance (target weight)"))
    full = res.weights[main].dropna(how="all").fillna(0.0)
    turn = full.diff().abs().sum(axis=1).fillna(full.iloc[:1].abs().sum(axis=1)) / 2
    expo = full.sum(axis=1)
    te = _new_figure(
        [
            go.Bar(x=turn.index, y=turn * 100, name="turnover, % of equity"),
            go.Scatter(x=expo.index, y=expo * 100, name="invested, %"),
        ]
    )
    parts.append(_figure(te, "Turnover and exposure at each rebalance (target weights)"))
    parts += _sweep_parts(res)
    for signal, d in res.diagnostics.items():
        ic = d.ic
        q = d.quantiles
        parts.append(
            _figure(
                _new_figure(go.Bar(x=[str(h) for h in ic.index], y=ic["mean_ic"])),
                f"Rank IC of the {signal} signal by horizon (days)",
            )
        )
        parts.append(
            _figure(
                _new_figure(go.Bar(x=[str(i) for i in q.index], y=q["mean_forward_return"])),
                f"Mean 21-day forward return by {signal} tercile (3 = cheapest)",
            )
        )
    parts.append(_table(res.metrics.reset_index(names="run"), "Metrics"))
    return _page(f"aigap backtest discount: {main}", inputs, parts)


def _sweep_parts(res) -> list[str]:
    """For a sweep: Sharpe over two parameters and the overfitting figures."""
    if len(res.params) < 2:
        return []
    rows = [
        {
            "top": p.top_n,
            "rebalance": p.rebalance,
            "weighting": p.weighting,
            "signal": p.signal,
            "sharpe": float(res.metrics.at[label, "sharpe"]),
        }
        for label, p in res.params.items()
    ]
    t = pd.DataFrame(rows)
    grid = t.pivot_table(index="top", columns="rebalance", values="sharpe", aggfunc="mean")
    parts = [
        _figure(_heatmap(grid), "Sharpe over the sweep: top N x rebalance (mean over the rest)")
    ]
    parts += _overfitting(res.overfitting)
    return parts


def pairs_report(res, inputs: dict) -> str:
    """A :class:`backtests.pairs.PairsResult`: the best run's tear sheet and, for each pair,
    the z-score of the best run's lookback with its entries and exits marked."""
    import plotly.graph_objects as go

    t = res.table
    best = str(t["sharpe"].astype(float).idxmax()) if t["sharpe"].notna().any() else t.index[0]
    parts = _tear_sheet(res.value[[best]], best, against="")
    from strategies.pairs import spread_zscore

    tr = res.trades[best]
    px = res.prices[str(t.at[best, "pair"])]
    spread = spread_zscore(px, int(t.at[best, "lookback"]))["z"]
    fig = _new_figure(go.Scatter(x=spread.index, y=spread, name="z-score of the spread"))
    for level in (float(t.at[best, "entry"]), -float(t.at[best, "entry"])):
        fig.add_hline(y=level, line_dash="dot")
    if len(tr):
        fig.add_trace(
            go.Scatter(
                x=tr["entry_date"],
                y=spread.reindex(tr["entry_date"]),
                mode="markers",
                name="entry",
                marker=dict(size=9),
            )
        )
        ex = tr["exit_date"].dropna()
        fig.add_trace(
            go.Scatter(
                x=ex,
                y=spread.reindex(pd.DatetimeIndex(ex)),
                mode="markers",
                name="exit",
                marker=dict(size=9, symbol="x"),
            )
        )
    parts.append(
        _figure(fig, f"{t.at[best, 'pair']}: z-score (on the fill prices) with entries and exits")
    )
    if t["lookback"].nunique() > 1 and t["entry"].nunique() > 1:
        from backtests.pairs import heatmap

        hm = heatmap(t)
        parts.append(_figure(_heatmap(hm), "Sharpe over the sweep"))
    parts += _overfitting(res.overfitting)
    best50 = t.sort_values("sharpe", ascending=False).reset_index().head(50)
    parts.append(_table(best50, "Parameter sets, best 50 by Sharpe"))
    return _page(f"aigap backtest pairs: {best}", inputs, parts)


def coverage_line(store, universe, date) -> str:
    """How many names the data can value on ``date`` (``aigap data coverage`` has the detail)."""
    from screens.coverage import coverage

    row = coverage(store, universe, pd.DatetimeIndex([date])).summary.iloc[0]
    return (
        f"{int(row['china_valued'])} of {int(row['china_names'])} Chinese names valued, "
        f"{int(row['us_with_ps'])} of {int(row['us_names'])} US peers with P/S "
        "(aigap data coverage lists the missing inputs)"
    )


def inputs_block(store, universe, **params) -> dict:
    """What a report rests on: the store, its data end, the universe and the parameters."""
    from data.calendar import us_calendar

    return {
        "data store": "the embedded snapshot" if store.embedded else str(store.root),
        "data end (last US trading day)": us_calendar(store).max().date().isoformat(),
        "universe": f"{universe.path.name} ({len(universe.china)} Chinese, {len(universe.us)} US)",
        **{k: json.dumps(v, default=str) for k, v in params.items()},
    }


def write_report(text: str, path: str) -> None:
    """Write a report atomically and say where."""
    import sys

    from screens.export import write_text

    write_text(text, path)
    print(f"wrote {path}", file=sys.stderr)
