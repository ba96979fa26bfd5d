"""VectorBT: `Portfolio.from_signals` (A-C, signals shifted one bar, price = open) and
`Portfolio.from_orders` with target percents (D)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import polars as pl
import vectorbt as vbt

from peers.common import CASH, COMMISSION, CROSS_SIZE, D_SIDE, D_WEIGHT

__all__ = ["PATHS", "run"]

PATHS = {"cross": ("from_signals",), "longshort": ("from_orders",)}


def _wide(bars: pl.DataFrame, column: str) -> pd.DataFrame:
    w = bars.pivot(on="asset", index="timestamp", values=column).sort("timestamp")
    cols = [c for c in w.columns if c != "timestamp"]
    return pd.DataFrame(
        np.column_stack([w[c].to_numpy() for c in cols]),
        index=pd.DatetimeIndex(w["timestamp"].to_numpy()),
        columns=cols,
    )


def run(kind: str, bars: pl.DataFrame, path: str) -> dict[str, float]:
    """Run workload `kind`; every column trades from one shared cash account."""
    start = time.perf_counter()
    close = _wide(bars, "close")
    if kind == "cross":
        entries = (_wide(bars, "entry") > 0).shift(1, fill_value=False)
        exits = (_wide(bars, "exit") > 0).shift(1, fill_value=False)
        pf = vbt.Portfolio.from_signals(
            close,
            entries,
            exits,
            price=_wide(bars, "open"),
            size=CROSS_SIZE,
            init_cash=CASH,
            group_by=True,
            cash_sharing=True,
            freq="1D",
        )
    else:
        score = _wide(bars, "score").to_numpy()
        rank = np.argsort(np.argsort(score, axis=1, kind="stable"), axis=1)
        n = score.shape[1]
        weights = np.where(rank >= n - D_SIDE, D_WEIGHT, np.where(rank < D_SIDE, -D_WEIGHT, 0.0))
        pf = vbt.Portfolio.from_orders(
            close,
            pd.DataFrame(weights, index=close.index, columns=close.columns),
            size_type="targetpercent",
            fees=COMMISSION,
            init_cash=CASH,
            group_by=True,
            cash_sharing=True,
            call_seq="auto",
            freq="1D",
        )
    fills = float(len(pf.orders.records))
    equity = float(np.asarray(pf.value())[-1])
    return {"seconds": time.perf_counter() - start, "fills": fills, "final_equity": equity}
