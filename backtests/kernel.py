"""The pairs rule and its accounting as one compiled loop (Numba), for sweeps.

For one pair and one lookback, :func:`pair_grid` runs every threshold set: the z-score state
machine of :func:`strategies.pairs.pair_positions` and the order placement of
:func:`strategies.pairs.position_weights` (one pass), then the fills, fees, slippage and
valuation of vectorbt's ``Portfolio.from_orders(size_type="targetpercent", cash_sharing=True,
call_seq="auto")`` for a two-asset group (vectorbt 1.2 ``portfolio/nb.py``: group value taken
before the bar's orders and not updated within it; the leg that sells more goes first; a buy
is partly filled when cash runs short; shorts add their proceeds to cash), with the borrow fee
and the re-sizing on equity net of it exactly as :mod:`backtests.pairs` does with two vectorbt
runs (here a first pass that steps from order to order, then the pass that writes the series).
:func:`pair_grid_summary` is the grid explorer: the same runs, keeping only the figures a sweep
ranks on.  The vectorbt portfolio stays the reference: ``tests/test_kernel.py`` checks that
both give the same positions, orders and equity, to the last bit, and the explorer's figures
against numpy on the full series.
"""

from __future__ import annotations

import numpy as np

from backtests.metrics import DAYS, MIN_ANNUALISE_DAYS  # borrow accrues per trading day
from data.derived import use_numba_cache

use_numba_cache()  # compiled once, then loaded (before numba is imported)
from numba import njit  # noqa: E402

__all__ = ["pair_grid"]

REL_TOL = 1e-9  # vectorbt/utils/math_.py
ABS_TOL = 1e-12
MIN_SIZE = 1e-8  # vectorbt's default min_size


@njit(cache=True, error_model="numpy")
def _is_close(a: float, b: float) -> bool:
    if np.isnan(a) or np.isnan(b) or np.isinf(a) or np.isinf(b):
        return False
    if a == b:
        return True
    return abs(a - b) <= max(REL_TOL * max(abs(a), abs(b)), ABS_TOL)


@njit(cache=True, error_model="numpy")
def _add(a: float, b: float) -> float:
    if np.sign(a) != np.sign(b):
        zero = _is_close(abs(a), abs(b))
    else:
        zero = _is_close(a + b, 0.0)
    return 0.0 if zero else a + b


@njit(cache=True, error_model="numpy")
def _rule(z, beta, can_enter, tradable, entry, exit_, stop, max_hold, long_only, ended, pos, wa,
          wb, orders, keep=True):  # fmt: skip
    """:func:`strategies.pairs.pair_positions` (flat after row ``ended``) and
    :func:`strategies.pairs.position_weights` of one threshold set in one pass, written into
    ``pos``, ``wa`` and ``wb`` (order weights of legs a and b, NaN where no order) and the rows
    with an order into ``orders``; returns their number (without ``keep``, only the rows with
    an order are written: the grid explorer reads nothing else).  The order at row ``t``
    follows the position decided at the close of ``t - 1``."""
    t_n = len(z)
    cur = 0.0
    held = 0
    blocked = False
    placed = 0.0  # the weights last ordered, and the ones wanted
    want = 0.0
    want_a = 0.0
    want_b = 0.0
    prev = 0.0
    n_orders = 0
    for t in range(t_n):
        if t > 0:  # the order placed at this close, from the position decided at the last
            d = t - 1
            if cur != prev and (np.isfinite(beta[d]) or cur == 0):
                g = 1.0 + abs(beta[d])
                want = cur
                want_a = 0.0 if cur == 0 else cur / g
                want_b = 0.0 if cur == 0 else -cur * beta[d] / g
            prev = cur
        if t > 0 and want != placed and tradable[t]:
            wa[t] = want_a
            wb[t] = want_b
            placed = want
            orders[n_orders] = t
            n_orders += 1
        elif keep:
            wa[t] = np.nan
            wb[t] = np.nan
        if ended >= 0 and t > ended:  # no data for the pair after its last common close
            cur = 0.0
            if keep:
                pos[t] = 0.0
            continue
        zt = z[t]
        ok = np.isfinite(zt)
        if ok and abs(zt) < entry:
            blocked = False
        long_exit = cur > 0 and ok and zt >= -exit_
        short_exit = cur < 0 and ok and zt <= exit_
        stopped = cur != 0 and ok and abs(zt) >= stop
        timed = cur != 0 and held >= max_hold
        out = long_exit or short_exit or stopped or timed
        if stopped or timed:
            blocked = True
        if out:
            cur = 0.0
        flat = cur == 0 and ok and not blocked and not out and can_enter[t]
        go_long = flat and zt <= -entry
        go_short = flat and zt >= entry and not long_only
        if go_long:
            cur = 1.0
        elif go_short:
            cur = -1.0
        if cur != 0:
            held = 1 if (go_long or go_short) else held + 1
        else:
            held = 0
        if keep:
            pos[t] = cur
    return n_orders


