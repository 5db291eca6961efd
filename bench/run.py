"""Benchmarks of issue 12, each as a ratio against a baseline run in the same process; writes
``bench/RESULTS.md`` (generated: never edit it by hand).  Not a test.

    .venv/bin/python bench/run.py [--quick]

Sections (each checks that the compared implementations give identical results first):

1. pairs sweep: cost per (parameter set x bar) of the compiled kernel against a minimal compiled
   loop over the same arrays (the limit, kept here), vectorbt's portfolio and a plain Python loop;
2. the CLI sweep: seconds per extra parameter set of ``aigap backtest pairs``;
3. pair statistics: a backtest with ``--stats`` against one without; ``aigap pairs scan``;
4. start-up: ``aigap screen`` from a fresh process against ``python -c "import pandas"``; the first
   pairs backtest in a fresh process with a warm and with a cold Numba cache;
5. the screen on SYNTHETIC universes of 100, 1,000 and 5,000 names (made-up prices and
   fundamentals, labelled synthetic);
6. a sweep on a 2-worker local Dask cluster against the local run;
7. backtrader, where installed, on identical data (skipped and said when it is not).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
from numba import njit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
AIGAP = [sys.executable, "-m", "aigap.cli"]


# ----------------------------------------------------------------------------- helpers
def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Minimum wall time of ``repeat`` calls (the least disturbed measurement)."""
    return min(all_times(fn, repeat))


