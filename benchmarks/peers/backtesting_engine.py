"""backtesting.py: single-asset only, so a multi-asset workload is one Backtest per asset.

Each Backtest gets the whole CASH (a 1/n share of it is too little to buy 100 units of a
$200 stock once n is in the hundreds, and backtesting.py then cancels the order); since no
engine ever runs short of cash on these workloads, the shared account's final equity is
CASH plus the sum of every asset's P&L, and fills are summed.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from backtesting import Backtest, Strategy

from peers.common import CASH, CROSS_SIZE

__all__ = ["PATHS", "run"]

PATHS = {"cross": ("strategy",)}


class _Cross(Strategy):
    def init(self) -> None:
        pass

    def next(self) -> None:
        if not self.position and self.data.entry[-1] > 0:
            self.buy(size=int(CROSS_SIZE))
        elif self.position and self.data.exit[-1] > 0:
            self.position.close()


def _frame(one: pl.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Open": one["open"].to_numpy(),
            "High": one["high"].to_numpy(),
            "Low": one["low"].to_numpy(),
            "Close": one["close"].to_numpy(),
            "Volume": one["volume"].to_numpy(),
            "entry": one["entry"].to_numpy(),
            "exit": one["exit"].to_numpy(),
        },
        index=pd.DatetimeIndex(one["timestamp"].to_numpy()),
    )


def run(kind: str, bars: pl.DataFrame, path: str) -> dict[str, float]:
    """Run the cross workload asset by asset."""
    start = time.perf_counter()
    parts = bars.partition_by("asset", maintain_order=True)
    fills = 0
    pnl = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for one in parts:
            stats: Any = Backtest(_frame(one), _Cross, cash=CASH).run()
            fills += 2 * len(stats["_trades"]) + len(stats["_strategy"].trades)
            pnl += float(stats["Equity Final [$]"]) - CASH
    return {
        "seconds": time.perf_counter() - start,
        "fills": float(fills),
        "final_equity": float(np.round(CASH + pnl, 6)),
    }