@njit(cache=True, error_model="numpy")
def _execute(cash, pos, value, w, price, fees, slippage):
    """One targetpercent order (vectorbt execute_order_nb, buy_nb, sell_nb; Direction.Both,
    no cash lock) valued and filled at ``price`` (the bar's close): returns cash, position,
    signed size filled, fill price, fees."""
    val_price = price
    if _is_close(cash, 0.0):
        cash = 0.0
    if _is_close(pos, 0.0):
        pos = 0.0
    if _is_close(val_price, 0.0):
        val_price = 0.0
    if _is_close(value, 0.0):
        value = 0.0
    if np.isnan(w) or np.isnan(price) or np.isnan(value) or value <= 0 or np.isnan(val_price):
        return cash, pos, 0.0, np.nan, 0.0
    size = w * value
    size = size / val_price
    size = size - pos
    if size > 0:
        px = price * (1 + slippage)
        if cash == 0:
            return cash, pos, 0.0, np.nan, 0.0
        req_cash = size * px
        req_fees = req_cash * fees
        total = req_cash + req_fees
        if _is_close(total, cash) or total < cash:
            fill, paid, spent = size, req_fees, total
        else:
            max_cash = _add(cash, -0.0) / (1 + fees)
            if max_cash <= 0:
                return cash, pos, 0.0, np.nan, 0.0
            fill = max_cash / px
            paid = cash - max_cash
            spent = cash
        if _is_close(size, 0.0) or (not _is_close(fill, MIN_SIZE) and fill < MIN_SIZE):
            return cash, pos, 0.0, np.nan, 0.0
        return _add(cash, -spent), _add(pos, fill), fill, px, paid
    size = -size
    px = price * (1 - slippage)
    if _is_close(size, 0.0) or (not _is_close(size, MIN_SIZE) and size < MIN_SIZE):
        return cash, pos, 0.0, np.nan, 0.0
    acq = size * px
    paid = acq * fees
    final = _add(acq, -paid)
    if final < 0:
        return cash, pos, 0.0, np.nan, 0.0
    return cash + final, _add(pos, -size), -size, px, paid


@njit(cache=True, error_model="numpy")
def _order(cash, pos_a, pos_b, cnow, p0, p1, last_a, last_b, w_a, w_b, fees, slippage):
    """The two orders of one bar (vectorbt's call_seq="auto": the leg that sells more first,
    both sized on the group value before the bar's orders): cash and positions as the orders
    see them, the same rebuilt from the fills as vectorbt rebuilds them from its order records
    (``cnow``, ``p0``, ``p1``: each bar's cash flow and sizes added with ``add_nb``), and the
    notional."""
    value = cash
    if pos_a != 0:
        value += pos_a * last_a
    if pos_b != 0:
        value += pos_b * last_b
    k0 = w_a * value - pos_a * last_a
    k1 = w_b * value - pos_b * last_b
    b_first = k0 > k1 or np.isnan(k0)
    flow_a = 0.0
    flow_b = 0.0
    fill_a = 0.0
    fill_b = 0.0
    done = 0.0
    for j in range(2):
        if (j == 0) != b_first:  # leg a
            cash, pos_a, flow_a, fill_a, done = _leg(cash, pos_a, last_a, value, w_a, fees,
                                                     slippage, done)  # fmt: skip
        else:
            cash, pos_b, flow_b, fill_b, done = _leg(cash, pos_b, last_b, value, w_b, fees,
                                                     slippage, done)  # fmt: skip
    return (cash, pos_a, pos_b, _add(cnow, flow_a + flow_b), _add(p0, fill_a), _add(p1, fill_b),
            done)  # fmt: skip


