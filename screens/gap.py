"""The China-vs-US valuation gap over time: the screen's segment view on every period end.

For each date, segment (and ``ALL``) and metric: the median multiple of the Chinese names and of
their US peers, point in time (data public by that date only; the screen's own panel and
scoring code, :func:`screens.scoring.score_panel` and :func:`screens.scoring.segment_medians`),
the gap (China / US - 1 and its log) and how many names each median rests on.
"""

from __future__ import annotations

import pandas as pd

from data.calendar import period_ends, us_calendar
from data.errors import InputError, NoDataError
from data.store import Store
from data.universe import Universe
from screens.multiples import METRICS
from screens.scoring import score_panel, segment_medians_by_date

__all__ = ["GAP_KEYS", "MIN_NAMES", "gap_history", "reference_points"]

#: the keys of a gap row, in order (JSON and CSV; scripts depend on these names)
GAP_KEYS = [
    "date", "segment", "metric", "china_median", "us_median", "china_n", "us_n", "gap_pct",
    "log_gap", "thin",
]  # fmt: skip
#: a median resting on fewer names than this is shown but marked ``thin``
MIN_NAMES = 3


def gap_history(
    store: Store,
    universe: Universe,
    dates: pd.DatetimeIndex,
    *,
    metrics: tuple[str, ...] = (),
    segments: tuple[str, ...] = (),
) -> pd.DataFrame:
    """One row per (date, segment, metric) with :data:`GAP_KEYS`."""
    bad = [m for m in metrics if m not in METRICS]
    if bad:
        raise InputError(f"unknown metric(s) {', '.join(bad)}; choose from {', '.join(METRICS)}")
    unknown = [s for s in segments if s not in (*universe.segments, "ALL")]
    if unknown:
        raise InputError(
            f"unknown segment(s) {', '.join(unknown)}; "
            f"choose from {', '.join([*universe.segments, 'ALL'])}"
        )
    if not len(dates):
        return pd.DataFrame(columns=GAP_KEYS)
    mult = _multiples_on(store, universe, pd.DatetimeIndex(dates))
    out = segment_medians_by_date(mult, universe, pd.DatetimeIndex(dates))
    if metrics:
        out = out[out["metric"].isin(metrics)]
    if segments:
        out = out[out["segment"].isin(segments)]
    out["thin"] = (out["china_n"] < MIN_NAMES) | (out["us_n"] < MIN_NAMES)
    return out[GAP_KEYS].reset_index(drop=True)


def _multiples_on(store: Store, universe: Universe, dates: pd.DatetimeIndex) -> pd.DataFrame:
    """The point-in-time multiples on ``dates``.  Those that are month ends of the store's
    calendar come from one panel over every month end (computed once per store and kept, so
    histories to different as-of dates share it); the others, often just the as-of date a
    screen has already scored, are computed together.  A date's figures do not depend on which
    other dates are asked (``tests/test_gap.py``)."""
    try:
        grid = period_ends(us_calendar(store), "ME")
    except NoDataError:
        grid = pd.DatetimeIndex([])
    shared, other = dates[dates.isin(grid)], dates[~dates.isin(grid)]
    parts = []
    if len(shared):
        mult, _ = score_panel(store, universe, grid)
        parts.append(mult[mult.index.get_level_values("date").isin(shared)])
    if len(other):
        parts.append(score_panel(store, universe, other)[0])
    return pd.concat(parts).sort_index() if len(parts) > 1 else parts[0]


def reference_points(store: Store) -> pd.DataFrame:
    """The public figures the store carries (``facts``: published values with their scope and
    source), or none for a store without them."""
    if not store.has_table("facts"):
        return pd.DataFrame(columns=["fact_id", "as_of_date", "metric", "value"])
    return store.table("facts")
