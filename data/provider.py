"""What ``aigap data update`` needs from a live data source (Yahoo Finance through yfinance is
the one implementation, :class:`data.yfinance_provider.YFinanceProvider`; tests pass fakes)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import pandas as pd

__all__ = ["Provider"]


class Provider(Protocol):
    def download_prices(
        self,
        tickers: Iterable[str],
        start: str,
        end: str | None = None,
        on_chunk: Callable[[int], None] | None = None,
    ) -> Any:
        """A batch with ``frames`` (ticker -> daily frame), ``failures`` and ``partial``."""

    def info(self, ticker: str) -> dict[str, Any]:
        """The quote's current valuation fields (``Ticker.info``)."""

    def annual_statements(self, ticker: str, currency: str, lag_days: int) -> pd.DataFrame:
        """Annual income statement rows in the fundamentals layout."""

    def valuation_measures(self, ticker: str) -> pd.DataFrame:
        """Period-end multiples, long: ``ticker period metric value``."""
