"""The ``aigap`` command line.  Errors are one line on stderr and a non-zero exit code."""

from __future__ import annotations

import errno
import functools
import gc
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from backtests import defaults
from data.errors import (
    EXIT_DATA,
    EXIT_UPSTREAM,
    EXIT_USAGE,
    AigapError,
    InputError,
    OutputPathError,
)
from data.rules import MAX_PRICE_AGE_DAYS, STALE_FUNDAMENTALS_DAYS
from screens.eligibility import Eligibility
from strategies import defaults as strategy_defaults

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Screen and backtest the China-vs-US AI valuation gap.  Exit codes: 0 success, "
    "1 the reader of the output closed it early (| head), 2 usage or input error, 3 data error, "
    "4 upstream (Yahoo Finance) failure, 70 internal error (a bug), 130 interrupted.",
)
#: the exit code of an unexpected exception (a bug: BSD sysexits EX_SOFTWARE)
EXIT_INTERNAL = 70
#: the output's reader has gone (``| head``): Click's code for it, and Python's recipe
EXIT_CLOSED_PIPE = 1


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aigap")
    except PackageNotFoundError:
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        print(f"aigap {_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback of any error.")
    ] = False,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    del debug, show_version  # main() reads --debug from the arguments before any command runs


data_app = typer.Typer(no_args_is_help=True, help="The data store: status, prices, update.")
backtest_app = typer.Typer(no_args_is_help=True, help="Backtests: long-discount and pairs.")
pairs_app = typer.Typer(no_args_is_help=True, help="Pair statistics.")
report_app = typer.Typer(
    no_args_is_help=True, help="Self-contained HTML reports (plotly inlined; open offline)."
)
app.add_typer(data_app, name="data")
app.add_typer(backtest_app, name="backtest")
app.add_typer(pairs_app, name="pairs")
app.add_typer(report_app, name="report")


def _path(value: str | None) -> str | None:
    """Every path option: ``~`` and ``~user`` expanded, as a shell would."""
    return os.path.expanduser(value) if value else value


DataDir = Annotated[
    str | None,
    typer.Option(
        "--data-dir",
        help="Data store folder (default: $AIGAP_DATA_DIR, else the embedded snapshot).",
        callback=_path,
    ),
]
UniverseOpt = Annotated[
    str | None, typer.Option("--universe", help="Universe TOML file.", callback=_path)
]
# who may be ranked (the screen) or held (the long-discount backtest): screens.eligibility
MinMarketCap = Annotated[
    float, typer.Option("--min-market-cap", help="USD; smaller valued names are left out")
]
MinMetrics = Annotated[
    int, typer.Option("--min-metrics", help="valued names on fewer multiples are left out")
]
StaleDays = Annotated[
    int, typer.Option("--stale-days", help="annual figures older than this are stale (days)")
]
ExcludeStale = Annotated[
    bool, typer.Option("--exclude-stale", help="a flag: drop names on stale figures")
]
OutFile = Annotated[str | None, typer.Option("--out", help="write to this file", callback=_path)]
DiffOpt = Annotated[
    str | None,
    typer.Option(
        "--diff", help="previous screen JSON (or its as-of date with --archive)", callback=_path
    ),
]
ReportOpt = Annotated[
    str | None,
    typer.Option("--report", help="also write an HTML report (plotly inlined)", callback=_path),
]


# the backtests' options, declared once (defaults: backtests.defaults)
StartOpt = Annotated[str, typer.Option("--start", help="YYYY-MM-DD")]
EndOpt = Annotated[
    str | None,
    typer.Option("--end", help="YYYY-MM-DD (default: the last US trading day in the store)"),
]
FeesOpt = Annotated[float, typer.Option("--fees", help="fraction per trade")]
SlippageOpt = Annotated[float, typer.Option("--slippage", help="fraction of the price per trade")]
TrainYearsOpt = Annotated[float, typer.Option("--train-years")]
TestMonthsOpt = Annotated[int, typer.Option("--test-months")]
TopOpt = Annotated[str, typer.Option("--top", help="N, or a list for a sweep: 3,5,8")]
RebalanceOpt = Annotated[
    str, typer.Option("--rebalance", help="W, M, Q or pandas aliases; list for a sweep")
]
WeightingOpt = Annotated[
    str, typer.Option("--weighting", help="equal|score|inverse_vol; list for a sweep")
]
SignalOpt = Annotated[str, typer.Option("--signal", help="valuation|price|auto; list for a sweep")]
CapOpt = Annotated[float, typer.Option("--cap", help="max weight per name")]
PairOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--pair",
        help="CHINA:PEER, e.g. BABA:AMZN, BABA:9988.HK or KC:basket; repeatable (default: the "
        "universe's pair list)",
    ),
]
LookbackOpt = Annotated[str, typer.Option("--lookback", help="days; list = sweep")]
EntryOpt = Annotated[str, typer.Option("--entry", help="|z| to enter; list = sweep")]
ExitOpt = Annotated[str, typer.Option("--exit", help="|z| to exit; list = sweep")]
StopOpt = Annotated[str, typer.Option("--stop", help="|z| stop-loss; list = sweep")]
MaxHoldOpt = Annotated[int, typer.Option("--max-hold", help="days")]
HedgeOpt = Annotated[str, typer.Option("--hedge", help="ols|dollar|beta")]
BorrowRateOpt = Annotated[
    float, typer.Option("--borrow-rate", help="annual, on the short leg's notional")
]


