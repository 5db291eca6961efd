"""Coverage: which multiples are computable for which names on which dates, and why not.

For every date and name, each metric of :data:`screens.multiples.METRICS` is either computable
(``None``) or carries the reason it is not: the first missing input in the order price, market
cap, sales, earnings, snapshot fields, then ``negative earnings`` (a P/E is undefined, not cheap)
and, for a Chinese name, ``fewer than K peers`` when the US peer median rests on too few names.
The reasons of missing inputs come from the point-in-time panel (``why_*``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.store import Store
from data.universe import Universe
from screens.multiples import METRICS
from screens.scoring import ScoreConfig, score_panel

__all__ = ["CoverageResult", "coverage"]

#: the panel inputs each metric needs, in the order their absence is reported
NEEDS = {
    "ps": ("price", "market_cap", "sales"),
    "ev_sales": ("price", "market_cap", "sales", "ev"),
    "pe_trailing": ("price", "market_cap", "earnings"),
    "pe_forward": ("price", "eps_fwd"),
    "ev_ebitda": ("price", "market_cap", "ev", "ebitda"),
    "ps_growth": ("price", "market_cap", "sales"),
}


@dataclass(frozen=True)
class CoverageResult:
    """``rows``: one row per (date, ticker) with ``role``, ``segment``, one column per metric
    (``None`` = computable, else the reason) and ``valued`` (a Chinese name with a composite
    discount; a US peer with any multiple).  ``summary``: per date, names valued by role."""

    rows: pd.DataFrame
    summary: pd.DataFrame


def _reason(row: pd.Series, metric: str, peers_n: float, min_peers: int) -> str | None:
    if pd.notna(row[metric]):
        if np.isfinite(peers_n) and peers_n < min_peers:
            return f"fewer than {min_peers} peers"
        return None
    for need in NEEDS[metric]:
        why = row.get(f"why_{need}", "")
        if isinstance(why, str) and why:
            return (
                why if need in ("price", "market_cap", "sales", "earnings") else f"{why} ({need})"
            )
    if metric == "pe_trailing" and bool(row.get("negative_earnings", False)):
        return "negative earnings"
    if metric == "pe_forward":
        return "negative forward EPS"
    if metric == "ps_growth":
        return "no revenue growth (no prior year, or revenue fell)"
    return "not computable"


def coverage(
    store: Store, universe: Universe, dates, *, score_config: ScoreConfig | None = None
) -> CoverageResult:
    """Coverage of the Chinese names and the US peers on each of ``dates``."""
    cfg = score_config or ScoreConfig()
    mult, scores = score_panel(store, universe, dates, score_config=cfg)
    out = []
    for (d, t), r in mult.iterrows():
        role = universe[t].role
        rec: dict = {"date": d, "ticker": t, "role": role, "segment": universe[t].segment}
        sc = scores.loc[(d, t)] if role == "china" else None
        for m in METRICS:
            n = float(sc[f"{m}_peers_n"]) if sc is not None else np.nan
            rec[m] = _reason(r, m, n, cfg.min_peers)
        if sc is not None:
            rec["valued"] = bool(pd.notna(sc["composite"]))
        else:
            rec["valued"] = any(rec[m] is None for m in METRICS)
        out.append(rec)
    rows = pd.DataFrame(out)
    summary = (
        rows.groupby(["date", "role"])["valued"]
        .sum()
        .unstack("role")
        .reindex(columns=["china", "us"])
    )
    summary = (
        summary.fillna(0).astype(int).rename(columns={"china": "china_valued", "us": "us_valued"})
    )
    summary["china_names"] = len(universe.china)
    summary["us_names"] = len(universe.us)
    ps = rows[rows["role"] == "us"].assign(has=lambda x: x["ps"].isna())
    summary["us_with_ps"] = ps.groupby("date")["has"].sum().reindex(summary.index).astype(int)
    return CoverageResult(rows=rows, summary=summary.reset_index())
