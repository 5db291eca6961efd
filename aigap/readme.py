"""Regenerate the README's figures from the embedded data: ``python -m aigap.readme [--check]``.

Every figure between ``<!-- figures:NAME -->`` and ``<!-- /figures:NAME -->`` in README.md is
written by this module (never typed): the screen's headline on the last day of the data, the
coverage of the point-in-time panel every half year, and the default long-discount backtest
with what its valuation signal did.  ``--check`` exits 1 when the README
differs from what the data gives (the test suite runs it).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

from data.store import Store, resolve_store
from data.universe import Universe, load_universe

__all__ = ["coverage_dates", "figures", "headline_date", "render_readme"]

README = Path(__file__).resolve().parent.parent / "README.md"
#: the coverage table starts here and runs every half year to the end of the data
COVERAGE_START = "2019-01-01"


def headline_date(store: Store) -> pd.Timestamp:
    """The headline's date: the last US trading day of the store (never a date in the code)."""
    from data.calendar import us_calendar

    return us_calendar(store).max()


def coverage_dates(store: Store) -> pd.DatetimeIndex:
    """The last trading day of every June and December from :data:`COVERAGE_START`, and the
    last day of the data."""
    from data.calendar import period_ends, us_calendar

    q = period_ends(us_calendar(store, pd.Timestamp(COVERAGE_START)), "QE")
    half = q[q.month.isin([6, 12])]
    return half.union(pd.DatetimeIndex([headline_date(store)]))


def _x(v: float) -> str:
    return "n/a" if pd.isna(v) else f"{v:.1f}x"


def headline(store: Store, universe: Universe, as_of: pd.Timestamp | None = None) -> str:
    """The screen's segment gap view on one date, in words."""
    from screens.screen import run_screen

    res = run_screen(store, universe, as_of if as_of is not None else headline_date(store))
    seg = res.segments.set_index(["segment", "metric"])
    ranked = int(res.rows["rank"].notna().sum())

    def line(segment: str, metric: str) -> tuple[float, float, int, int, float]:
        r = seg.loc[(segment, metric)]
        n_cn, n_us = int(r["china_n"]), int(r["us_n"])
        return r["china_median"], r["us_median"], n_cn, n_us, r["gap_pct"]

    a = line("ALL", "pe_forward")
    i = line("internet", "pe_forward")
    c = line("cloud", "pe_forward")
    ps = line("ALL", "ps")
    return (
        f"On the embedded data the screen's own headline for **{res.as_of.date()}** (the last "
        f"day of the data) ranks {ranked} of "
        f"{len(universe.china)} Chinese names: a median {_x(a[0])} forward P/E against "
        f"{_x(a[1])} for the US peers ({a[2]} vs {a[3]} names with a forward EPS, "
        f"{a[4]:+.0%}), internet platforms {_x(i[0])} vs {_x(i[1])} ({i[2]} vs {i[3]} names, "
        f"{i[4]:+.0%}), cloud {_x(c[0])} vs {_x(c[1])} ({c[2]} vs {c[3]}); P/S {_x(ps[0])} vs "
        f"{_x(ps[1])} ({ps[2]} vs {ps[3]} names)."
    )


def coverage_lines(store: Store, universe: Universe) -> str:
    """A markdown table: per floor date, names valued, and what keeps the others out."""
    from screens.coverage import coverage

    res = coverage(store, universe, coverage_dates(store))
    rows = [
        "| date | Chinese names valued | US peers with P/S | most common gap (Chinese names) |",
        "|---|---|---|---|",
    ]
    for _, s in res.summary.iterrows():
        d = s["date"]
        china = res.rows[(res.rows["date"] == d) & (res.rows["role"] == "china")]
        gaps = china.loc[~china["valued"], "ps"].dropna().value_counts()
        top = ", ".join(f"{why} {n}" for why, n in gaps.head(3).items())
        rows.append(
            f"| {d.date()} | {s['china_valued']} of {s['china_names']} | "
            f"{s['us_with_ps']} of {s['us_names']} | {top or '-'} |"
        )
    return "\n".join(rows)


#: the default long-discount run the README reports (the CLI's defaults, the store's end)
BACKTEST_START = "2019-01-01"