def _fmt(*choices: str) -> str:
    return "|".join(choices)


def _console() -> Console:
    """Terminal width when on a terminal; 200 columns when piped (tables stay on one line)."""
    cols = os.environ.get("COLUMNS")
    width = int(cols) if cols and cols.isdigit() else (None if sys.stdout.isatty() else 200)
    return Console(width=width, highlight=False, soft_wrap=False)


def _emit(text: str, out: str | None) -> None:
    if out:
        from screens.export import write_text

        write_text(text, out)
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def _choice(value: str, allowed: tuple[str, ...], opt: str) -> str:
    if value not in allowed:
        raise InputError(f"{opt} must be one of {', '.join(allowed)} (got {value!r})")
    return value


def _check(ok: bool, message: str) -> None:
    """A parameter outside its sensible range is a usage error, before any work."""
    if not ok:
        raise InputError(message)


def _ctx(data_dir: str | None, universe: str | None = None):
    from data.store import resolve_store
    from data.universe import load_universe

    return resolve_store(data_dir), load_universe(universe)


# ----------------------------------------------------------------------------- data
@data_app.command("status")
def data_status(
    fmt: Annotated[str, typer.Option("--format", help=_fmt("table", "json"))] = "table",
    data_dir: DataDir = None,
    universe: UniverseOpt = None,
) -> None:
    """Per ticker: source(s), first date, last date, rows, currency."""
    _choice(fmt, ("table", "json"), "--format")
    store, uni = _ctx(data_dir, universe)
    ccy = {t: x.currency for t, x in uni.listings.items()}
    st = store.status(ccy, uni.tickers)
    if fmt == "json":
        sys.stdout.write(json.dumps(st.to_dict("records"), indent=1) + "\n")
        return
    from aigap.render import frame_table

    frame_table(_console(), st.set_index("ticker"), f"aigap data store: {store.root}")


@data_app.command("prices")
def data_prices(
    tickers: Annotated[list[str], typer.Argument(help="Yahoo tickers, e.g. BABA 0700.HK CNY=X")],
    start: Annotated[str | None, typer.Option("--start")] = None,
    end: Annotated[str | None, typer.Option("--end")] = None,
    fmt: Annotated[str, typer.Option("--format", help=_fmt("csv", "json"))] = "csv",
    out: OutFile = None,
    data_dir: DataDir = None,
) -> None:
    """Adjusted closes as stored (listing currency), one column per ticker."""
    import pandas as pd

    _choice(fmt, ("csv", "json"), "--format")
    store, uni = _ctx(data_dir)
    from data.dates import parse_date

    s_ts = parse_date(start, "--start") if start is not None else None
    e_ts = parse_date(end, "--end") if end is not None else None
    if s_ts is not None and e_ts is not None and s_ts > e_ts:
        from data.errors import DateRangeError

        raise DateRangeError(
            s_ts.date(), e_ts.date(), f"--start {s_ts.date()} is after --end {e_ts.date()}"
        )
    if out:
        from screens.export import check_output_file

        check_output_file(out)
    px = store.close(tickers, s_ts, e_ts)
    if px.empty:
        from data.errors import NoDataError

        have = store.close(tickers)
        raise NoDataError(
            f"no prices of {', '.join(tickers)} between {s_ts.date() if s_ts else '...'} and "
            f"{e_ts.date() if e_ts else '...'} (stored from {have.index.min().date()} to "
            f"{have.index.max().date()})"
        )
    if fmt == "csv":
        text = px.to_csv(
            index_label="date", float_format="%.6f", lineterminator="\n", date_format="%Y-%m-%d"
        )
    else:
        from data.store import FX_SYMBOLS

        fx = {v: k for k, v in FX_SYMBOLS.items()}
        recs = [
            {
                "date": d.date().isoformat(),
                **{t: (None if pd.isna(v) else round(float(v), 6)) for t, v in row.items()},
            }
            for d, row in px.iterrows()
        ]
        currency = {
            t: (
                uni.listings[t].currency
                if t in uni.listings
                else f"{fx[t]} per USD"
                if t in fx
                else None
            )
            for t in px.columns
        }
        text = json.dumps({"currency": currency, "prices": recs}, indent=1) + "\n"
    _emit(text, out)


@data_app.command("update")
def data_update(
    tickers: Annotated[list[str] | None, typer.Argument()] = None,
    start: Annotated[str, typer.Option("--start")] = "2015-01-01",
    data_dir: DataDir = None,
    universe: UniverseOpt = None,
) -> None:
    """Refresh prices, FX and valuations from Yahoo Finance into a user store (exit 4 if any
    ticker still failed after the retries; the store keeps what was received)."""
    from data.dates import parse_date
    from data.store import update_target
    from data.universe import load_universe
    from data.update import update_store

    start = parse_date(start, "--start").date().isoformat()
    uni = load_universe(universe)
    from aigap.render import progress_bar

    root = update_target(data_dir)
    report = update_store(root, uni, tickers or None, start=start, progress=progress_bar)
    print(report.summary(), file=sys.stderr)
    if report.failed:  # the store holds what was received; the failures are upstream's
        raise typer.Exit(code=EXIT_UPSTREAM)