def all_times(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall time of each of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def command_median(args: list[str], repeat: int, env: dict | None = None) -> float:
    """Median wall time of ``repeat`` runs of the command (from the project folder)."""

    def run() -> object:
        return subprocess.run(args, check=True, capture_output=True, env=env, cwd=ROOT)

    return statistics.median(all_times(run, repeat))


# ----------------------------------------------------------------------------- 1. the limit
@njit(cache=True)
def limit_loop(z, ret_a, ret_b, beta, entries, exits, stops, max_hold):
    """The minimal compiled loop: the same z-score state machine, P&L as position x spread
    return (no orders, fees or cash).  What no implementation of the rule can beat by much."""
    t_n, k_n = len(z), len(entries)
    out = np.zeros(k_n)
    for k in range(k_n):
        cur, held, blocked, pnl = 0.0, 0, False, 0.0
        for t in range(1, t_n):
            pnl += cur * (ret_a[t] - beta[t - 1] * ret_b[t])
            zt = z[t]
            if not np.isfinite(zt):
                continue
            if abs(zt) < entries[k]:
                blocked = False
            out_ = (cur > 0 and zt >= -exits[k]) or (cur < 0 and zt <= exits[k])
            stop = cur != 0 and (abs(zt) >= stops[k] or held >= max_hold)
            if out_ or stop:
                cur, held, blocked = 0.0, 0, blocked or stop
            elif cur == 0 and not blocked:
                if zt <= -entries[k]:
                    cur, held = 1.0, 1
                elif zt >= entries[k]:
                    cur, held = -1.0, 1
            elif cur != 0:
                held += 1
        out[k] = pnl
    return out


#: the same rule in plain Python: the function the limit compiles, run by the interpreter
python_loop = limit_loop.py_func


def sweep_section(quick: bool) -> list[tuple[str, str, str]]:
    from backtests.pairs import (
        Costs,
        _vectorbt_orders,
        _vectorbt_runs,
        kernel_grid,
        pair_inputs,
        signal_frame,
    )
    from data.calendar import us_calendar
    from data.store import resolve_store
    from data.universe import load_universe
    from strategies.pairs import parse_pair

    store, uni = resolve_store(), load_universe()
    pair = parse_pair("BABA:AMZN", uni)
    start = pd.Timestamp("2015-01-01")
    cal = us_calendar(store)
    inp = pair_inputs(store, uni, pair, cal, start)
    zf = signal_frame(inp, 60, "ols", start)
    grid = np.linspace(1.0, 3.0, 9 if quick else 27)
    combos = [(e, x, s) for e in grid for x in (0.0, 0.25, 0.5, 0.75) for s in (3.5, 4.0, 5.0)]
    combos = [c for c in combos if c[1] < c[0] < c[2]]
    k, t_n = len(combos), len(zf)
    costs = Costs(60, False, 0.001, 0.0005, 0.03)
    en, ex, st = (np.array(v, dtype=float) for v in zip(*combos, strict=True))
    px = inp.prices.ffill()
    ra = px["a"].pct_change().fillna(0.0).to_numpy()
    rb = px["b"].pct_change().fillna(0.0).to_numpy()
    z, beta = zf["z"].to_numpy(), zf["beta"].fillna(0.0).to_numpy()

    def kernel(summary: bool = False):
        return kernel_grid(inp, zf, combos, max_hold=60, long_only=False, fees=0.001,
                           slippage=0.0005, borrow_rate=0.03, summary=summary)  # fmt: skip

    def vectorbt():
        labels = [f"r{i}" for i in range(k)]
        return _vectorbt_runs(_vectorbt_orders(inp, zf, combos, labels, 60, False), costs)

    # identical results first: the kernel against vectorbt, the Python loop against the limit
    values = kernel()[0]
    ref = vectorbt()
    assert all(np.array_equal(values[:, i], ref[f"r{i}"].value.to_numpy()) for i in range(k)), (
        "kernel and vectorbt disagree"
    )
    assert np.array_equal(kernel(summary=True)[:, 0], values[-1]), "explorer and kernel disagree"
    lim = limit_loop(z, ra, rb, beta, en, ex, st, 60)
    few = slice(0, max(3, k // 10))
    np.testing.assert_allclose(
        python_loop(z, ra, rb, beta, en[few], ex[few], st[few], 60), lim[few], rtol=1e-12
    )
    n_py = len(en[few])
    t_lim = best_of(lambda: limit_loop(z, ra, rb, beta, en, ex, st, 60), 5)
    t_exp = best_of(lambda: kernel(summary=True), 7)
    ker_times = all_times(kernel, 5)  # its 52 MB of outputs: fast when the allocator reuses
    t_ker = statistics.median(ker_times)  # the last run's memory, slow on fresh pages
    t_vbt = best_of(vectorbt, 1 if quick else 2)
    t_py = best_of(lambda: python_loop(z, ra, rb, beta, en[few], ex[few], st[few], 60), 1)
    per = {
        "minimal compiled loop (the limit)": t_lim / (k * t_n),
        "grid explorer (backtests/kernel.py: rule, orders, fees, borrow; per-set figures)": t_exp
        / (k * t_n),
        "kernel, every series of every set (T x K x 7 arrays; median of 5 runs)": t_ker / (k * t_n),
        "vectorbt portfolio (2 simulations, net of borrow)": t_vbt / (k * t_n),
        "plain Python loop (rule and P&L only)": t_py / (n_py * t_n),
    }
    rows = [
        (name, f"{v * 1e9:,.1f} ns", f"{v / per['minimal compiled loop (the limit)']:,.1f}x")
        for name, v in per.items()
    ]
    lo, hi = (t / (k * t_n) * 1e9 for t in (min(ker_times), max(ker_times)))
    rows.append(("kernel, every series: range of the 5 runs", f"{lo:,.1f} - {hi:,.1f} ns",
                 "fresh output pages cost more than the loop"))  # fmt: skip
    rows.append(("grid", f"{k} sets x {t_n:,} bars (BABA:AMZN 2015-2026)", ""))
    return rows


# ----------------------------------------------------------------------------- 2-4. commands
def cli_sweep_section(quick: bool) -> list[tuple[str, str, str]]:
    small = ["--lookback", "60", "--entry", "1.5,2,2.5", "--exit", "0,0.5", "--stop", "4"]
    big = [
        "--lookback", "20,40,60,90,120,180", "--entry", "1,1.25,1.5,1.75,2,2.25,2.5,2.75,3,3.5",
        "--exit", "0,0.25,0.5,0.75", "--stop", "3.5,4,5",
    ]  # fmt: skip
    if quick:
        big = ["--lookback", "20,60", "--entry", "1,1.5,2,2.5,3", "--exit", "0,0.5", "--stop",
               "4,5"]  # fmt: skip
    base = [*AIGAP, "backtest", "pairs", "--pair", "BABA:AMZN", "--start", "2015-01-01",
            "--format", "json"]  # fmt: skip
    n_small, n_big = _sets(small), _sets(big)
    t_small = command_median([*base, *small], 1)
    t_big = command_median([*base, *big], 1)
    per = (t_big - t_small) / (n_big - n_small)
    return [
        (f"aigap backtest pairs, {n_small} sets", f"{t_small:.2f} s", ""),
        (f"aigap backtest pairs, {n_big} sets", f"{t_big:.2f} s", ""),
        ("per extra parameter set", f"{per * 1e3:.1f} ms", "was 21 ms (issue 12)"),
    ]


def _sets(args: list[str]) -> int:
    """How many parameter sets the command-line grid ``args`` runs (the CLI's own parsing)."""
    from aigap.cli import _pairs_params

    vals = dict(zip(args[::2], args[1::2], strict=True))
    p = _pairs_params(vals["--lookback"], vals["--entry"], vals["--exit"], vals["--stop"])
    return len(p.lookbacks) * len(p.combos())


def stats_section() -> list[tuple[str, str, str]]:
    base = [*AIGAP, "backtest", "pairs", "--pair", "BABA:AMZN", "--pair", "JD:AMZN",
            "--lookback", "20,60", "--entry", "1.5,2", "--format", "json"]  # fmt: skip
    without = command_median(base, 1)
    with_stats = command_median([*base, "--stats"], 1)
    scan = command_median([*AIGAP, "pairs", "scan", "--format", "json"], 3)
    return [
        ("backtest pairs without --stats", f"{without:.2f} s", "1.0x"),
        ("backtest pairs with --stats", f"{with_stats:.2f} s", f"{with_stats / without:.1f}x"),
        ("aigap pairs scan (173 pairs, fresh process)", f"{scan:.2f} s", "target < 5 s"),
    ]


def startup_section(quick: bool) -> list[tuple[str, str, str]]:
    from data.derived import CACHE_DIR_VAR

    n = 3 if quick else 5
    pandas_only = command_median([sys.executable, "-c", "import pandas"], n)
    screen = [*AIGAP, "screen"]
    with tempfile.TemporaryDirectory() as derived:
        env = {**os.environ, CACHE_DIR_VAR: derived}
        empty = command_median(screen, 1, env=env)  # computes and keeps the derived figures
        warm_screen = command_median(screen, n, env=env)
        warm_json = command_median([*screen, "--format", "json"], n, env=env)
    bt = [*AIGAP, "backtest", "pairs", "--pair", "BABA:AMZN", "--format", "json"]
    warm = command_median(bt, n)
    with tempfile.TemporaryDirectory() as empty_numba:
        cold = command_median(bt, 1, env={**os.environ, "NUMBA_CACHE_DIR": empty_numba})
    return [
        ('python -c "import pandas"', f"{pandas_only:.2f} s", "1.0x"),
        ("aigap screen (fresh process; derived figures kept from an earlier run)",
         f"{warm_screen:.2f} s", f"{warm_screen / pandas_only:.1f}x (target 2x)"),
        ("aigap screen --format json (same)", f"{warm_json:.2f} s",
         f"{warm_json / pandas_only:.1f}x"),
        ("aigap screen, empty derived cache (first run on new data or code)", f"{empty:.2f} s",
         f"{empty / pandas_only:.1f}x: builds the point-in-time panel, scores and checks"),
        ("first pairs backtest, warm Numba cache", f"{warm:.2f} s", "target < 3 s"),
        ("first pairs backtest, empty Numba cache", f"{cold:.2f} s",
         "compiles the kernel once (cached in ~/.cache/aigap/numba)"),
    ]  # fmt: skip


# ----------------------------------------------------------------------------- 5. scaling
def scaling_section(quick: bool) -> list[tuple[str, str, str]]:
    """SYNTHETIC universes: random-walk prices, one made-up fundamentals row per name and year."""
    from data.derived import NO_CACHE_VAR

    sizes = (100, 1000) if quick else (100, 1000, 5000)
    # the computation, not the derived-figures cache
    with mock.patch.dict(os.environ, {NO_CACHE_VAR: "1"}):
        times = [_synthetic_screen_seconds(n) for n in sizes]
    return [
        (f"screen, SYNTHETIC universe of {n:,} names (no derived cache)", f"{t:.2f} s",
         f"{t / times[0]:.1f}x ({n / sizes[0]:.0f}x names)")
        for n, t in zip(sizes, times, strict=True)
    ]  # fmt: skip


def _synthetic_screen_seconds(n: int) -> float:
    """The best of two screens of a SYNTHETIC universe of ``n`` names, each on a fresh store
    object (no memo), after one that warms the file cache."""
    from data.store import Store
    from screens.screen import run_screen

    with tempfile.TemporaryDirectory() as tmp:
        store, uni = _synthetic_universe(Path(tmp), n)

        def screen() -> object:
            return run_screen(Store(store.root), uni, "2024-06-28")

        screen()
        return best_of(screen, 2)


def _synthetic_universe(root: Path, n: int):
    from data.universe import load_universe

    from synthetic import fund_row, write_store

    rng = np.random.default_rng(n)
    idx = pd.bdate_range("2023-01-02", "2024-06-28", name="date")
    n_us = max(5, n // 5)
    china = [f"CN{i:05d}" for i in range(n - n_us)]
    us = [f"US{i:05d}" for i in range(n_us)]
    segs = ["cloud", "software", "internet", "chips", "hardware"]
    lines = ["# SYNTHETIC universe for benchmarks only", "version = 1", "pairs = []",
             "[segments]", *[f'{s} = "{s}"' for s in segs]]  # fmt: skip
    for i, t in enumerate(us):
        lines += [f'[us."{t}"]', 'venue = "NASDAQ"', f'segment = "{segs[i % 5]}"']
    for i, t in enumerate(china):
        peers = ", ".join(f'"{p}"' for p in us[i % 5 :: 5][:8])
        lines += [f'[china."{t}"]', 'venue = "NASDAQ"', f'segment = "{segs[i % 5]}"',
                  f"peers = [{peers}]"]  # fmt: skip
    (root / "u.toml").write_text("\n".join(lines) + "\n")
    r = rng.normal(0, 0.02, size=(len(idx), n))
    px = pd.DataFrame(50 * np.exp(np.cumsum(r, axis=0)), index=idx, columns=us + china)
    prices = {t: px[t] for t in px.columns} | {"SPY": px[us[0]]}
    fund = [
        fund_row(t, 2023, "2024-03-15", revenue=float(rng.uniform(100, 1000)),
                 net_income=float(rng.uniform(5, 100)), shares=float(rng.uniform(50, 150)))
        for t in px.columns
    ]  # fmt: skip
    return write_store(root / "s", prices, fundamentals=fund), load_universe(root / "u.toml")


# ----------------------------------------------------------------------------- 6-7.
def engine_section() -> list[tuple[str, str, str]]:
    from backtests.pairs import run_pairs_sweep
    from data.store import resolve_store
    from data.universe import load_universe
    from strategies.pairs import parse_pair

    store, uni = resolve_store(), load_universe()
    pairs = [parse_pair(p, uni) for p in ("BABA:AMZN", "JD:AMZN", "BIDU:GOOGL", "PDD:AMZN")]
    kw: dict[str, Any] = dict(lookbacks=(20, 60, 120), entries=(1.5, 2.0, 2.5),
                              exits=(0.0, 0.5), stops=(4.0,), start="2019-01-01")  # fmt: skip
    t = time.perf_counter()
    local = run_pairs_sweep(store, uni, pairs, engine="local", **kw)
    t_local = time.perf_counter() - t
    t = time.perf_counter()
    dist = run_pairs_sweep(store, uni, pairs, engine="dask", workers=2, **kw)
    t_dask = time.perf_counter() - t
    pd.testing.assert_frame_equal(local.table, dist.table)
    return [
        (f"sweep of {len(local.table)} sets, local", f"{t_local:.2f} s", "1.0x"),
        ("same sweep, Dask local cluster of 2 workers (start-up included)", f"{t_dask:.2f} s",
         f"{t_dask / t_local:.1f}x; identical table"),
    ]  # fmt: skip


def backtrader_section() -> list[tuple[str, str, str]]:
    """backtrader's broker on the kernel's own orders (tests/backtrader_replay.py): one pair,
    one threshold set, no fees, slippage or borrow (backtrader charges fees in the value of the
    bar after, so costs are off for the comparison).  Equity is checked equal first."""
    try:
        import backtrader  # noqa: F401
    except ImportError:
        return [("backtrader", "not installed", "skipped (pip install backtrader to compare)")]
    from backtrader_replay import replay

    from backtests.pairs import INIT_CASH, kernel_grid, pair_inputs, signal_frame
    from data.calendar import us_calendar
    from data.store import resolve_store
    from data.universe import load_universe
    from strategies.pairs import parse_pair

    store, uni = resolve_store(), load_universe()
    start = pd.Timestamp("2016-01-01")
    inp = pair_inputs(store, uni, parse_pair("BABA:AMZN", uni), us_calendar(store), start)
    zf = signal_frame(inp, 60, "ols", start)
    combos = [(2.0, 0.5, 4.0)]
    values, _, orders, _ = kernel_grid(inp, zf, combos, max_hold=60, long_only=False, fees=0.0,
                                       slippage=0.0, borrow_rate=0.0)  # fmt: skip
    close = inp.prices.ffill()
    first = int(np.argmax(close.notna().all(axis=1).to_numpy()))  # both legs priced from here
    assert np.isnan(orders[:first]).all(), "an order before both legs are priced"
    close, w, kv = close.iloc[first:], orders[first:, 0, :], values[first:, 0]

    def run_backtrader() -> np.ndarray:
        return replay(close, w, INIT_CASH)

    theirs = run_backtrader()
    np.testing.assert_allclose(theirs, kv, rtol=1e-9)
    t_bt = best_of(run_backtrader, 2)
    t_k = best_of(lambda: kernel_grid(inp, zf, combos * 100, max_hold=60, long_only=False,
                                      fees=0.0, slippage=0.0, borrow_rate=0.0), 5)  # fmt: skip
    n = len(kv)
    per_bt, per_k = t_bt / n, t_k / (100 * len(values))
    return [
        ("kernel (orders, fills, equity)", f"{per_k * 1e9:,.1f} ns per set x bar", "1.0x"),
        ("backtrader 1.9 broker replaying the kernel's orders", f"{per_bt * 1e9:,.0f} ns per "
         "set x bar", f"{per_bt / per_k:,.0f}x; equity equal to 1e-9 on {n:,} bars"),
    ]  # fmt: skip


# ----------------------------------------------------------------------------- report
def machine() -> str:
    import numba
    import vectorbt

    return (
        f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, pandas {pd.__version__}, numba {numba.__version__}, "
        f"vectorbt {vectorbt.__version__}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller grids, fewer repeats")
    ap.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    ap.add_argument("--only", help="run only the sections whose title contains this text")
    args = ap.parse_args(argv)
    sections = [
        ("Pairs sweep: time per parameter set x bar (ratio to the limit)", sweep_section),
        ("The CLI sweep", cli_sweep_section),
        ("Pair statistics and the scan", lambda q: stats_section()),
        ("Start-up", startup_section),
        ("Screen cost by universe size (SYNTHETIC universes)", scaling_section),
        ("Distributed engine", lambda q: engine_section()),
        ("Other engines", lambda q: backtrader_section()),
    ]
    out = [
        "# Benchmarks",
        "",
        f"Generated by `python bench/run.py{' --quick' if args.quick else ''}` on "
        f"{pd.Timestamp.now(tz='UTC'):%Y-%m-%d %H:%M} UTC. Do not edit by hand.",
        "",
        f"Machine: {machine()}.",
        "",
    ]
    for title, fn in sections:
        if args.only and args.only.lower() not in title.lower():
            continue
        print(f"== {title}", flush=True)
        rows = fn(args.quick)
        out += [f"## {title}", "", "| measure | value | ratio / note |", "|---|---|---|"]
        out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
        out.append("")
        for a, b, c in rows:
            print(f"  {a}: {b}  {c}", flush=True)
    Path(args.out).write_text("\n".join(out))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