@njit(cache=True, error_model="numpy")
def _leg(cash, pos, price, value, w, fees, slippage, done):
    """One leg's order: cash and position after it, its cash flow and size as vectorbt records
    them (0 when nothing filled) and the notional traded so far."""
    cash, pos, filled, px, fee = _execute(cash, pos, value, w, price, fees, slippage)
    if filled == 0.0:
        return cash, pos, 0.0, 0.0, done
    return cash, pos, _add(0.0, -filled * px - fee), _add(0.0, filled), done + abs(filled * px)


@njit(cache=True, error_model="numpy")
def _short(fa, fb, j, p0, p1):
    """The short notional at close ``j`` of positions ``p0`` and ``p1``."""
    av0 = 0.0 if p0 == 0 else fa[j] * p0
    av1 = 0.0 if p1 == 0 else fb[j] * p1
    return -min(av0, 0.0) + -min(av1, 0.0)


@njit(cache=True, error_model="numpy")
def _net_of_borrow(ca, cb, fa, fb, wa, wb, orders, n_orders, fees, slippage, init_cash, rate):
    """The first of the two passes the borrow fee needs: simulate the orders as placed and
    scale each order's weights in place by the equity net of the borrow paid, over the equity,
    at the close before it (``max((value - paid) / value, 0)``; :mod:`backtests.pairs` does the
    same with two vectorbt runs).  It steps from order to order: between two, only the borrow
    accrues (bar ``j`` adds ``rate / 252`` of the short at close ``j - 1``, in bar order, as the
    second pass does), and nothing while flat."""
    cash = init_cash
    pos_a = 0.0
    pos_b = 0.0
    cnow = init_cash
    p0 = 0.0
    p1 = 0.0
    total = 0.0
    nxt = 1  # the next bar whose accrual is still to add
    for m in range(n_orders):
        i = orders[m]
        if p0 != 0 or p1 != 0:
            for j in range(nxt, i):
                s = _short(fa, fb, j - 1, p0, p1)
                if s != 0.0:
                    total += s * rate / DAYS
        w_a = wa[i]
        w_b = wb[i]
        if i > 0:  # scale by the equity and the borrow paid at the close before
            av0 = 0.0 if p0 == 0 else fa[i - 1] * p0
            av1 = 0.0 if p1 == 0 else fb[i - 1] * p1
            value = cnow + (av0 + av1)
            net = max((value - total) / value, 0.0)
            if not np.isnan(w_a):
                wa[i] = w_a * net
            if not np.isnan(w_b):
                wb[i] = w_b * net
            s = -min(av0, 0.0) + -min(av1, 0.0)  # bar i's own accrual, before its fills
            if s != 0.0:
                total += s * rate / DAYS
        nxt = i + 1
        cash, pos_a, pos_b, cnow, p0, p1, _ = _order(
            cash, pos_a, pos_b, cnow, p0, p1, ca[i], cb[i], w_a, w_b, fees, slippage
        )