# ----------------------------------------------------------------------------- screen
@data_app.command("coverage")
def data_coverage(
    start: Annotated[
        str | None, typer.Option("--start", help="YYYY-MM-DD (default: a year before --end)")
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--end", help="YYYY-MM-DD (default: the last US trading day in the store)"),
    ] = None,
    freq: Annotated[str, typer.Option("--freq", help=_fmt("W", "M", "Q"))] = "M",
    fmt: Annotated[str, typer.Option("--format", help=_fmt("table", "json"))] = "table",
    data_dir: DataDir = None,
    universe: UniverseOpt = None,
) -> None:
    """Per date and name: which multiples are computable and, for each gap, the missing input."""
    import pandas as pd

    from data.calendar import period_ends, us_calendar
    from data.dates import parse_date
    from screens.coverage import coverage

    _choice(fmt, ("table", "json"), "--format")
    offset = {"W": "W-FRI", "M": "ME", "Q": "QE"}.get(_choice(freq, ("W", "M", "Q"), "--freq"))
    store, uni = _ctx(data_dir, universe)
    cal = us_calendar(store)
    end_ts = parse_date(end, "--end") if end else cal.max()
    start_ts = parse_date(start, "--start") if start else end_ts - pd.DateOffset(years=1)
    if start_ts > end_ts:
        raise InputError(f"--start {start_ts.date()} is after --end {end_ts.date()}")
    dates = period_ends(us_calendar(store, start_ts, end_ts), str(offset))
    if not len(dates):
        raise InputError(
            f"no US trading day between {start_ts.date()} and {end_ts.date()} in the store "
            f"(data from {cal.min().date()} to {cal.max().date()})"
        )
    res = coverage(store, uni, dates)
    if fmt == "json":
        from aigap.render import coverage_document

        sys.stdout.write(json.dumps(coverage_document(res), indent=1) + "\n")
    else:
        from aigap.render import coverage_table

        coverage_table(_console(), res)


@data_app.command("verify")
def data_verify(
    fmt: Annotated[str, typer.Option("--format", help=_fmt("table", "json"))] = "table",
    data_dir: DataDir = None,
    universe: UniverseOpt = None,
) -> None:
    """Check the store: gaps, stale series, suspicious jumps, currency mismatches, unrestated
    splits, corrupted files (exit 3 if a file is corrupted; findings alone exit 0)."""
    from data.verify import verify_store

    _choice(fmt, ("table", "json"), "--format")
    store, uni = _ctx(data_dir, universe)
    report = verify_store(store, uni)
    if fmt == "json":
        sys.stdout.write(json.dumps(report.to_document(), indent=1) + "\n")
    else:
        from aigap.render import verify_table

        verify_table(_console(), report)
    if "corrupt" in report.counts():
        raise typer.Exit(code=EXIT_DATA)


@app.command("gap")
def gap(
    start: Annotated[str, typer.Option("--start", help="YYYY-MM-DD")] = "2016-01-01",
    end: Annotated[
        str | None,
        typer.Option("--end", help="YYYY-MM-DD (default: the last US trading day in the store)"),
    ] = None,
    freq: Annotated[str, typer.Option("--freq", help=_fmt("W", "M", "Q"))] = "M",
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", help="ps|pe_trailing|pe_forward|ev_sales|... (default: ps)"),
    ] = None,
    segments: Annotated[
        list[str] | None, typer.Option("--segments", help="e.g. cloud,software,ALL")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help=_fmt("table", "csv", "json"))] = "table",
    out: OutFile = None,
    data_dir: DataDir = None,
    universe: UniverseOpt = None,
) -> None:
    """Is the gap closing?  China vs US median multiples by segment over time, point in time,
    with the number of names each median rests on (fewer than 3: marked)."""
    from data.calendar import period_ends, us_calendar
    from data.dates import parse_date
    from screens.gap import gap_history

    _choice(fmt, ("table", "csv", "json"), "--format")
    offset = {"W": "W-FRI", "M": "ME", "Q": "QE"}[_choice(freq, ("W", "M", "Q"), "--freq")]
    if out:
        from screens.export import check_output_file

        check_output_file(out)
    store, uni = _ctx(data_dir, universe)
    cal = us_calendar(store)
    s_ts = parse_date(start, "--start")
    e_ts = min(parse_date(end, "--end"), cal.max()) if end else cal.max()
    if s_ts >= e_ts:
        from data.errors import DateRangeError

        raise DateRangeError(s_ts.date(), e_ts.date())
    dates = period_ends(us_calendar(store, s_ts, e_ts), offset)
    metrics = _split(metric) or ("ps",)
    rows = gap_history(store, uni, dates, metrics=metrics, segments=_split(segments))
    if fmt == "json":
        from screens.export import gap_json

        _emit(gap_json(rows), out)
    elif fmt == "csv" or out:
        from screens.export import gap_csv

        _emit(gap_csv(rows), out)
    else:
        from aigap.render import gap_table, reference_lines
        from screens.gap import reference_points

        gap_table(_console(), rows)
        for line in reference_lines(store, uni, reference_points(store), dates):
            print(line)