def backtest_lines(store: Store, universe: Universe) -> str:
    """The default long-discount run (valuation signal, top 5, monthly) against its
    benchmarks, and what the valuation signal did: its rank IC with forward returns."""
    from backtests.discount import run_discount_backtest
    from strategies.long_discount import LongDiscountParams

    p = LongDiscountParams()
    res = run_discount_backtest(store, universe, [p], start=BACKTEST_START)
    m = res.metrics
    rows = [
        "| run | total return | CAGR | volatility | Sharpe | max drawdown | invested |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in m.index:
        r = m.loc[run]
        invested = f"{r['invested']:.0%}" if run == p.label else ""
        name = str(run).replace("|", "\\|")  # a run label's bars are not table columns
        rows.append(
            f"| {name} | {r['total_return']:+.0%} | {r['cagr']:+.1%} | {r['volatility']:.0%} | "
            f"{r['sharpe']:.2f} | {r['max_drawdown']:.0%} | {invested} |"
        )
    ic = res.diagnostics["valuation"].ic
    words = ", ".join(
        f"{r['mean_ic']:+.3f} at {h} days (HAC t {r['t_stat_hac']:+.1f}, {int(r['dates'])} dates)"
        for h, r in ic.iterrows()
    )
    q = res.diagnostics["valuation"].quantiles["mean_forward_return"]
    start, end = res.value.index[0].date(), res.value.index[-1].date()
    return "\n".join(
        [
            f"`aigap backtest discount` (`{p.label}`, fees 10 bp, slippage 5 bp), first fill "
            f"{start} to {end}; every leg starts on the first fill:",
            "",
            *rows,
            "",
            f"What the valuation signal did: its rank IC with forward returns is {words}. "
            f"Mean 21-day forward return by valuation tercile (1 = dearest, 3 = cheapest): "
            f"{q.iloc[0]:+.2%}, {q.iloc[1]:+.2%}, {q.iloc[2]:+.2%}. It is reported as it is; "
            "nothing was tuned to it.",
        ]
    )


def figures(store: Store, universe: Universe) -> dict[str, str]:
    return {
        "headline": headline(store, universe),
        "coverage": coverage_lines(store, universe),
        "backtest": backtest_lines(store, universe),
    }


def _replacement(body: str):
    def repl(m: re.Match[str]) -> str:
        return m.group(1) + body + "\n" + m.group(2)

    return repl


def render_readme(text: str, blocks: dict[str, str]) -> str:
    """``text`` with each marked block replaced by its figures."""
    for name, body in blocks.items():
        pat = re.compile(
            rf"(<!-- figures:{name} -->\n)(?:.*?\n)?(<!-- /figures:{name} -->)", flags=re.DOTALL
        )
        if not pat.search(text):
            raise ValueError(f"README has no <!-- figures:{name} --> block")
        text = pat.sub(_replacement(body), text)
    return text


#: the README's report screenshots: (file, report command arguments)
SCREENSHOTS = (
    ("report-screen.png", ["report", "screen"]),
    ("report-discount.png", ["report", "discount"]),
    ("report-pairs.png", ["report", "pairs", "--pair", "BABA:AMZN", "--lookback", "20,60,120",
                          "--entry", "1.5,2,2.5", "--exit", "0,0.5"]),
)  # fmt: skip


def screenshots(folder: Path) -> None:
    """Make each report with the project's own command and photograph it in headless
    Chromium (``python -m aigap.readme --screenshots``)."""
    import tempfile

    from aigap.browser import screenshot
    from aigap.cli import main as cli

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for png, args in SCREENSHOTS:
            page = Path(tmp) / png.replace(".png", ".html")
            if cli([*args, "--out", str(page)]) != 0:
                raise SystemExit(f"could not make {page.name}")
            screenshot(page, folder / png)
            print(f"wrote {folder / png}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--screenshots" in argv:
        screenshots(README.parent / "docs")
        return 0
    store, universe = resolve_store(), load_universe()
    old = README.read_text()
    new = render_readme(old, figures(store, universe))
    if "--check" in argv:
        if new != old:
            print("README figures are out of date: run python -m aigap.readme", file=sys.stderr)
            return 1
        return 0
    if new != old:
        from data.store import atomic_write_text

        atomic_write_text(new, README)
        print(f"updated {README}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
