"""The pairs rule and its accounting as one compiled loop (Numba), for sweeps.

For one pair and one lookback, :func:`pair_grid` runs every threshold set: the z-score state
machine of :func:`strategies.pairs.pair_positions`, the order placement of
:func:`strategies.pairs.position_weights`, and the fills, fees, slippage and valuation of
vectorbt's ``Portfolio.from_orders(size_type="targetpercent", cash_sharing=True,
call_seq="auto")`` for a two-asset group (vectorbt 1.2 ``portfolio/nb.py``: group value taken
before the bar's orders and not updated within it; the leg that sells more goes first; a buy
is partly filled when cash runs short; shorts add their proceeds to cash), then the borrow
fee and the re-sizing on equity net of it exactly as :mod:`backtests.pairs` does with two
vectorbt runs.  The vectorbt portfolio stays the reference: ``tests/test_kernel.py`` checks
that both give the same positions, orders and equity, to the last bit where the arithmetic is
the same.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from backtests.metrics import DAYS  # borrow accrues per trading day

__all__ = ["pair_grid"]

REL_TOL = 1e-9  # vectorbt/utils/math_.py
ABS_TOL = 1e-12
MIN_SIZE = 1e-8  # vectorbt's default min_size


@njit(cache=True)
def _is_close(a: float, b: float) -> bool:
    if np.isnan(a) or np.isnan(b) or np.isinf(a) or np.isinf(b):
        return False
    if a == b:
        return True
    return abs(a - b) <= max(REL_TOL * max(abs(a), abs(b)), ABS_TOL)


@njit(cache=True)
def _add(a: float, b: float) -> float:
    if np.sign(a) != np.sign(b):
        zero = _is_close(abs(a), abs(b))
    else:
        zero = _is_close(a + b, 0.0)
    return 0.0 if zero else a + b


@njit(cache=True)
def _positions(z, can_enter, entry, exit_, stop, max_hold, long_only):
    """pair_positions for one threshold set."""
    t_n = len(z)
    pos = np.zeros(t_n)
    cur = 0.0
    held = 0
    blocked = False
    for t in range(t_n):
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
        pos[t] = cur
    return pos


@njit(cache=True)
def _weights(pos, beta, tradable):
    """position_weights for one threshold set: (wa, wb), NaN where no order."""
    t_n = len(pos)
    wa = np.full(t_n, np.nan)
    wb = np.full(t_n, np.nan)
    placed = 0.0
    want = 0.0
    want_a = 0.0
    want_b = 0.0
    prev = 0.0
    for t in range(1, t_n):
        d = t - 1
        g = 1.0 + abs(beta[d])
        if pos[d] != prev and (np.isfinite(beta[d]) or pos[d] == 0):
            want = pos[d]
            want_a = 0.0 if pos[d] == 0 else pos[d] / g
            want_b = 0.0 if pos[d] == 0 else -pos[d] * beta[d] / g
        prev = pos[d]
        if want != placed and tradable[t]:
            wa[t] = want_a
            wb[t] = want_b
            placed = want
    return wa, wb


@njit(cache=True)
def _execute(cash, pos, val_price, value, w, price, fees, slippage):
    """One targetpercent order (vectorbt execute_order_nb, buy_nb, sell_nb; Direction.Both,
    no cash lock): returns cash, position, signed size filled, fill price, fees."""
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


@njit(cache=True)
def _simulate(ca, cb, fa, fb, wa, wb, fees, slippage, init_cash):
    """One two-asset cash-sharing group: the equity at each close (``pf.value()``), each leg's
    signed position value (``pf.asset_value(group_by=False)``) and the traded notional.  ``ca``
    and ``cb`` are the closes orders fill at (forward-filled), ``fa`` and ``fb`` the same also
    back-filled (vectorbt values positions on them); the series are accumulated from each bar's
    fills exactly as vectorbt rebuilds them from its order records."""
    t_n = len(ca)
    cash = init_cash
    pos_a = 0.0
    pos_b = 0.0
    last_a = np.nan
    last_b = np.nan
    value_s = np.empty(t_n)
    av = np.empty((t_n, 2))
    traded = np.zeros(t_n)
    cnow = init_cash
    p0 = 0.0
    p1 = 0.0
    for i in range(t_n):
        if not np.isnan(ca[i]):
            last_a = ca[i]
        if not np.isnan(cb[i]):
            last_b = cb[i]
        flow_a = 0.0
        flow_b = 0.0
        fill_a = 0.0
        fill_b = 0.0
        if not (np.isnan(wa[i]) and np.isnan(wb[i])):
            value = cash
            if pos_a != 0:
                value += pos_a * last_a
            if pos_b != 0:
                value += pos_b * last_b
            k0 = wa[i] * value - pos_a * last_a
            k1 = wb[i] * value - pos_b * last_b
            b_first = k0 > k1 or np.isnan(k0)
            for j in range(2):
                if (j == 0) != b_first:  # leg a
                    cash, pos_a, filled, px, paid = _execute(
                        cash, pos_a, last_a, value, wa[i], ca[i], fees, slippage
                    )
                    if filled != 0.0:
                        flow_a = _add(0.0, -filled * px - paid)
                        fill_a = _add(0.0, filled)
                        traded[i] += abs(filled * px)
                else:
                    cash, pos_b, filled, px, paid = _execute(
                        cash, pos_b, last_b, value, wb[i], cb[i], fees, slippage
                    )
                    if filled != 0.0:
                        flow_b = _add(0.0, -filled * px - paid)
                        fill_b = _add(0.0, filled)
                        traded[i] += abs(filled * px)
        cnow = _add(cnow, flow_a + flow_b)
        p0 = _add(p0, fill_a)
        p1 = _add(p1, fill_b)
        av[i, 0] = 0.0 if p0 == 0 else fa[i] * p0
        av[i, 1] = 0.0 if p1 == 0 else fb[i] * p1
        value_s[i] = cnow + (av[i, 0] + av[i, 1])
    return value_s, av, traded


@njit(cache=True)
def _back_filled(x):
    out = x.copy()
    for i in range(len(out) - 2, -1, -1):
        if np.isnan(out[i]):
            out[i] = out[i + 1]
    return out


@njit(cache=True)
def _borrow_paid(av, rate):
    """Cumulative borrow fee: rate / 252 of the short notional at the previous close."""
    t_n = av.shape[0]
    paid = np.empty(t_n)
    total = 0.0
    prev_short = 0.0
    for i in range(t_n):
        total += prev_short * rate / DAYS
        paid[i] = total
        prev_short = -min(av[i, 0], 0.0) + -min(av[i, 1], 0.0)
    return paid


@njit(cache=True)
def _one_set(
    z,
    beta,
    can_enter,
    tradable,
    ca,
    cb,
    fa,
    fb,
    ended,
    en,
    ex,
    st,
    max_hold,
    long_only,
    fees,
    slippage,
    rate,
    init_cash,
):
    pos = _positions(z, can_enter, en, ex, st, max_hold, long_only)
    if ended >= 0:
        pos[ended + 1 :] = 0.0
    wa, wb = _weights(pos, beta, tradable)
    value, av, traded = _simulate(ca, cb, fa, fb, wa, wb, fees, slippage, init_cash)
    paid = np.zeros(len(value))
    if rate > 0:  # size every order again on equity net of the borrow paid (two passes)
        paid = _borrow_paid(av, rate)
        net = 1.0
        for i in range(len(wa)):
            if not np.isnan(wa[i]):
                wa[i] = wa[i] * net
            if not np.isnan(wb[i]):
                wb[i] = wb[i] * net
            net = max((value[i] - paid[i]) / value[i], 0.0)
        value, av, traded = _simulate(ca, cb, fa, fb, wa, wb, fees, slippage, init_cash)
        paid = _borrow_paid(av, rate)
        value = value - paid
    for i in range(len(value)):  # a total loss ends the run
        if value[i] <= 0:
            value[i:] = 0.0
            break
    gross = np.abs(av[:, 0]) + np.abs(av[:, 1])
    return pos, wa, wb, value, gross, traded, paid


@njit(cache=True)
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
    orders fill at, ``ended`` the row of the last common close (-1: none)."""
    t_n, k_n = len(z), len(entries)
    values = np.empty((t_n, k_n))
    positions = np.empty((t_n, k_n))
    orders = np.empty((t_n, k_n, 2))
    extra = np.empty((t_n, k_n, 3))
    fa, fb = _back_filled(ca), _back_filled(cb)  # vectorbt values positions on these
    for k in range(k_n):
        pos, wa, wb, value, gross, traded, paid = _one_set(
            z, beta, can_enter, tradable, ca, cb, fa, fb, ended, entries[k], exits[k], stops[k],
            max_hold, long_only, fees, slippage, rate, init_cash,
        )  # fmt: skip
        values[:, k] = value
        positions[:, k] = pos
        orders[:, k, 0] = wa
        orders[:, k, 1] = wb
        extra[:, k, 0] = gross
        extra[:, k, 1] = traded
        extra[:, k, 2] = paid
    return values, positions, orders, extra