def _split(values: list[str] | None) -> tuple[str, ...]:
    out: list[str] = []
    for v in values or []:
        out += [s.strip() for s in v.split(",") if s.strip()]
    return tuple(out)


def _previous_screen(diff: str | None, archive: str | None) -> dict | None:
    """``--diff``: a screen JSON file, or with ``--archive`` the as-of date of an archived one."""
    if not diff:
        return None
    from screens.export import load_screen_json

    p = Path(diff)
    if not p.exists() and archive:
        p = Path(archive) / f"screen-{diff}.json"
    return load_screen_json(p)


def _prev_as_of(previous: dict | None) -> str | None:
    return None if previous is None else str(previous["as_of"])


def _default_as_of(store, uni):
    """The store's last US trading day (one rule with the screen's end of data)."""
    from data.calendar import data_bounds
    from data.errors import NoDataError

    last = data_bounds(store, uni).last_us_day
    if last is None:
        raise NoDataError("the data store holds no US prices: nothing to screen")
    return last


@app.command("screen")
def screen(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="YYYY-MM-DD (default: the last US trading day in the store)"),
    ] = None,
    universe: UniverseOpt = None,
    segments: Annotated[
        list[str] | None, typer.Option("--segments", help="e.g. cloud,software")
    ] = None,
    top: Annotated[int | None, typer.Option("--top", help="keep the N best ranked")] = None,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            help="order the ranked names by a column (rank, market_cap, score, composite, "
            "ps, pe_forward, ...); -COLUMN for descending",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help=_fmt("table", "csv", "json"))] = "table",
    out: OutFile = None,
    report: ReportOpt = None,
    export: Annotated[
        str | None,
        typer.Option(
            "--export",
            help="watchlist file; its extension (.csv .json .txt .xlsx) sets the format",
            callback=_path,
        ),
    ] = None,
    watchlist_format: Annotated[
        str | None,
        typer.Option(
            "--watchlist-format",
            help="csv|json|txt|tradingview|xlsx (default: from the --export extension)",
        ),
    ] = None,
    archive: Annotated[
        str | None,
        typer.Option(
            "--archive",
            help="folder: also save this screen as screen-<as_of>.json",
            callback=_path,
        ),
    ] = None,
    diff: DiffOpt = None,
    min_market_cap: MinMarketCap = 0.0,
    min_metrics: MinMetrics = 1,
    stale_days: StaleDays = STALE_FUNDAMENTALS_DAYS,
    exclude_stale: ExcludeStale = False,
    max_price_age: Annotated[
        int, typer.Option("--max-price-age", help="days")
    ] = MAX_PRICE_AGE_DAYS,
    data_dir: DataDir = None,
) -> None:
    """Rank Chinese AI names by valuation discount to US peers within their segment."""
    from data.pointintime import PanelConfig
    from screens.export import screen_document
    from screens.export import watchlist_format as watchlist_format_of
    from screens.screen import ScreenFilters, run_screen, sorted_screen

    _choice(fmt, ("table", "csv", "json"), "--format")
    if watchlist_format is not None and not export:
        raise InputError("--watchlist-format needs --export FILE")
    wl_format = watchlist_format_of(export, watchlist_format) if export else None
    flt = ScreenFilters(segments=_split(segments), top=top, min_market_cap=min_market_cap,
                        min_metrics=min_metrics, stale_days=stale_days,
                        exclude_stale=exclude_stale)  # fmt: skip
    _check(max_price_age >= 0, "--max-price-age must not be negative")
    store, uni = _ctx(data_dir, universe)
    _check_screen_targets(out, export, report, archive)
    previous = _previous_screen(diff, archive)
    config = PanelConfig(max_price_age_days=max_price_age)  # staleness: the filters decide
    res = run_screen(store, uni, as_of or _default_as_of(store, uni), filters=flt,
                     panel_config=config)  # fmt: skip
    if sort:
        res = sorted_screen(res, sort)
    if archive:  # the archived file's name has the as-of date: checked once it is known
        from data.paths import check_distinct
        from screens.export import archive_path

        check_distinct(out=out, export=export, report=report,
                       archive=str(archive_path(archive, res.as_of)))  # fmt: skip
    needs_doc = fmt == "json" or previous is not None or archive  # a table needs none
    doc = screen_document(res) if needs_doc else None
    changes = _changes(previous, doc) if doc is not None else None
    if report:
        _screen_report(store, uni, res, report, _prev_as_of(previous), changes)
    for note in res.notes:
        print(f"aigap: note: {note}", file=sys.stderr)
    _emit_screen(res, doc, changes, _prev_as_of(previous), fmt, out)
    if export:
        from screens.export import write_watchlist

        n = write_watchlist(res, uni, export, str(wl_format))
        print(f"wrote {n} names to {export} ({wl_format})", file=sys.stderr)
    if archive:
        _archive_screen(res, doc, archive)


