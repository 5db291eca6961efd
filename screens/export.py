"""Screen outputs: JSON document, CSV, watchlists (csv, json, txt, TradingView, xlsx), the
screens archive and the week-over-week diff.  Every writer is deterministic (same result, same
bytes) and atomic (a temporary file renamed into place)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data.errors import InputError
from data.jsonsafe import iso_day, number, to_json
from data.paths import check_output_dir, check_output_file
from data.store import atomic_write_bytes, atomic_write_text
from data.universe import Universe
from screens.multiples import METRICS
from screens.screen import ScreenResult

__all__ = [
    "WATCHLIST_FORMATS",
    "archive_path",
    "check_output_dir",
    "check_output_file",
    "diff_screens",
    "load_screen_json",
    "screen_csv",
    "screen_document",
    "screen_json",
    "write_bytes",
    "write_watchlist",
]

WATCHLIST_FORMATS = ("csv", "json", "txt", "tradingview", "xlsx")
#: the watchlist format a file extension implies (a TradingView list is a .txt file)
_EXTENSION_FORMATS = {
    ".csv": ("csv",),
    ".json": ("json",),
    ".txt": ("txt", "tradingview"),
    ".xlsx": ("xlsx",),
}
_FIXED_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def _num(x: Any, nd: int = 6) -> Any:
    """A screen figure in JSON: :func:`data.jsonsafe.number` (the one rule) at ``nd`` places,
    always a float."""
    v = number(x, nd)
    return float(v) if isinstance(v, int) and not isinstance(v, bool) else v


def _inputs(r: dict) -> dict:
    """Every input of the row with its source and dates (money in USD)."""

    def text(k: str) -> str | None:
        v = r.get(k)
        return v if isinstance(v, str) and v else None

    return {
        "price_traded_local": _num(r.get("price_traded"), 4),
        "price_basis": text("price_basis"),
        "fx_date": iso_day(r.get("fx_date")),
        "market_cap_source": text("market_cap_source"),
        "shares_millions": _num(r.get("shares"), 3),
        "shares_as_of": iso_day(r.get("shares_as_of")),
        "shares_public_date": iso_day(r.get("shares_public_date")),
        "shares_kind": text("shares_kind"),
        "shares_source": text("shares_source"),
        "sales_usd": _num(r.get("sales"), 0),
        "sales_basis": text("sales_basis"),
        "sales_period_end": iso_day(r.get("sales_period_end")),
        "net_income_usd": _num(r.get("net_income"), 0),
        "earnings_period_end": iso_day(r.get("earnings_period_end")),
        "fundamentals_public_date": iso_day(r.get("fundamentals_public_date")),
        "eps_forward_usd": _num(r.get("eps_fwd"), 4),
        "missing": {
            k: text(f"why_{k}") for k in ("market_cap", "sales", "earnings") if text(f"why_{k}")
        },
    }


def _row_document(r: dict) -> dict:
    """One ranked (or unranked) name of the screen as JSON."""
    metrics = {
        m: {
            "value": _num(r[m]),
            "peer_median": _num(r[f"{m}_peer"]),
            "peers_n": int(r[f"{m}_peers_n"]),
            "log_gap": _num(r[f"{m}_gap"]),
            "discount_pct": _num(r[f"{m}_disc_pct"]),
        }
        for m in METRICS
    }
    return {
        "rank": None if pd.isna(r["rank"]) else int(r["rank"]),
        "ticker": r["ticker"],
        "name": r["name"],
        "segment": r["segment"],
        "valuation_source": r["valuation_source"]
        if isinstance(r["valuation_source"], str)
        else None,
        "market_cap_usd": _num(r["market_cap"], 0),
        "price_usd": _num(r["price_usd"], 4),
        "price_date": iso_day(r["price_date"]),
        "fundamentals_period_end": iso_day(r["fundamentals_period_end"]),
        "inputs": _inputs(r),
        "metrics": metrics,
        "composite_discount": _num(r["composite"]),
        "n_metrics": int(r["n_metrics"]),
        "metrics_used": r["metrics_used"].split(",") if r["metrics_used"] else [],
        "z_segment": _num(r["z_segment"]),
        "tilt": _num(r["tilt"]),
        "score": _num(r["score"]),
        "stale": bool(r["stale"]),
        "flags": [f for f in r["flags"].split("; ") if f],
    }


def screen_document(res: ScreenResult) -> dict:
    rows = [_row_document(r) for r in res.rows.to_dict("records")]
    segments = [
        {
            k: (v if k in ("segment", "metric") else int(v) if k.endswith("_n") else _num(v))
            for k, v in s.items()
        }
        for s in res.segments.to_dict("records")
    ]
    f = res.filters
    return {
        "as_of": res.as_of.date().isoformat(),
        "data_end": iso_day(res.data_end),
        "notes": list(res.notes),
        "universe": Path(res.universe_path).name,
        "filters": {
            "segments": list(f.segments),
            "top": f.top,
            "min_market_cap": f.min_market_cap,
            "min_metrics": f.min_metrics,
            "stale_days": f.stale_days,
            "exclude_stale": f.exclude_stale,
        },
        "rows": rows,
        "segments": segments,
    }


def _diff_value(key: str, v: Any) -> Any:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if key in ("ticker", "change", "why"):
        return v
    if key in ("previous_score", "score"):
        return _num(float(v))
    return int(v)


def diff_document(changes: pd.DataFrame, previous_as_of: str | None) -> dict:
    """The weekly diff as JSON: ``{"previous_as_of": ..., "changes": [...]}``."""
    return {
        "previous_as_of": previous_as_of,
        "changes": [
            {k: _diff_value(k, v) for k, v in r.items()} for r in changes.to_dict("records")
        ],
    }


def screen_json(
    res: ScreenResult,
    *,
    diff: pd.DataFrame | None = None,
    previous_as_of: str | None = None,
    doc: dict | None = None,
) -> str:
    """The screen document (``doc`` where the caller has built it); with ``diff`` (from
    :func:`diff_screens`) it also carries the changes since the previous screen under
    ``"diff"``, so stdout stays one JSON document."""
    doc = dict(doc) if doc is not None else screen_document(res)
    if diff is not None:
        doc["diff"] = diff_document(diff, previous_as_of)
    return to_json(doc)


def _flat(res: ScreenResult, ranked_only: bool = False) -> pd.DataFrame:
    cols = [
        "rank",
        "ticker",
        "name",
        "segment",
        "valuation_source",
        "market_cap",
        "price_usd",
        "price_date",
    ]
    for m in METRICS:
        cols += [m, f"{m}_peer", f"{m}_gap", f"{m}_disc_pct"]
    cols += [
        "composite",
        "n_metrics",
        "metrics_used",
        "z_segment",
        "tilt",
        "score",
        "stale",
        "flags",
    ]
    df = res.rows[cols].copy()
    df["rank"] = df["rank"].astype("Int64")
    df["price_date"] = pd.to_datetime(df["price_date"]).dt.date.astype(str).replace("NaT", "")
    df.insert(0, "as_of", res.as_of.date().isoformat())
    return df[df["rank"].notna()] if ranked_only else df


def screen_csv(res: ScreenResult, diff: pd.DataFrame | None = None) -> str:
    """The screen as CSV; with ``diff`` (:func:`diff_screens`) each row also carries its
    previous rank and score, the change and why (the CSV stays one table)."""
    flat = _flat(res)
    if diff is not None:
        extra = diff.set_index("ticker")[["previous_rank", "previous_score", "change", "why"]]
        flat = flat.join(extra, on="ticker")
        flat["change"] = flat["change"].fillna("unranked")
    return flat.to_csv(index=False, float_format="%.6g", lineterminator="\n")


def watchlist_format(path: str | Path, fmt: str | None) -> str:
    """The watchlist format: ``fmt`` if given, else the one the extension implies; a format
    that contradicts the extension (CSV text in ``w.xlsx``) is refused."""
    ext = Path(path).suffix.lower()
    implied = _EXTENSION_FORMATS.get(ext)
    if fmt is None:
        if implied is None:
            raise InputError(
                f"--export {path}: cannot tell the format from the extension {ext or '(none)'!r}; "
                f"pass --watchlist-format ({'|'.join(WATCHLIST_FORMATS)})"
            )
        return implied[0]
    if fmt not in WATCHLIST_FORMATS:
        raise InputError(
            f"--watchlist-format must be one of {', '.join(WATCHLIST_FORMATS)} (got {fmt!r})"
        )
    if implied is not None and fmt not in implied:
        raise InputError(
            f"--export {path}: the extension {ext} says {implied[0]} but --watchlist-format is "
            f"{fmt}; change one of them"
        )
    return fmt


def write_bytes(data: bytes, path: str | Path) -> None:
    """Atomic write (temporary file in the same folder, then rename)."""
    atomic_write_bytes(data, check_output_file(path))


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Cells as Excel types: dates as dates, numbers as float64 rounded to 7 significant digits
    (the precision of the float32 prices some sources give: 7.795, not 7.79500007629),
    integers as integers."""
    out = df.copy()
    for c in ("as_of", "price_date"):
        if c in out:
            out[c] = pd.to_datetime(out[c].replace("", None)).dt.date
    for c in out.columns:
        col = out[c]
        if pd.api.types.is_float_dtype(col):
            v = col.to_numpy(dtype="float64")
            with np.errstate(divide="ignore", invalid="ignore"):
                digits = 6 - np.floor(np.log10(np.abs(np.where(v == 0, 1.0, v))))
            out[c] = [
                round(float(x), int(d)) if np.isfinite(x) else None
                for x, d in zip(v, np.nan_to_num(digits), strict=True)
            ]
    return out


