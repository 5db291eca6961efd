"""The live provider: Yahoo Finance through yfinance (the only module that imports yfinance).

* batch price downloads (``yf.download(auto_adjust=False, actions=True)``: ``(Price, Ticker)``
  column MultiIndex; adjusted OHLC computed as yfinance does, the unadjusted close and splits kept);
* ``Ticker.info`` turned into a dated valuation row in USD (``currency`` is the quote's currency,
  ``financialCurrency`` the statements', which differ for ADRs: BABA quotes in USD, reports CNY);
* ``Ticker.get_valuation_measures`` (period-end multiples) and annual income statements.

``yf.download`` never raises for a failed ticker (it logs and returns empty columns), so results
are checked per ticker: empty or partial ones are downloaded again with exponential backoff and
jitter; a ticker that still fails is reported in ``failures`` instead of aborting the batch.
"""

from __future__ import annotations

import logging
import math
import random
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from data.errors import ProviderError
from data.rules import DATA_ENDED_DAYS

__all__ = ["PriceBatch", "YFinanceProvider", "info_to_valuation", "parse_download"]

_FIELDS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Volume": "volume",
    "Close (unadjusted)": "close_unadjusted",
    "Stock Splits": "split",
    "Dividends": "dividend",
}


def _adjusted(sub: pd.DataFrame) -> pd.DataFrame:
    """``auto_adjust=False`` columns to adjusted OHLC, as ``auto_adjust=True`` computes them
    (every price times Adj Close / Close), keeping the unadjusted close."""
    if "Adj Close" not in sub.columns:
        return sub
    sub = sub.copy()
    ratio = sub["Adj Close"] / sub["Close"]
    sub["Close (unadjusted)"] = sub["Close"]
    for c in ("Open", "High", "Low"):
        if c in sub.columns:
            sub[c] = sub[c] * ratio
    sub["Close"] = sub["Adj Close"]
    return sub.drop(columns=["Adj Close", "Capital Gains"], errors="ignore")


@dataclass
class PriceBatch:
    """Per ticker a frame of adjusted ``open high low close volume`` plus ``close_unadjusted``
    (Yahoo's ``Close`` with ``auto_adjust=False``: split-adjusted as of the download, not for
    dividends) and ``split`` (the ``Stock Splits`` ratio on its ex-date, 0 elsewhere)."""

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    #: tickers whose rows end well before the rest of the batch (kept, and said)
    partial: dict[str, str] = field(default_factory=dict)


#: a ticker whose last row is this many calendar days before the batch's last row is partial
#: (longer than the longest exchange holiday: the rule of a series whose data have ended)
PARTIAL_DAYS = DATA_ENDED_DAYS


def short_series(frames: dict[str, pd.DataFrame]) -> dict[str, str]:
    """The frames that end more than :data:`PARTIAL_DAYS` before the latest one."""
    if not frames:
        return {}
    last = {t: pd.Timestamp(f.index.max()) for t, f in frames.items()}
    end = max(last.values())
    return {
        t: f"rows end {d.date()}, {(end - d).days} days before the batch ({end.date()})"
        for t, d in last.items()
        if (end - d).days > PARTIAL_DAYS
    }