def _check_screen_targets(out, export, report, archive) -> None:
    """Every file and folder the screen will write: distinct and writable, before any work."""
    from data.paths import check_distinct
    from screens.export import check_output_dir, check_output_file

    check_distinct(out=out, export=export, report=report, archive=archive)
    for target in (out, export):
        if target:
            check_output_file(target)
    if report:
        _check_html(report)
    if archive:
        check_output_dir(archive)


def _changes(previous: dict | None, doc: dict):
    """What changed between the ``previous`` screen document (None: no --diff) and ``doc``."""
    from screens.export import diff_screens

    return diff_screens(previous, doc) if previous is not None else None


def _emit_screen(res, doc: dict | None, changes, previous_as_of: str | None, fmt: str,
                 out: str | None) -> None:  # fmt: skip
    """The screen (``doc``: its document) as JSON, CSV or a table (on stdout or into ``out``),
    and the ``changes`` since the screen of ``previous_as_of``: inside the JSON, as CSV
    columns plus a table on stderr, or a table."""
    from screens.export import screen_csv, screen_json

    if fmt == "json":  # the diff goes inside the document: stdout stays one JSON document
        _emit(screen_json(res, diff=changes, previous_as_of=previous_as_of, doc=doc), out)
    elif fmt == "csv" or out:
        _emit(screen_csv(res, diff=changes), out)
    else:
        from aigap.render import data_age_line, screen_table

        screen_table(_console(), res)
        if res.data_end is not None:
            print(data_age_line(res.data_end, pd_timestamp("today")))
    if changes is not None and (fmt == "table" or fmt == "csv"):
        from aigap.render import diff_table

        # after a CSV on stdout, the table goes to stderr so that the CSV still parses
        console = Console(stderr=True) if fmt == "csv" and not out else _console()
        diff_table(console, changes, previous_as_of or "", res.as_of.date().isoformat())


def _archive_screen(res, doc: dict | None, archive: str) -> None:
    from screens.export import archive_path, screen_json, write_text

    path = archive_path(archive, res.as_of)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputPathError(archive, e.strerror or type(e).__name__) from None
    write_text(screen_json(res, doc=doc), path)
    print(f"archived {path}", file=sys.stderr)


# ----------------------------------------------------------------------------- backtests
def _list(value: str, cast, opt: str) -> tuple:
    try:
        out = tuple(cast(v.strip()) for v in value.split(",") if v.strip())
    except ValueError:
        raise InputError(f"{opt}: cannot read {value!r} (comma-separated list)") from None
    if not out:
        raise InputError(f"{opt}: empty list")
    return out


@backtest_app.command("discount")
def backtest_discount(
    start: StartOpt = defaults.START,
    end: EndOpt = None,
    top: TopOpt = f"{strategy_defaults.TOP_N}",
    rebalance: RebalanceOpt = "M",
    weighting: WeightingOpt = strategy_defaults.WEIGHTING,
    signal: SignalOpt = strategy_defaults.SIGNAL,
    cap: CapOpt = strategy_defaults.CAP,
    quantile: Annotated[
        float | None, typer.Option("--quantile", help="select the top quantile instead of top N")
    ] = None,
    per_segment: Annotated[bool, typer.Option("--per-segment")] = False,
    min_market_cap: MinMarketCap = 0.0,
    min_metrics: MinMetrics = 1,
    stale_days: StaleDays = STALE_FUNDAMENTALS_DAYS,
    exclude_stale: ExcludeStale = False,
    fees: FeesOpt = defaults.FEES,
    slippage: SlippageOpt = defaults.SLIPPAGE,
    walk_forward: Annotated[bool, typer.Option("--walk-forward")] = False,
    train_years: TrainYearsOpt = defaults.TRAIN_YEARS,
    test_months: TestMonthsOpt = defaults.TEST_MONTHS,
    fmt: Annotated[str, typer.Option("--format", help=_fmt("table", "json"))] = "table",
    out: Annotated[
        str | None, typer.Option("--out", help="folder for CSV/JSON output", callback=_path)
    ] = None,
    report: ReportOpt = None,
    data_dir: DataDir = None,
    universe: UniverseOpt = None,
) -> None:
    """Long-discount backtest: hold the most discounted names, rebalanced on a schedule.
    --min-market-cap, --min-metrics, --stale-days and --exclude-stale leave out the names the
    screen would leave out, on each signal date."""
    from aigap.discount_command import run_discount_cli
    from aigap.options import Output
    from backtests.discount import DiscountSettings
    from backtests.walkforward import WalkForward

    _choice(fmt, ("table", "json"), "--format")
    grid = _discount_grid(top, rebalance, weighting, signal, cap=cap, quantile=quantile,
                          per_segment=per_segment)  # fmt: skip
    rule = Eligibility(min_metrics, min_market_cap, stale_days, exclude_stale)
    settings = DiscountSettings(start=start, end=end, fees=fees, slippage=slippage,
                                eligibility=None if rule == Eligibility() else rule)  # fmt: skip
    walk = WalkForward(train_years, test_months)
    _check_outputs(out, report)
    store, uni = _ctx(data_dir, universe)
    run_discount_cli(store, uni, grid, settings, Output(fmt, out, report, _console()),
                     walk=walk if walk_forward else None)  # fmt: skip
    _note_end(store, end)