def _format_sheet(ws) -> None:
    """Frozen header, a filter on every column, widths that fit the content."""
    from openpyxl.utils import get_column_letter

    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    for i, col in enumerate(ws.iter_cols(min_row=1, max_row=ws.max_row), start=1):
        width = max(len(str(c.value)) if c.value is not None else 0 for c in col)
        ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
        for c in col[1:]:
            if isinstance(c.value, float):
                c.number_format = "0.000"
            elif hasattr(c.value, "year"):
                c.number_format = "yyyy-mm-dd"


def _xlsx(res: ScreenResult) -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        _typed(_flat(res, ranked_only=True)).to_excel(xw, sheet_name="screen", index=False)
        _typed(res.segments).to_excel(xw, sheet_name="segments", index=False)
        for ws in xw.book.worksheets:
            _format_sheet(ws)
        xw.book.properties.created = pd.Timestamp("2020-01-01").to_pydatetime()
    # openpyxl stamps zip entries with the current time: rewrite them with a fixed one
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            zi = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" on save
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2020-01-01T00:00:00Z", data
                )
            z.writestr(zi, data)
    return out.getvalue()


def write_watchlist(res: ScreenResult, universe: Universe, path: str | Path, fmt: str) -> int:
    """Write the ranked names (in rank order) as a watchlist; returns how many names."""
    if fmt not in WATCHLIST_FORMATS:
        raise InputError(
            f"unknown watchlist format {fmt!r}; choose from {', '.join(WATCHLIST_FORMATS)}"
        )
    ranked = res.rows[res.rows["rank"].notna()]
    tickers = ranked["ticker"].tolist()
    if fmt == "txt":
        data = "".join(f"{t}\n" for t in tickers).encode()
    elif fmt == "tradingview":
        data = "".join(f"{universe[t].tradingview}\n" for t in tickers).encode()
    elif fmt == "csv":
        data = (
            _flat(res, ranked_only=True)
            .to_csv(index=False, float_format="%.6g", lineterminator="\n")
            .encode()
        )
    elif fmt == "json":
        doc = screen_document(res)
        doc["rows"] = [r for r in doc["rows"] if r["rank"] is not None]
        data = to_json(doc).encode()
    else:
        data = _xlsx(res)
    write_bytes(data, path)
    return len(tickers)


