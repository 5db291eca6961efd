"""backtrader's broker replaying order weights (the independent accounting the kernel is checked
against in ``tests/test_kernel.py`` and timed against in ``bench/run.py``).

Cheat-on-close fills a market order at the close of the bar it is sent on, sized here like
vectorbt's ``targetpercent``: ``weight x value / close - position`` with the value at that
close.  backtrader reports its value at a close before that close's fills, which happen at the
same price, so without fees, slippage or borrow the equity series are the same.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def replay(close: pd.DataFrame, weights: np.ndarray, cash: float) -> np.ndarray:
    """Equity at each close of ``close`` (one column per leg, no NaN) when the order weights
    ``weights`` (``T x legs``, NaN where no order) are sent at that close."""
    import backtrader as bt

    class Replay(bt.Strategy):
        def __init__(self) -> None:
            self.equity: list[float] = []

        def next(self) -> None:
            t = len(self) - 1
            value = self.broker.getvalue()
            self.equity.append(value)
            for leg, d in enumerate(self.datas):
                if not np.isnan(weights[t, leg]):
                    size = weights[t, leg] * value / d.close[0] - self.getposition(d).size
                    if size > 0:
                        self.buy(data=d, size=size)
                    elif size < 0:
                        self.sell(data=d, size=-size)

    cerebro = bt.Cerebro(stdstats=False)
    for leg in close.columns:
        px = pd.DataFrame({c: close[leg] for c in ("open", "high", "low", "close")})
        cerebro.adddata(bt.feeds.PandasData(dataname=px.assign(volume=0.0)), name=str(leg))
    cerebro.broker.setcash(cash)
    cerebro.broker.set_coc(True)
    cerebro.broker.set_checksubmit(False)
    cerebro.addstrategy(Replay)
    return np.array(cerebro.run()[0].equity)