def _discount_grid(top: str, rebalance: str, weighting: str, signal: str, **fixed):
    """The long-discount sweep of the comma lists given on the command line (checked)."""
    from strategies.long_discount import DiscountGrid

    return DiscountGrid(
        tops=_list(top, int, "--top"), rebalances=_list(rebalance, str, "--rebalance"),
        weightings=_list(weighting, str, "--weighting"),
        signals=_list(signal, str, "--signal"), **fixed,
    )  # fmt: skip


def _pairs_params(lookback: str, entry: str, exit_: str, stop: str, **rest):
    """The pairs grid of the comma lists given on the command line, with the rest (checked)."""
    from backtests.pairs import PairsParams

    return PairsParams(
        lookbacks=_list(lookback, int, "--lookback"), entries=_list(entry, float, "--entry"),
        exits=_list(exit_, float, "--exit"), stops=_list(stop, float, "--stop"), **rest,
    )  # fmt: skip


def _note_end(store, end: str | None) -> None:
    """An --end past the data is run to the data's end: say so."""
    if end is None:
        return
    from data.calendar import us_calendar
    from data.dates import parse_date

    last = us_calendar(store).max()
    if parse_date(end, "--end") > last:
        print(
            f"aigap: note: --end {end} is after the end of the data; the backtest ends on "
            f"{last.date()}, the last US trading day in the store",
            file=sys.stderr,
        )


def _pairs(pair: list[str] | None, uni) -> list:
    from strategies.pairs import parse_pair

    texts = _split(pair) if pair else tuple(f"{a}:{b}" for a, b in uni.pairs)
    return [parse_pair(p, uni) for p in texts]


@backtest_app.command("pairs")
def backtest_pairs(
    pair: PairOpt = None,
    lookback: LookbackOpt = f"{defaults.LOOKBACK}",
    entry: EntryOpt = f"{defaults.ENTRY:g}",
    exit_: ExitOpt = f"{defaults.EXIT:g}",
    stop: StopOpt = f"{defaults.STOP:g}",
    max_hold: MaxHoldOpt = defaults.MAX_HOLD,
    hedge: HedgeOpt = defaults.HEDGE,
    borrow_rate: BorrowRateOpt = defaults.BORROW_RATE,
    fees: FeesOpt = defaults.FEES,
    slippage: SlippageOpt = defaults.SLIPPAGE,
    long_only: Annotated[
        bool, typer.Option("--long-china-only", help="only trades long the Chinese name")
    ] = False,
    lag: Annotated[
        int,
        typer.Option(
            "--lag",
            help="extra US trading days of delay for a non-US leg (default 0: its same-day "
            "close, which is known before the New York close)",
        ),
    ] = 0,
    start: StartOpt = defaults.START,
    end: EndOpt = None,
    walk_forward: Annotated[bool, typer.Option("--walk-forward")] = False,
    train_years: TrainYearsOpt = defaults.TRAIN_YEARS,
    test_months: TestMonthsOpt = defaults.TEST_MONTHS,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="local|dask: where the sweep runs (dask: $AIGAP_DASK_ADDRESS, else a local "
            "cluster of --workers processes)",
        ),
    ] = "local",
    workers: Annotated[
        int | None, typer.Option("--workers", help="worker processes of a local Dask cluster")
    ] = None,
    stats: Annotated[
        bool,
        typer.Option(
            "--stats",
            help="also the pair statistics (Engle-Granger, ADF, half-life, rolling windows); "
            "they cost more than the backtest",
        ),
    ] = False,
    fmt: Annotated[str, typer.Option("--format", help=_fmt("table", "json"))] = "table",
    out: OutFile = None,
    report: ReportOpt = None,
    data_dir: DataDir = None,
    universe: UniverseOpt = None,
) -> None:
    """Pairs: long a Chinese name, short its US peer, traded on the spread z-score."""
    from aigap.options import Output
    from aigap.pairs_command import run_pairs_cli
    from backtests.walkforward import WalkForward

    _choice(fmt, ("table", "json"), "--format")
    params = _pairs_params(
        lookback, entry, exit_, stop, max_hold=max_hold, hedge=hedge, borrow_rate=borrow_rate,
        fees=fees, slippage=slippage, long_only=long_only, lag=lag, start=start, end=end,
        stats=stats,
    )  # fmt: skip
    from backtests.engines import ENGINES

    _choice(engine, ENGINES, "--engine")
    _check(workers is None or workers >= 1, "--workers must be at least 1")
    walk = WalkForward(train_years, test_months)
    _check_outputs(out, report)
    store, uni = _ctx(data_dir, universe)
    run_pairs_cli(
        store, uni, _pairs(pair, uni), params, Output(fmt, out, report, _console()),
        walk=walk if walk_forward else None, engine=engine, workers=workers,
    )  # fmt: skip
    _note_end(store, end)


