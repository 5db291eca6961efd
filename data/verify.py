"""``aigap data verify``: what in a store should not be trusted, and which names it touches.

Checks, each a :class:`Finding` with the ticker and dates it concerns:

* ``corrupt``: a table file unreadable, truncated or not matching the manifest's checksum;
* ``gap``: a price series with no close for more than :data:`GAP_DAYS` calendar days inside its
  history (longer than any exchange holiday);
* ``stale``: a series that ends more than :data:`data.rules.DATA_ENDED_DAYS` before the
  store's last US trading day;
* ``jump``: a one-day move of the adjusted close beyond :data:`JUMP_DOWN` / :data:`JUMP_UP` with
  no corporate action recorded within :data:`ACTION_WINDOW_DAYS`;
* ``currency``: a stored price currency that is not the universe's listing currency;
* ``unrestated_split``: a recorded split whose ratio still shows in the adjusted close (the
  history before it was not restated).

Screens and backtests flag the names a finding touches (:func:`flags_by_ticker`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from data.calendar import us_calendar
from data.errors import CorruptFileError, DataError, NoDataError
from data.rules import DATA_ENDED_DAYS
from data.store import TABLES, Store, price_currency
from data.universe import Universe

__all__ = [
    "ACTION_WINDOW_DAYS",
    "CHECKS",
    "GAP_DAYS",
    "JUMP_DOWN",
    "JUMP_UP",
    "Finding",
    "VerifyReport",
    "flags_by_ticker",
    "verify_store",
]

CHECKS = ("corrupt", "gap", "stale", "jump", "currency", "unrestated_split")
#: no close for longer than this (calendar days) inside a series is a gap
GAP_DAYS = 12
#: a one-day move of the adjusted close below this, or above JUMP_UP, is suspicious
JUMP_DOWN = -0.60
JUMP_UP = 1.50
#: a corporate action this close to a jump explains it
ACTION_WINDOW_DAYS = 5
#: a split shows in the adjusted close when the day's ratio is within this of 1 / factor
SPLIT_TOLERANCE = 0.25


@dataclass(frozen=True)
class Finding:
    check: str
    ticker: str | None
    date: str | None  #: the day concerned (the first day of a gap, a jump's day, a series' end)
    detail: str

    def flag(self) -> str:
        return f"data check: {self.check}" + (f" {self.date}" if self.date else "")


@dataclass(frozen=True)
class VerifyReport:
    root: str
    data_end: str | None
    findings: tuple[Finding, ...]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.check] = out.get(f.check, 0) + 1
        return dict(sorted(out.items()))

    def to_document(self) -> dict:
        return {
            "store": self.root,
            "data_end": self.data_end,
            "counts": self.counts(),
            "findings": [asdict(f) for f in self.findings],
        }


def _corrupt(store: Store) -> list[Finding]:
    names = list(store.manifest().get("files", {})) or [n for n in TABLES if store.has_table(n)]
    out = []
    for name in names:
        try:
            store.table(name)
            if name == "prices":
                store.close()  # laid out by date and ticker: a (date, ticker) twice is refused
        except CorruptFileError as e:
            out.append(Finding("corrupt", None, None, f"{e.path}: {e.reason}"))
        except DataError as e:  # listed in the manifest, missing on disk
            out.append(Finding("corrupt", None, None, str(e)))
    return out


def _gaps(close: pd.Series, t: str) -> list[Finding]:
    d = pd.DatetimeIndex(close.dropna().index)
    if len(d) < 2:
        return []
    step = np.asarray((d[1:] - d[:-1]).days)
    return [
        Finding("gap", t, str(d[i].date()), f"no close for {int(step[i])} days after it")
        for i in np.flatnonzero(step > GAP_DAYS)
    ]


def _jumps(close: pd.Series, t: str, actions: pd.DataFrame) -> list[Finding]:
    s = close.dropna()
    r = s.pct_change(fill_method=None)
    bad = r[(r < JUMP_DOWN) | (r > JUMP_UP)]
    dates = pd.DatetimeIndex(actions.loc[actions["ticker"] == t, "date"])
    out = []
    for day, move in bad.items():
        near = (abs((dates - pd.Timestamp(day)).days) <= ACTION_WINDOW_DAYS).any()
        if not near:
            out.append(
                Finding(
                    "jump",
                    t,
                    str(pd.Timestamp(day).date()),
                    f"{move:+.0%} in one day, no corporate action recorded",
                )
            )
    return out


def _unrestated(close: pd.Series, t: str, actions: pd.DataFrame) -> list[Finding]:
    s = close.dropna()
    out = []
    for a in actions[actions["ticker"] == t].itertuples():
        f = float(a.factor)
        if not np.isfinite(f) or f <= 0 or abs(f - 1) < 0.05:
            continue
        on, before = (
            s.loc[pd.Timestamp(a.date) :],
            s.loc[: pd.Timestamp(a.date) - pd.Timedelta(days=1)],
        )
        if not len(on) or not len(before):
            continue
        ratio = float(on.iloc[0] / before.iloc[-1])
        # the day's move is nearer the unrestated ratio 1/f than the restated 1 (in log terms)
        # and within the tolerance of it: a small bonus issue on a quiet day is not flagged
        unrestated = abs(np.log(ratio * f))
        if unrestated < abs(np.log(ratio)) / 2 and abs(ratio * f - 1) <= SPLIT_TOLERANCE:
            out.append(
                Finding(
                    "unrestated_split",
                    t,
                    str(pd.Timestamp(a.date).date()),
                    f"the adjusted close moves x{ratio:.3f} on a recorded {f:g}:1 {a.kind}",
                )
            )
    return out


def verify_store(store: Store, universe: Universe, *, files: bool = True) -> VerifyReport:
    """Every finding in ``store``, in a stable order (check, ticker, date); computed once per
    store object (screens and backtests ask for it on every run).  ``files=False`` skips the
    corruption check, which reads every table: the screen and the backtests only flag names,
    and a table they read is checked against the manifest as it is read."""
    report: VerifyReport = store.cached(
        f"verify:{universe.fingerprint()}:{files}",
        lambda: _verify(store, universe, files),
        persist=not files,  # the file check reads every table: never from the cache
    )
    return report


def _actions(store: Store) -> pd.DataFrame:
    """The corporate actions, or none when the table is missing or corrupted (reported by the
    corruption check; the checks that need actions then flag every jump)."""
    try:
        return store.table("corporate_actions")
    except DataError:
        return pd.DataFrame(columns=["ticker", "date", "factor", "kind"])


def _verify(store: Store, universe: Universe, files: bool = True) -> VerifyReport:
    found = _corrupt(store) if files else []
    if found and any("prices" in f.detail for f in found):
        return VerifyReport(str(store.root), None, tuple(found))
    try:
        end = us_calendar(store).max()
    except NoDataError:
        end = None
    px = store.table("prices")
    actions = _actions(store)
    wide = store.close()
    for t in wide.columns:
        s = wide[t].dropna()
        found += _gaps(s, t) + _jumps(s, t, actions) + _unrestated(s, t, actions)
        if end is not None and len(s) and (end - s.index.max()).days > DATA_ENDED_DAYS:
            found.append(
                Finding(
                    "stale",
                    t,
                    str(s.index.max().date()),
                    f"ends {(end - s.index.max()).days} days before the data end {end.date()}",
                )
            )
    for (t, ccy), n in px.groupby(["ticker", "currency"]).size().items():
        want = price_currency(str(t), universe)
        if ccy != want and (t in universe.listings or "per USD" in want):
            found.append(
                Finding("currency", str(t), None, f"{n} rows stored in {ccy}, listed in {want}")
            )
    found.sort(key=lambda f: (f.check, f.ticker or "", f.date or ""))
    return VerifyReport(str(store.root), None if end is None else str(end.date()), tuple(found))


def flags_by_ticker(
    report: VerifyReport,
    start: pd.Timestamp | None,
    end: pd.Timestamp,
    checks: tuple[str, ...] = CHECKS,
) -> dict[str, list[str]]:
    """Per ticker, the flags of the findings that bear on a window ending at ``end``: a gap,
    jump or unrestated split dated in the window (or any date with ``start`` None: up to
    ``end``), a series that ended before ``end``, a currency mismatch."""
    out: dict[str, list[str]] = {}
    for f in report.findings:
        if f.ticker is None or f.check not in checks:
            continue
        when = pd.Timestamp(f.date) if f.date else None
        if f.check == "stale":
            hit = when is not None and when < end
        elif when is None:
            hit = True
        else:
            hit = when <= end and (start is None or when >= start)
        if hit:
            out.setdefault(f.ticker, []).append(f.flag())
    return out