class _YFErrors(logging.Handler):
    """Collects what yfinance logs while a download runs (its per-ticker errors: it raises
    none), so that a failure is reported with yfinance's reason."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []
        self._logger = logging.getLogger("yfinance")

    def __enter__(self) -> _YFErrors:
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def reason(self, ticker: str) -> str:
        for m in reversed(self.messages):
            if f"'{ticker}'" in m or m.startswith(f"{ticker}:") or f"${ticker}" in m:
                return m.split("]:", 1)[-1].strip()[:200]
        return ""


def _is_transient(e: BaseException) -> bool:
    name = type(e).__name__
    return (
        "RateLimit" in name
        or isinstance(e, (ConnectionError, TimeoutError, OSError))
        or "Timeout" in name
        or "Connection" in name
        or "RequestException" in name
        or "CurlError" in name
    )


def parse_download(df: pd.DataFrame | None, tickers: list[str]) -> PriceBatch:
    """Split a ``yf.download`` result into one ``open high low close volume`` frame per ticker.

    Accepts the ``(Price, Ticker)`` MultiIndex of yfinance >= 0.2.51 (and flat columns for one
    ticker); a tz-aware index keeps its exchange-local dates."""
    out = PriceBatch()
    if df is None or df.empty:
        for t in tickers:
            out.failures[t] = "no rows returned"
        return out
    idx = pd.DatetimeIndex(df.index)
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    idx = idx.normalize()
    df = df.set_axis(idx, axis=0)
    for t in tickers:
        if isinstance(df.columns, pd.MultiIndex):
            lvl = "Ticker" if "Ticker" in (df.columns.names or []) else 1
            if t not in df.columns.get_level_values(lvl):
                out.failures[t] = "not in the download"
                continue
            sub = df.xs(t, axis=1, level=lvl)
        else:
            sub = df
        sub = _adjusted(sub)
        sub = sub.rename(columns=_FIELDS)[
            [c for c in _FIELDS.values() if c in sub.rename(columns=_FIELDS).columns]
        ]
        sub = sub.astype(float).dropna(subset=["close"])
        sub = sub[sub["close"] > 0]
        if sub.empty:
            out.failures[t] = "no rows returned"
            continue
        sub.index.name = "date"
        out.frames[t] = sub[~sub.index.duplicated(keep="last")].sort_index()
    return out


def info_to_valuation(
    ticker: str, info: dict[str, Any], fx_per_usd: dict[str, float], date: pd.Timestamp
) -> dict[str, Any]:
    """One valuation row in USD from ``Ticker.info``.  Quote items (price, market cap) are in
    ``currency``; statement items (revenue, income, debt, cash, EBITDA) in
    ``financialCurrency``.  Per-share earnings are taken as price / Yahoo's own ``trailingPE``
    and ``forwardPE`` where given, because the currency of ``trailingEps``/``forwardEps`` is not
    reliable for ADRs (yfinance #2699); failing that they are read in the quote currency.
    Raises :class:`ProviderError` when a currency has no FX rate."""
    qc = str(info.get("currency") or "USD").upper()
    fc = str(info.get("financialCurrency") or qc).upper()

    def usd(value: Any, ccy: str) -> float:
        if value is None:
            return math.nan
        try:
            v = float(value)
        except (TypeError, ValueError):
            return math.nan
        if ccy == "USD":
            return v
        rate = fx_per_usd.get(ccy)
        if not rate:
            raise ProviderError(f"{ticker}: no USD/{ccy} rate to convert Ticker.info values")
        return v / rate

    price = info.get("currentPrice", info.get("regularMarketPrice"))
    price_usd = usd(price, qc)

    def eps(pe_key: str, eps_key: str) -> float:
        pe = usd(info.get(pe_key), "USD")  # a ratio: no currency
        if math.isfinite(pe) and pe > 0 and math.isfinite(price_usd):
            return price_usd / pe
        return usd(info.get(eps_key), qc)

    return {
        "date": pd.Timestamp(date).normalize(),
        "usable_from": pd.Timestamp(date).normalize() + pd.offsets.BDay(1),
        "ticker": ticker,
        "source": "yfinance_live",
        "price": price_usd,
        "market_cap": usd(info.get("marketCap"), qc),
        "sales": usd(info.get("totalRevenue"), fc),
        "sales_basis": "ttm",
        "net_income": usd(info.get("netIncomeToCommon"), fc),
        "debt": usd(info.get("totalDebt"), fc),
        "cash": usd(info.get("totalCash"), fc),
        "eps_ttm": eps("trailingPE", "trailingEps"),
        "eps_fwd": eps("forwardPE", "forwardEps"),
        "ebitda": usd(info.get("ebitda"), fc),
        "currency": "USD",
    }


class YFinanceProvider:
    """Live data.  ``yf_module`` and ``sleep`` are injectable so tests never touch the network."""

    def __init__(
        self,
        *,
        yf_module: Any = None,
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        chunk: int = 20,
        seed: int | None = None,
    ) -> None:
        if yf_module is None:
            import yfinance  # the one place yfinance is imported

            # failures are collected (by _YFErrors) and reported by us, one line each: its
            # logger keeps ERROR records for us but prints nothing itself
            log = logging.getLogger("yfinance")
            log.setLevel(logging.ERROR)
            log.propagate = False
            if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
                log.addHandler(logging.NullHandler())
            yf_module = yfinance
        self.yf = yf_module
        self.retries, self.backoff, self.sleep, self.chunk = retries, backoff, sleep, chunk
        self.rng = random.Random(seed)

    def _retry(self, fn: Callable[[], Any]) -> Any:
        for attempt in range(self.retries + 1):
            try:
                with warnings.catch_warnings():  # yfinance's own pandas deprecation noise
                    warnings.simplefilter("ignore")
                    return fn()
            except Exception as e:
                if attempt >= self.retries or not _is_transient(e):
                    raise
                self.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    def download_prices(
        self,
        tickers: Iterable[str],
        start: str,
        end: str | None = None,
        on_chunk: Callable[[int], None] | None = None,
    ) -> PriceBatch:
        """Closes of ``tickers``.  ``yf.download`` never raises for a ticker that fails: it logs
        the error and leaves the ticker's columns empty (yfinance 1.7 ``multi.py``).  So each
        result is checked per ticker: an empty or partial one (ending more than
        :data:`PARTIAL_DAYS` before the batch) is downloaded again, with exponential backoff
        and jitter, up to ``retries`` times; what still fails is reported in ``failures`` with
        yfinance's own message, what is still partial is kept and reported in ``partial``."""
        pending = list(dict.fromkeys(tickers))
        batch = PriceBatch()
        attempts = 0
        while pending:
            got = self._download_once(pending, start, end, on_chunk if attempts == 0 else None)
            attempts += 1
            batch.frames.update(got.frames)
            batch.failures.update(got.failures)
            for t in got.frames:
                batch.failures.pop(t, None)
            batch.partial = short_series(batch.frames)
            pending = [t for t in pending if t in got.failures or t in batch.partial]
            if not pending or attempts > self.retries:
                break
            self.sleep(self.backoff * 2 ** (attempts - 1) * (0.5 + self.rng.random()))
        for t in batch.frames:  # partial first, then failing: the partial rows are kept
            batch.failures.pop(t, None)
        if attempts > 1:
            for t in batch.failures:
                batch.failures[t] += f" (after {attempts} attempts)"
        return batch

    def _download_once(
        self,
        tickers: list[str],
        start: str,
        end: str | None,
        on_chunk: Callable[[int], None] | None,
    ) -> PriceBatch:
        batch = PriceBatch()
        for i in range(0, len(tickers), self.chunk):
            part = tickers[i : i + self.chunk]
            with _YFErrors() as logged:
                try:  # no retry here: download_prices retries what fails, once per round
                    with warnings.catch_warnings():  # yfinance's own pandas deprecation noise
                        warnings.simplefilter("ignore")
                        df = self._download(part, start, end)
                    got = parse_download(df, part)
                except Exception as e:  # yfinance 1.7 catches per ticker; older ones raised
                    got = PriceBatch(failures={t: f"{type(e).__name__}: {e}" for t in part})
            for t in got.failures:
                reason = logged.reason(t)
                if reason:
                    got.failures[t] = f"{got.failures[t]}: {reason}"
            batch.frames.update(got.frames)
            batch.failures.update(got.failures)
            if on_chunk:
                on_chunk(len(part))
        return batch

    def _download(self, part: list[str], start: str, end: str | None) -> pd.DataFrame:
        return self.yf.download(
            part,
            start=start,
            end=end,
            auto_adjust=False,  # Close and Adj Close: traded closes kept
            actions=True,  # Stock Splits and Dividends: stored as corporate actions
            progress=False,
            group_by="column",
            multi_level_index=True,
            threads=True,
        )

    def info(self, ticker: str) -> dict[str, Any]:
        info = self._retry(lambda: self.yf.Ticker(ticker).info)
        if not info:
            raise ProviderError(f"{ticker}: empty Ticker.info")
        return dict(info)

    def valuation_measures(self, ticker: str) -> pd.DataFrame:
        """Long ``(ticker, period, metric, value)`` from ``get_valuation_measures`` (quarterly,
        period-end values, not as first reported: lag them before any backtest use)."""
        vm = self._retry(
            lambda: self.yf.Ticker(ticker).get_valuation_measures(freq="quarterly", periods=None)
        )
        if vm is None or len(vm) == 0:
            return pd.DataFrame(columns=["ticker", "period", "metric", "value"])
        long = vm.rename_axis("metric").reset_index().melt(id_vars="metric", var_name="period")
        long = long[long["period"] != "Current"]
        long["period"] = pd.to_datetime(long["period"], format="mixed")
        long["value"] = pd.to_numeric(long["value"], errors="coerce")
        return long.dropna(subset=["value"]).assign(ticker=ticker)[
            ["ticker", "period", "metric", "value"]
        ]

    def annual_statements(self, ticker: str, currency: str, lag_days: int) -> pd.DataFrame:
        """Annual income statement rows in the fundamentals layout; public date = fiscal year
        end + ``lag_days`` (Yahoo does not give filing dates)."""
        inc = self._retry(lambda: self.yf.Ticker(ticker).income_stmt)
        if inc is None or len(inc) == 0:
            return pd.DataFrame()
        rows = []
        for col in inc.columns:
            end = pd.Timestamp(col).normalize()

            def get(key: str, col: Any = col) -> float:
                return float(inc.at[key, col]) if key in inc.index else math.nan

            rows.append(
                {
                    "ticker": ticker,
                    "fiscal_year": end.year,
                    "period_end": end,
                    "reported_date": pd.NaT,
                    "currency": currency,
                    "revenue": get("Total Revenue") / 1e6,
                    "net_income": get("Net Income Common Stockholders") / 1e6,
                    "diluted_eps": get("Diluted EPS"),
                    "eps_unit": "listed unit",
                    "diluted_shares": get("Diluted Average Shares") / 1e6,
                    "source": "yfinance income_stmt",
                    "public_date": end + pd.Timedelta(days=lag_days),
                    "public_date_basis": f"lag_{lag_days}d",
                    "shares_derived": False,
                }
            )
        return pd.DataFrame(rows)