@njit(cache=True, error_model="numpy")
def _simulate(ca, cb, fa, fb, wa, wb, orders, n_orders, fees, slippage, init_cash, rate, value_s,
              gross, traded, paid, keep):  # fmt: skip
    """One two-asset cash-sharing group, written (with ``keep``) into ``value_s``
    (``pf.value()`` less the borrow paid, zero from a total loss on), ``gross`` (the absolute
    position value of the legs, ``pf.asset_value``), ``traded`` (the notional filled) and
    ``paid`` (the borrow fee so far: ``rate / 252`` of the short notional at the previous
    close).  ``ca`` and ``cb`` are the closes the orders fill at, forward-filled; ``fa`` and
    ``fb`` the same also back-filled (vectorbt values positions on them).  The series are
    accumulated from each bar's fills as vectorbt rebuilds them from its order records; a bar
    without a fill leaves them as they are (adding zero with vectorbt's ``add_nb`` is the
    identity on its own results).  Returns the sums of the daily returns and of their
    squares, the maximum drawdown, the last equity and the borrow paid (the grid explorer
    keeps only these)."""
    t_n = len(ca)
    cash = init_cash
    pos_a = 0.0
    pos_b = 0.0
    cnow = init_cash
    p0 = 0.0
    p1 = 0.0
    total = 0.0
    prev_short = 0.0
    ruined = False
    s1 = 0.0  # the sums of the daily returns and of their squares, the peak and max drawdown
    s2 = 0.0
    peak = np.nan
    mdd = 0.0
    prev = np.nan
    m = 0  # the next order
    for i in range(t_n):
        done = 0.0
        if m < n_orders and orders[m] == i:
            m += 1
            cash, pos_a, pos_b, cnow, p0, p1, done = _order(
                cash, pos_a, pos_b, cnow, p0, p1, ca[i], cb[i], wa[i], wb[i], fees, slippage
            )
        av0 = 0.0 if p0 == 0 else fa[i] * p0
        av1 = 0.0 if p1 == 0 else fb[i] * p1
        if prev_short != 0.0:
            total += prev_short * rate / DAYS
        v = cnow + (av0 + av1)
        if rate > 0:
            v = v - total
        ruined = ruined or v <= 0  # a total loss ends the run
        if ruined:
            v = 0.0
        if keep:
            value_s[i] = v
            gross[i] = abs(av0) + abs(av1)
            traded[i] = done
            paid[i] = total
        prev_short = -min(av0, 0.0) + -min(av1, 0.0)
        if i == 0:
            peak = v
        else:
            if prev != 0:  # no return after a total loss
                r = v / prev - 1.0
                s1 += r
                s2 += r * r
            if v > peak:
                peak = v
            elif v < peak * (1.0 + mdd) and peak > 0:  # deeper: divide only then
                mdd = v / peak - 1.0
        prev = v
    return s1, s2, mdd, prev, total


@njit(cache=True, error_model="numpy")
def _valuation_closes(x):
    """The closes vectorbt values positions on: ``x`` (forward-filled: the loop reads a bar's
    close as the last close, so a NaN after a close is refused) also back-filled."""
    for i in range(1, len(x)):
        if np.isnan(x[i]) and not np.isnan(x[i - 1]):
            raise ValueError("closes must be forward-filled (a NaN after a close)")
    out = x.copy()
    for i in range(len(out) - 2, -1, -1):
        if np.isnan(out[i]):
            out[i] = out[i + 1]
    return out


@njit(cache=True, error_model="numpy")
def _one_set(z, beta, can_enter, tradable, ca, cb, fa, fb, ended, en, ex, st, max_hold,
             long_only, fees, slippage, rate, init_cash, pos, wa, wb, value, gross, traded,
             paid, orders, keep=True):  # fmt: skip
    """One threshold set, written into the rows ``pos`` ... ``paid`` (``orders``: scratch for
    the rows with an order); returns its :data:`SUMMARY` (the Sharpe ratio from the sums of
    the daily returns, which are zero after a total loss)."""
    n = _rule(z, beta, can_enter, tradable, en, ex, st, max_hold, long_only, ended, pos, wa, wb,
              orders, keep)  # fmt: skip
    if rate > 0:  # size every order again on equity net of the borrow paid (two passes)
        _net_of_borrow(ca, cb, fa, fb, wa, wb, orders, n, fees, slippage, init_cash, rate)
    s1, s2, mdd, last, total = _simulate(
        ca, cb, fa, fb, wa, wb, orders, n, fees, slippage, init_cash, rate, value, gross, traded,
        paid, keep,
    )  # fmt: skip
    t_n = len(z)  # the table's returns: the first bar's and those after a total loss are 0
    var = (s2 - s1 * s1 / t_n) / (t_n - 1) if t_n > 1 else np.nan
    sharpe = s1 / t_n / np.sqrt(var) * np.sqrt(DAYS) if var > 0 else np.nan
    if t_n < MIN_ANNUALISE_DAYS:
        sharpe = np.nan
    return np.array([last, sharpe, mdd, float(n), total])


