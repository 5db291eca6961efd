"""The weekly screen: Chinese AI names ranked by discount to their US peers, as of a date."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from data.calendar import data_bounds
from data.dates import parse_date
from data.errors import InputError, NoDataError
from data.pointintime import PanelConfig
from data.rules import STALE_FUNDAMENTALS_DAYS
from data.store import Store
from data.universe import Universe
from data.verify import CHECKS, flags_by_ticker, verify_store
from screens.eligibility import Eligibility, exclusions
from screens.multiples import METRICS
from screens.scoring import ScoreConfig, score_panel, segment_medians

__all__ = ["SORT_COLUMNS", "ScreenFilters", "ScreenResult", "run_screen", "sorted_screen"]

NO_VALUATION = "no valuation data"
#: where each input came from and when it was public: carried into every output row
INPUT_COLUMNS = (
    "price_traded",
    "price_basis",
    "fx_date",
    "market_cap_source",
    "shares",
    "shares_as_of",
    "shares_public_date",
    "shares_kind",
    "shares_source",
    "sales",
    "sales_basis",
    "sales_period_end",
    "net_income",
    "earnings_period_end",
    "fundamentals_public_date",
    "eps_fwd",
    "why_market_cap",
    "why_sales",
    "why_earnings",
)


#: the screen flags what `aigap data verify` finds in the year before the as-of date
DATA_CHECK_DAYS = 365


@dataclass(frozen=True)
class ScreenFilters:
    """What a PM filters on: the segments, how many names, and who may be ranked
    (:class:`screens.eligibility.Eligibility`, the rule the discount backtest applies too).
    ``min_market_cap`` in USD; ``stale_days``: flag (and with ``exclude_stale`` drop) names
    whose oldest fundamentals in use are older than this."""

    segments: tuple[str, ...] = ()
    top: int | None = None
    min_market_cap: float = 0.0
    min_metrics: int = 1
    stale_days: int = STALE_FUNDAMENTALS_DAYS
    exclude_stale: bool = False

    def __post_init__(self) -> None:
        if self.top is not None and self.top < 1:
            raise InputError("--top must be at least 1")
        self.eligibility  # noqa: B018 - checked when made, before any data is read

    @property
    def eligibility(self) -> Eligibility:
        return Eligibility(self.min_metrics, self.min_market_cap, self.stale_days,
                           self.exclude_stale)  # fmt: skip


@dataclass
class ScreenResult:
    as_of: pd.Timestamp
    rows: pd.DataFrame  #: one row per Chinese name, ranked names first
    segments: pd.DataFrame  #: the segment gap view
    universe_path: str = ""
    filters: ScreenFilters = field(default_factory=ScreenFilters)
    #: what the user should know about how the screen was run (e.g. an as-of date moved back
    #: to the end of the data); the CLI prints them on stderr, the JSON carries them
    notes: tuple[str, ...] = ()
    #: the store's last US trading day (how old the data are is said under every screen)
    data_end: pd.Timestamp | None = None


def run_screen(
    store: Store,
    universe: Universe,
    as_of: str | pd.Timestamp,
    *,
    filters: ScreenFilters | None = None,
    panel_config: PanelConfig | None = None,
    score_config: ScoreConfig | None = None,
) -> ScreenResult:
    flt = filters or ScreenFilters()
    unknown = [s for s in flt.segments if s not in universe.segments]
    if unknown:
        raise InputError(
            f"unknown segment(s) {', '.join(unknown)}; choose from {', '.join(universe.segments)}"
        )
    as_of_ts, notes, data_end = _within_data(store, universe, parse_date(as_of, "--as-of"))
    _check_as_of(store, universe, as_of_ts)
    # the filter decides staleness (a new frozen config; the caller's is unchanged)
    panel_config = (panel_config or PanelConfig()).with_stale_days(flt.stale_days)
    mult, scores = score_panel(
        store, universe, [as_of_ts], panel_config=panel_config, score_config=score_config
    )
    s = _rows(store, universe, mult, scores, as_of_ts)
    rows = _ranked(s, as_of_ts, flt)
    segs = segment_medians(mult, universe, as_of_ts)
    return ScreenResult(
        as_of=as_of_ts,
        rows=rows,
        segments=segs,
        universe_path=str(universe.path),
        filters=flt,
        notes=notes,
        data_end=data_end,
    )


def _rows(
    store: Store,
    universe: Universe,
    mult: pd.DataFrame,
    scores: pd.DataFrame,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """One row per Chinese name on ``as_of``, in ticker order (so that ties and unranked rows
    never depend on the universe file's order): its scores, inputs and flags."""
    m = mult.xs(as_of, level="date")
    s = scores.xs(as_of, level="date").sort_index(kind="mergesort").copy()
    s["name"] = [universe[t].name for t in s.index]
    for col in ("market_cap", "price_usd", "price_date", "valuation_source", "snapshot_date",
                "fundamentals_period_end", "negative_earnings", *INPUT_COLUMNS):  # fmt: skip
        s[col] = m[col].reindex(s.index)
    checks = flags_by_ticker(  # a series' end is flagged by the panel ("stale price")
        verify_store(store, universe, files=False),
        as_of - pd.Timedelta(days=DATA_CHECK_DAYS),
        as_of,
        checks=tuple(c for c in CHECKS if c != "stale"),
    )
    flags = []
    for t in s.index:
        fl = [f for f in str(m.at[t, "flags"]).split("; ") if f]
        if pd.isna(s.at[t, "composite"]):
            fl.insert(0, NO_VALUATION)
        if bool(s.at[t, "negative_earnings"]):
            fl.append("negative earnings (no P/E)")
        x = universe[t]
        if x.cross_listing:
            fl.append(f"cross-listed with {x.cross_listing}")
        fl += checks.get(t, [])
        flags.append("; ".join(fl))
    s["flags"] = flags
    return s


def _ranked(s: pd.DataFrame, as_of: pd.Timestamp, flt: ScreenFilters) -> pd.DataFrame:
    """The rows ranked under the filters (the eligibility rule, the segments, the top N), the
    names left out after them with why in their flags."""
    # stale: the oldest annual figure in use is older than --stale-days (snapshots are current)
    ex = exclusions(s, as_of, flt.eligibility)
    s["stale"] = ex["stale"]
    keep = pd.Series(True, index=s.index)
    if flt.segments:
        keep &= s["segment"].isin(flt.segments)
    scored = ex["ranked"]
    for mask, why in (
        (ex["few"], f"excluded: fewer than {flt.min_metrics} metrics"),
        (ex["small"], f"excluded: market cap below USD {flt.min_market_cap:,.0f}"),
        (ex["old"], "excluded: stale fundamentals"),
    ):
        s.loc[mask, "flags"] = [f"{why}; {f}" if f else why for f in s.loc[mask, "flags"]]
    ranked = s[keep & scored].sort_values(["score", "composite"], ascending=False, kind="mergesort")
    if flt.top is not None:
        ranked = ranked.head(flt.top)
    ranked = ranked.assign(rank=np.arange(1, len(ranked) + 1))
    rest = s[keep & ~scored].sort_values(["segment"], kind="mergesort").assign(rank=np.nan)
    return pd.concat([ranked, rest]).reset_index(names="ticker")


#: the columns a screen can be ordered by (``--sort``)
SORT_COLUMNS = ("rank", "ticker", "segment", "market_cap", "score", "composite", "z_segment",
                "n_metrics", *METRICS)  # fmt: skip


def sorted_screen(res: ScreenResult, column: str) -> ScreenResult:
    """The ranked names in the order of ``column`` (``-column``: descending); the ranks stay
    the ranks, the unranked names stay after them."""
    desc = column.startswith("-")
    col = column.lstrip("-")
    if col not in SORT_COLUMNS:
        raise InputError(f"--sort must be one of {', '.join(SORT_COLUMNS)} (got {column!r})")
    rows = res.rows
    ranked = rows[rows["rank"].notna()].sort_values(
        [col, "rank"], ascending=[not desc, True], kind="mergesort", na_position="last"
    )
    out = pd.concat([ranked, rows[rows["rank"].isna()]], ignore_index=True)
    return replace(res, rows=out)


def _within_data(
    store: Store, universe: Universe, as_of: pd.Timestamp
) -> tuple[pd.Timestamp, tuple[str, ...], pd.Timestamp | None]:
    """An as-of date after the data's last US trading day screens that day instead, and says
    so: the prices after it do not exist, and an empty screen would pass for a result.  Also
    returns that last day."""
    last = data_bounds(store, universe).last_us_day
    if last is None:
        return as_of, (), None
    if as_of <= last:
        return as_of, (), last
    note = (
        f"--as-of {as_of.date()} is after the end of the data; screened "
        f"{last.date()}, the last US trading day in the store"
    )
    return last, (note,), last


def _check_as_of(store: Store, universe: Universe, as_of: pd.Timestamp) -> None:
    """An as-of date before any price of a Chinese name, or before any valuation input became
    public, has nothing to rank: a clear error rather than an empty screen."""
    bounds = data_bounds(store, universe)
    first_price, first_val = bounds.first_china_price, bounds.first_public_valuation
    if first_price is None or first_val is None:
        raise NoDataError("the data store holds no prices or valuations of Chinese names")
    first = max(first_price, first_val)
    if as_of < first:
        raise NoDataError(
            f"as-of date {as_of.date()} is before any valuation data "
            f"(the earliest as-of date with data is {first.date()})"
        )


def metric_columns() -> list[str]:
    cols = []
    for m in METRICS:
        cols += [m, f"{m}_peer", f"{m}_peers_n", f"{m}_gap", f"{m}_disc_pct"]
    return cols
