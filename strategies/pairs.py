"""Pairs: long a Chinese name, short its US peer (or a peer basket), traded on the spread.

Clock and alignment
-------------------
Everything runs on the US trading calendar at the New York close.  An HK or A-share close of the
same calendar day (16:00 Hong Kong = 04:00 New York; 15:00 Shanghai = 03:00 New York) is already
known at the New York close, so a non-US leg is aligned to the last close at or before the US
date; a signal computed at the close of day ``t`` is executed at the close of the next US trading
day (for a non-US leg: its close of that day, which also happens after the signal).  ``lag`` adds
further whole days of delay to a non-US leg if one wants to be more conservative.

Spread and signals
------------------
* hedge ``ols`` (default): rolling OLS of ``ln A`` on ``ln B`` over ``lookback`` days
  (statsmodels ``RollingOLS``), spread = ``ln A - beta ln B``; ``beta`` = rolling OLS beta of
  daily returns; ``dollar``: beta = 1.
* z = today's spread against the trailing ``lookback`` window re-built with today's hedge
  ratio (data up to the day; see :func:`spread_zscore`).
* state machine (per parameter set, vectorised across sets): enter long the spread when
  ``z <= -entry`` (short when ``z >= entry``), exit when z crosses back to ``-exit``/``+exit``,
  stop out when ``|z| >= stop``, time-stop after ``max_hold`` days; after a stop no re-entry until
  ``|z|`` is back below ``entry``.
* no entry while the hedge ratio is not positive (long both legs is not a pair);
* dollar weights at entry, held until exit: A ``pos / (1 + |beta|)``, B ``-pos beta / (1 +
  |beta|)`` (gross exposure 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.errors import InputError
from data.fx import usd_closes
from data.store import Store
from data.universe import Universe

__all__ = [
    "HEDGES",
    "PairSpec",
    "hedge_ratio",
    "pair_positions",
    "pair_prices",
    "parse_pair",
    "position_weights",
    "spread_zscore",
]

HEDGES = ("ols", "dollar", "beta")
BASKET = "basket"


@dataclass(frozen=True)
class PairSpec:
    a: str  #: the Chinese name (long leg of a long-spread trade)
    b: str  #: the US peer, or ``basket`` (equal-weight basket of the name's US peers)

    @property
    def label(self) -> str:
        return f"{self.a}:{self.b}"


def parse_pair(text: str, universe: Universe) -> PairSpec:
    parts = text.split(":")
    if len(parts) != 2 or not all(parts):
        raise InputError(f"pair {text!r} must look like BABA:AMZN or BABA:basket")
    a, b = parts[0].strip(), parts[1].strip()
    for t in (a, b):
        if t != BASKET and t not in universe.listings:
            raise InputError(f"pair {text!r}: {t} is not in the universe")
    if a not in universe.china:
        raise InputError(
            f"pair {text!r}: the first leg is the Chinese name you go long; {a} is not one of "
            "the universe's Chinese names (write CHINA:PEER, e.g. BABA:AMZN)"
        )
    if b == BASKET and not universe.peers_of(a):
        raise InputError(f"pair {text!r}: {a} has no US peers for a basket")
    if a == b:
        raise InputError(f"pair {text!r}: the two legs must differ")
    return PairSpec(a, b)


def pair_prices(
    store: Store,
    universe: Universe,
    pair: PairSpec,
    calendar: pd.DatetimeIndex,
    *,
    lag: int = 0,
    closes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """USD closes of both legs on the US calendar (columns ``a``, ``b``).  The basket leg is an
    equal-weight index of the US peers' daily returns (rebalanced daily, as a swap would be).
    ``closes``: :func:`data.fx.usd_closes` of every ticker needed on ``calendar``, computed once
    by a caller that builds many pairs."""

    def usd(tickers: list[str]) -> pd.DataFrame:
        if closes is not None:
            return closes.reindex(columns=tickers)
        return usd_closes(store, universe, tickers, calendar)

    legs = [pair.a] + ([] if pair.b == BASKET else [pair.b])
    px = usd(legs)
    if pair.b == BASKET:
        peers = list(universe.peers_of(pair.a))
        p = usd(peers)
        r = p.pct_change(fill_method=None).mean(axis=1, skipna=True)
        first = p.notna().any(axis=1).idxmax()
        basket = (1 + r.fillna(0.0)).cumprod().where(calendar >= first)
        px[BASKET] = 100 * basket / basket.dropna().iloc[0]
    out = pd.DataFrame({"a": px[pair.a], "b": px[pair.b]}, index=calendar)
    if lag:
        for col, t in (("a", pair.a), ("b", pair.b)):
            if t != BASKET and universe[t].currency != "USD":
                out[col] = out[col].shift(lag)
    return out


def hedge_ratio(prices: pd.DataFrame, lookback: int, method: str = "ols") -> pd.Series:
    """Hedge ratio at each date from the trailing ``lookback`` days (inclusive)."""
    if method not in HEDGES:
        raise InputError(f"hedge must be one of {', '.join(HEDGES)}")
    if method == "dollar":
        return pd.Series(1.0, index=prices.index)
    if method == "beta":
        r = prices.pct_change(fill_method=None)
        cov = r["a"].rolling(lookback, min_periods=lookback // 2).cov(r["b"])
        return cov / r["b"].rolling(lookback, min_periods=lookback // 2).var()
    from statsmodels.regression.rolling import RollingOLS

    y = np.log(prices["a"])
    x = pd.DataFrame({"const": 1.0, "b": np.log(prices["b"])}, index=prices.index)
    ok = y.notna() & x["b"].notna()
    res = RollingOLS(y[ok], x[ok], window=lookback, min_nobs=lookback).fit(params_only=True)
    return res.params["b"].reindex(prices.index)


def spread_zscore(prices: pd.DataFrame, lookback: int, method: str = "ols") -> pd.DataFrame:
    """``beta``, ``spread`` (= ln A - beta ln B) and ``z``.

    The z-score of day t measures today's spread against the trailing window **with today's
    hedge ratio applied to the whole window** (x_s = ln A_s - beta_t ln B_s): mixing spreads built
    with different betas would let the hedge-ratio noise (times the ln B level) swamp the
    residual.  With the OLS hedge this is the z-score of the rolling regression residual."""
    beta = hedge_ratio(prices, lookback, method)
    la, lb = np.log(prices["a"]), np.log(prices["b"])
    roll = {"min_periods": lookback}
    ma, mb = la.rolling(lookback, **roll).mean(), lb.rolling(lookback, **roll).mean()
    va, vb = la.rolling(lookback, **roll).var(), lb.rolling(lookback, **roll).var()
    cab = la.rolling(lookback, **roll).cov(lb)
    spread = la - beta * lb
    var = (va + beta**2 * vb - 2 * beta * cab).clip(lower=0)
    z = (spread - (ma - beta * mb)) / np.sqrt(var.where(var > 0))
    return pd.DataFrame({"beta": beta, "spread": spread, "z": z})


def pair_positions(
    z: np.ndarray,
    entry: np.ndarray,
    exit_: np.ndarray,
    stop: np.ndarray,
    max_hold: np.ndarray,
    long_only: bool = False,
    can_enter: np.ndarray | None = None,
) -> np.ndarray:
    """Spread position decided at each close (+1 long A / short B, -1 short A / long B, 0 flat)
    for ``K`` parameter sets at once: ``z`` is ``(T, K)``, thresholds are length ``K``.
    ``can_enter`` (length ``T``) blocks new entries only (exits and stops always apply)."""
    z = np.asarray(z, dtype=float)
    t_n, k_n = z.shape
    enter_ok = np.ones(t_n, dtype=bool) if can_enter is None else np.asarray(can_enter, bool)
    pos = np.zeros((t_n, k_n))
    cur = np.zeros(k_n)
    held = np.zeros(k_n)
    blocked = np.zeros(k_n, dtype=bool)  # after a stop: wait until |z| < entry
    for t in range(t_n):
        zt = z[t]
        ok = np.isfinite(zt)
        blocked &= ~(ok & (np.abs(zt) < entry))
        long_exit = (cur > 0) & ok & (zt >= -exit_)
        short_exit = (cur < 0) & ok & (zt <= exit_)
        stopped = (cur != 0) & ok & (np.abs(zt) >= stop)
        timed = (cur != 0) & (held >= max_hold)
        out = long_exit | short_exit | stopped | timed
        blocked |= stopped | timed
        cur = np.where(out, 0.0, cur)
        flat = (cur == 0) & ok & ~blocked & ~out & enter_ok[t]
        go_long = flat & (zt <= -entry)
        go_short = flat & (zt >= entry) & (not long_only)
        cur = np.where(go_long, 1.0, np.where(go_short, -1.0, cur))
        held = np.where(cur != 0, np.where(go_long | go_short, 1, held + 1), 0)
        pos[t] = cur
    return pos


def position_weights(
    pos: np.ndarray, beta: np.ndarray, tradable: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Target weights of legs A and B, NaN where no order is placed.

    A position decided at the close of day t is ordered on the first later day on which both
    legs' markets close (``tradable``, length ``T``; default every day), so never at a close
    from before the decision; a newer decision replaces an order still waiting, and one that
    returns to the position already held cancels it.  Positions are held in shares between
    orders; the hedge ratio is the one of the deciding day."""
    t_n, k_n = pos.shape
    trad = np.ones(t_n, dtype=bool) if tradable is None else np.asarray(tradable, dtype=bool)
    wa = np.full((t_n, k_n), np.nan)
    wb = np.full((t_n, k_n), np.nan)
    b = np.broadcast_to(np.asarray(beta, dtype=float).reshape(t_n, -1), (t_n, k_n))
    gross = 1.0 + np.abs(b)
    placed = np.zeros(k_n)  # position of the last order placed
    want = np.zeros(k_n)  # position wanted by the latest decision
    want_a = np.zeros(k_n)
    want_b = np.zeros(k_n)
    prev = np.zeros(k_n)
    for t in range(1, t_n):
        d = t - 1
        changed = (pos[d] != prev) & (np.isfinite(b[d]) | (pos[d] == 0))
        want = np.where(changed, pos[d], want)
        want_a = np.where(changed, np.where(pos[d] == 0, 0.0, pos[d] / gross[d]), want_a)
        want_b = np.where(changed, np.where(pos[d] == 0, 0.0, -pos[d] * b[d] / gross[d]), want_b)
        prev = pos[d]
        go = (want != placed) & trad[t]
        wa[t, go] = want_a[go]
        wb[t, go] = want_b[go]
        placed = np.where(go, want, placed)
    return wa, wb