@njit(cache=True, error_model="numpy")
def pair_grid(
    z,
    beta,
    can_enter,
    tradable,
    ca,
    cb,
    ended,
    entries,
    exits,
    stops,
    max_hold,
    long_only,
    fees,
    slippage,
    rate,
    init_cash,
):
    """Equity (``T x K``, net of borrow, zero after a total loss), positions (``T x K``),
    order weights (``T x K x 2``: legs a and b, NaN where no order) and, ``T x K x 3``, the gross
    position value, the traded notional and the borrow paid so far, of ``K`` threshold sets
    (``entries``, ``exits``, ``stops``) on one pair and one lookback: ``z`` and ``beta`` from
    :func:`strategies.pairs.spread_zscore`, ``ca``/``cb`` the forward-filled USD closes the
    orders fill at, ``ended`` the row of the last common close (-1: none).  Each set is
    written into rows of ``K x T`` arrays (contiguous per set); the results are their
    transposes (views)."""
    t_n, k_n = len(z), len(entries)
    values = np.empty((k_n, t_n))
    positions = np.empty((k_n, t_n))
    orders = np.empty((2, k_n, t_n))
    extra = np.empty((3, k_n, t_n))
    rows = np.empty(t_n, dtype=np.int64)
    fa, fb = _valuation_closes(ca), _valuation_closes(cb)
    for k in range(k_n):
        _one_set(
            z, beta, can_enter, tradable, ca, cb, fa, fb, ended, entries[k], exits[k], stops[k],
            max_hold, long_only, fees, slippage, rate, init_cash, positions[k], orders[0, k],
            orders[1, k], values[k], extra[0, k], extra[1, k], extra[2, k], rows,
        )  # fmt: skip
    return values.T, positions.T, orders.T, extra.T


#: the columns of :func:`pair_grid_summary`
SUMMARY = ("final_value", "sharpe", "max_drawdown", "orders", "borrow_paid")


@njit(cache=True, error_model="numpy")
def pair_grid_summary(
    z,
    beta,
    can_enter,
    tradable,
    ca,
    cb,
    ended,
    entries,
    exits,
    stops,
    max_hold,
    long_only,
    fees,
    slippage,
    rate,
    init_cash,
):
    """The grid explorer: the same rule and accounting as :func:`pair_grid` for ``K`` threshold
    sets, keeping per set only the figures a sweep ranks on (``K x 5``, the columns of
    :data:`SUMMARY`): the final equity, the annualised Sharpe ratio of the daily returns as
    the backtest table has it (``mean / std(ddof=1) * sqrt(252)`` over every bar, the first
    and those after a total loss counting 0; blank under 63 bars), the maximum drawdown
    (negative), the number of bars with an order and the borrow paid.  Each set runs in the
    same few rows, so memory stays that of one set."""
    t_n, k_n = len(z), len(entries)
    pos = np.empty(t_n)
    wa = np.empty(t_n)
    wb = np.empty(t_n)
    value = np.empty(t_n)
    gross = np.empty(t_n)
    traded = np.empty(t_n)
    paid = np.empty(t_n)
    rows = np.empty(t_n, dtype=np.int64)
    out = np.empty((k_n, 5))
    fa, fb = _valuation_closes(ca), _valuation_closes(cb)
    for k in range(k_n):
        out[k] = _one_set(
            z, beta, can_enter, tradable, ca, cb, fa, fb, ended, entries[k], exits[k], stops[k],
            max_hold, long_only, fees, slippage, rate, init_cash, pos, wa, wb, value, gross,
            traded, paid, rows, False,
        )  # fmt: skip
    return out