def archive_path(folder: str | Path, as_of: pd.Timestamp) -> Path:
    return Path(folder) / f"screen-{as_of.date().isoformat()}.json"


def load_screen_json(path: str | Path) -> dict:
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"previous screen not found: {p}") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read previous screen {p}: {e}") from None
    if not isinstance(doc, dict) or "rows" not in doc or "as_of" not in doc:
        raise InputError(f"{p} is not an aigap screen (JSON with as_of and rows)")
    return doc


def _reason(flags: str, *, entered: bool) -> str:
    """The category of an entry or exit, from the flags of the side where it was unranked:
    filtered (a screen filter), stale (old prices or figures), or data (valuation inputs came
    or went)."""
    if "excluded:" in flags:
        return "was filtered" if entered else "filtered"
    if "stale" in flags or "too old" in flags:
        return "was stale" if entered else "stale"
    return "new data" if entered else "no data"


def _flags_text(row: dict) -> str:
    flags = row.get("flags") or []
    return "; ".join(flags) if isinstance(flags, list) else str(flags)


def diff_screens(previous: dict, current: dict) -> pd.DataFrame:
    """Names that entered, left, or moved in rank and score between two screen documents, and
    why a name entered or left: its flags on the side where it was not ranked (no valuation
    data, a stale price, filtered out, ...), or "not in the previous screen"."""
    old = {r["ticker"]: r for r in previous["rows"]}
    new = {r["ticker"]: r for r in current["rows"]}
    ranked_old = {t for t, r in old.items() if r.get("rank") is not None}
    ranked_new = {t for t, r in new.items() if r.get("rank") is not None}

    def rank(side: dict, t: str):
        return side.get(t, {}).get("rank")

    rows = []
    for t in sorted(
        ranked_old | ranked_new, key=lambda t: (rank(new, t) or 10**6, rank(old, t) or 0)
    ):
        o, n = rank(old, t), rank(new, t)
        if o is None:
            change = "entered"
            before = _flags_text(old[t]) if t in old else ""
            why = (
                f"{_reason(before, entered=True)} (previously: {before})"
                if t in old
                else "new data (not in the previous screen)"
            )
        elif n is None:
            change = "left"
            now = _flags_text(new[t]) if t in new else ""
            why = (
                f"{_reason(now, entered=False)} (now: {now})"
                if t in new
                else "not in this universe"
            )
        else:
            change = "unchanged" if n == o else ("up" if n < o else "down")
            why = ""
        so, sn = old.get(t, {}).get("score"), new.get(t, {}).get("score")
        rows.append(
            {
                "ticker": t,
                "previous_rank": o,
                "rank": n,
                "change": change,
                "moved": None if o is None or n is None else o - n,
                "previous_score": so,
                "score": sn,
                "why": why or "",
            }
        )
    cols = ["ticker", "previous_rank", "rank", "change", "moved", "previous_score", "score", "why"]
    df = pd.DataFrame(rows, columns=cols)
    return df.astype({"previous_rank": "Int64", "rank": "Int64", "moved": "Int64",
                      "previous_score": "Float64", "score": "Float64"})  # fmt: skip


def write_text(text: str, path: str | Path) -> None:
    atomic_write_text(text, check_output_file(path))


def _gap_records(rows: pd.DataFrame) -> list[dict]:
    out = []
    for r in rows.to_dict("records"):
        out.append(
            {
                "date": iso_day(r["date"]),
                "segment": r["segment"],
                "metric": r["metric"],
                "china_median": _num(r["china_median"]),
                "us_median": _num(r["us_median"]),
                "china_n": int(r["china_n"]),
                "us_n": int(r["us_n"]),
                "gap_pct": _num(r["gap_pct"]),
                "log_gap": _num(r["log_gap"]),
                "thin": bool(r["thin"]),
            }
        )
    return out


def gap_json(rows: pd.DataFrame) -> str:
    """``aigap gap --format json``: a list of rows with the gap-view keys."""
    return to_json(_gap_records(rows), sort_keys=False)


def gap_csv(rows: pd.DataFrame) -> str:
    return pd.DataFrame(_gap_records(rows)).to_csv(
        index=False, float_format="%.6g", lineterminator="\n"
    )