@pairs_app.command("scan")
def pairs_scan(
    start: StartOpt = defaults.START,
    end: EndOpt = None,
    top: Annotated[int | None, typer.Option("--top")] = None,
    fmt: Annotated[str, typer.Option("--format", help=_fmt("table", "csv", "json"))] = "table",
    out: OutFile = None,
    data_dir: DataDir = None,
    universe: UniverseOpt = None,
) -> None:
    """Rank candidate pairs (each Chinese name against each US peer, its peer basket and its
    cross-listing) by cointegration, ADF, half-life and correlation."""
    from aigap.pairs_command import scan_cli

    _choice(fmt, ("table", "csv", "json"), "--format")
    _check(top is None or top >= 1, "--top must be at least 1")
    if out:
        from screens.export import check_output_file

        check_output_file(out)
    store, uni = _ctx(data_dir, universe)
    scan_cli(store, uni, start=start, end=end, top=top, fmt=fmt, out=out, console=_console())


# ----------------------------------------------------------------------------- reports
ReportOut = Annotated[str, typer.Option("--out", help="the HTML file to write", callback=_path)]


def _check_outputs(out: str | None, report: str | None) -> None:
    """A backtest's --out folder and --report file: distinct, and the report an HTML file."""
    from data.paths import check_distinct

    check_distinct(out=out, report=report)
    if report:
        _check_html(report)


def _check_html(out: str) -> None:
    from screens.export import check_output_file

    if not out.lower().endswith((".html", ".htm")):
        raise InputError(f"--out {out}: a report is an .html file")
    check_output_file(out)


def _screen_report(store, uni, res, out: str, previous_as_of: str | None, changes) -> None:
    """The screen's HTML page; ``changes``: :func:`_changes` since the screen of
    ``previous_as_of``."""
    from aigap.report import coverage_line, inputs_block, screen_report, write_report
    from data.calendar import period_ends, us_calendar
    from screens.gap import gap_history

    cal = us_calendar(store, pd_timestamp("2016-01-01"), res.as_of)
    gaps = gap_history(store, uni, period_ends(cal, "ME"), metrics=("ps", "pe_trailing"),
                       segments=("ALL",))  # fmt: skip
    inputs = inputs_block(
        store, uni, as_of=res.as_of.date(), notes=list(res.notes),
        filters=res.filters.__dict__, coverage=coverage_line(store, uni, res.as_of),
        previous_screen=previous_as_of,
    )  # fmt: skip
    write_report(screen_report(res, gaps, inputs, changes), out)


@report_app.command("screen")
def report_screen(
    out: ReportOut,
    archive: Annotated[
        str | None, typer.Option("--archive", help="folder of archived screens", callback=_path)
    ] = None,
    diff: DiffOpt = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="YYYY-MM-DD (default: the last US trading day in the store)"),
    ] = None,
    data_dir: DataDir = None,
    universe: UniverseOpt = None,
) -> None:
    """The screen as an HTML page: sortable ranked table, discount by segment, each name against
    its peer median, the gap history, and what changed since a previous screen (--diff)."""
    from screens.export import screen_document
    from screens.screen import run_screen

    _check_html(out)
    previous = _previous_screen(diff, archive)
    store, uni = _ctx(data_dir, universe)
    res = run_screen(store, uni, as_of or _default_as_of(store, uni))
    changes = None if previous is None else _changes(previous, screen_document(res))
    _screen_report(store, uni, res, out, _prev_as_of(previous), changes)


@report_app.command("discount")
def report_discount(
    out: ReportOut,
    start: StartOpt = defaults.START,
    end: EndOpt = None,
    top: TopOpt = f"{strategy_defaults.TOP_N}",
    rebalance: RebalanceOpt = "M",
    weighting: WeightingOpt = strategy_defaults.WEIGHTING,
    signal: SignalOpt = strategy_defaults.SIGNAL,
    cap: CapOpt = strategy_defaults.CAP,
    fees: FeesOpt = defaults.FEES,
    slippage: SlippageOpt = defaults.SLIPPAGE,
    data_dir: DataDir = None,
    universe: UniverseOpt = None,
) -> None:
    """The long-discount backtest (or sweep) as a tear sheet."""
    from aigap.discount_command import write_discount_report
    from backtests.discount import DiscountSettings, run_discount_backtest

    _check_html(out)
    grid = _discount_grid(top, rebalance, weighting, signal, cap=cap).params()
    settings = DiscountSettings(start=start, end=end, fees=fees, slippage=slippage)
    store, uni = _ctx(data_dir, universe)
    res = run_discount_backtest(store, uni, grid, settings)
    write_discount_report(store, uni, res, out)


@report_app.command("pairs")
def report_pairs(
    out: ReportOut,
    pair: PairOpt = None,
    lookback: LookbackOpt = f"{defaults.LOOKBACK}",
    entry: EntryOpt = f"{defaults.ENTRY:g}",
    exit_: ExitOpt = f"{defaults.EXIT:g}",
    stop: StopOpt = f"{defaults.STOP:g}",
    max_hold: MaxHoldOpt = defaults.MAX_HOLD,
    hedge: HedgeOpt = defaults.HEDGE,
    borrow_rate: BorrowRateOpt = defaults.BORROW_RATE,
    fees: FeesOpt = defaults.FEES,
    slippage: SlippageOpt = defaults.SLIPPAGE,
    start: StartOpt = defaults.START,
    end: EndOpt = None,
    data_dir: DataDir = None,
    universe: UniverseOpt = None,
) -> None:
    """The pairs backtest (or sweep) as a tear sheet with the z-score, entries and exits."""
    from aigap.pairs_command import write_pairs_report
    from backtests.pairs import run_pairs_sweep

    _check_html(out)
    params = _pairs_params(lookback, entry, exit_, stop, max_hold=max_hold, hedge=hedge,
                           borrow_rate=borrow_rate, fees=fees, slippage=slippage, start=start,
                           end=end)  # fmt: skip
    store, uni = _ctx(data_dir, universe)
    specs = _pairs(pair, uni)
    write_pairs_report(store, uni, specs, run_pairs_sweep(store, uni, specs, params), params, out)


def pd_timestamp(text: str):
    from data.dates import parse_date

    return parse_date(text)


# ----------------------------------------------------------------------------- main
_BOOL_WORDS = {"true", "false", "yes", "no", "on", "off", "1", "0"}


def _flag_given_a_value(argv: list[str]) -> str | None:
    """``--exclude-stale false``: a flag takes no value, and typer would only say "unexpected
    extra argument"; name the flag instead."""
    flags = {
        "--exclude-stale",
        "--per-segment",
        "--walk-forward",
        "--long-china-only",
        "--debug",
        "--stats",
    }
    for i, a in enumerate(argv[:-1]):
        if a in flags and argv[i + 1].lower() in _BOOL_WORDS:
            return f"{a} is a flag and takes no value: write {a} to turn it on, leave it out to not"
    for a in argv:
        name, _, val = a.partition("=")
        if name in flags and val:
            return f"{name} is a flag and takes no value: write {name} to turn it on"
    return None


_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EBADF, errno.EDQUOT}


def _internal(e: BaseException, debug: bool) -> int:
    if debug or os.environ.get("AIGAP_DEBUG"):
        traceback.print_exc()
    else:
        print(
            f"aigap: internal error (a bug, please report it): {type(e).__name__}: {e} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
    return EXIT_INTERNAL


def _fail(message: str, code: int) -> int:
    print(f"aigap: error: {message}", file=sys.stderr)
    return code


def _cannot_write(e: OSError) -> int:
    """The output (stdout) could not be written: a full disk, /dev/full."""
    return _fail(f"cannot write the output: {e.strerror}", EXIT_USAGE)


@functools.cache
def _command() -> typer.core.TyperGroup:
    """The command group of ``app``, built once per process: calling ``app`` builds it again
    on every call (``typer.main.get_command``, 14 ms: the type hints and signatures of every
    command)."""
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)  # an app of several commands
    return group


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args  # accepted anywhere on the line, before or after the command
    args = [a for a in args if a != "--debug"]
    try:
        bad_flag = _flag_given_a_value(args)
        if bad_flag:
            raise InputError(bad_flag)
        rv = _command().main(args=args, prog_name="aigap", standalone_mode=False)
        if isinstance(rv, int):
            return rv
    except AigapError as e:
        if debug:
            traceback.print_exc()
        return _fail(str(e), e.exit_code)
    except typer.Exit as e:
        return int(e.exit_code or 0)
    except typer.Abort:
        print("aigap: aborted", file=sys.stderr)
        return 130
    except typer.TyperException as e:  # usage errors
        msg = e.format_message().strip()
        if not msg or "\n" in msg:  # no arguments: the help text (already shown)
            if msg:
                print(msg, file=sys.stderr)
        else:
            print(f"aigap: error: {msg} (see aigap --help)", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("aigap: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        if e.filename is None and e.errno in _OUTPUT_ERRNOS:  # stdout: a full disk, /dev/full
            return _cannot_write(e)
        if e.filename is not None:  # a path the user gave that the system refuses
            name = str(e.filename)
            name = name if len(name) <= 80 else name[:77] + "..."
            return _fail(f"cannot use {name}: {e.strerror}", EXIT_USAGE)
        return _internal(e, debug)
    except Exception as e:  # a traceback is a bug: say so in one line, keep the details optional
        return _internal(e, debug)
    return 0


def run(argv: list[str] | None = None) -> None:
    """The ``aigap`` command: exits with :func:`main`'s code, or :data:`EXIT_CLOSED_PIPE` when
    the reader of the output has gone (``aigap screen | head``; Click exits so when a write
    inside a command fails), or 2 with one line when the output cannot be written (a
    buffered output failing at the interpreter's exit printed two lines and exited 120).
    What is left in memory is frozen first (``gc.freeze``): the interpreter's last full
    collection scanned all of it, 0.9 s after a long-discount backtest and 0.17 s after a
    screen (measured); the process ending frees it anyway (finalizers of objects caught in
    reference cycles do not run: nothing here relies on one)."""
    code = main(argv)
    try:
        sys.stdout.flush()
    except OSError as e:  # the output held in the buffer, written now
        # Python's recipe (signal module, "Note on SIGPIPE"): no second failure at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        if isinstance(e, BrokenPipeError):
            code = code or EXIT_CLOSED_PIPE
        else:  # a full disk, /dev/full: as inside a command
            code = code or _cannot_write(e)
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
