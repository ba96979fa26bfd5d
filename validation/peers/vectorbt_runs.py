"""VectorBT runs of the validation scenarios (peer side): `Portfolio.from_signals` and
`Portfolio.from_orders`; fills come from the portfolio's order records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import vectorbt as vbt

from validation.common import RunResult, fills_frame

__all__ = ["VERSION", "run_vbt_orders", "run_vbt_signals", "wide"]

VERSION = f"vectorbt {vbt.__version__}"


def wide(bars: pl.DataFrame, column: str) -> pd.DataFrame:
    """Pivot one column to a (timestamps x assets) pandas frame."""
    w = bars.pivot(on="asset", index="timestamp", values=column).sort("timestamp")
    idx = pd.DatetimeIndex(w["timestamp"].to_numpy())
    cols = [c for c in w.columns if c != "timestamp"]
    return pd.DataFrame({c: w[c].to_numpy() for c in cols}, index=idx)


def _fills(pf: Any) -> list[tuple[datetime, str, int, float, float]]:
    rec = pf.orders.records_readable
    rows = []
    for r in rec.itertuples():
        ts = pd.Timestamp(r.Timestamp).to_pydatetime().replace(tzinfo=None)
        col = r.Column
        side = 1 if str(r.Side) == "Buy" else -1
        rows.append((ts, str(col), side, float(r.Size), float(r.Price)))
    return rows


def _final_value(pf: Any) -> float:
    v = pf.value()
    if isinstance(v, pd.DataFrame):
        return float(v.iloc[-1].sum())
    return float(v.iloc[-1])


def run_vbt_signals(bars: pl.DataFrame, *, next_open: bool = True, **kwargs: Any) -> RunResult:
    """`Portfolio.from_signals` on the `entry`/`exit` columns.

    With `next_open` the signals are shifted one bar and filled at that bar's open (vectorbt's
    documented way to avoid look-ahead); otherwise they fill at the signal bar's close.
    """
    close = wide(bars, "close")
    entries = wide(bars, "entry").fillna(0.0) > 0
    exits = wide(bars, "exit").fillna(0.0) > 0
    if next_open:
        entries = entries.shift(1, fill_value=False)
        exits = exits.shift(1, fill_value=False)
        kwargs.setdefault("price", wide(bars, "open"))
    kwargs.setdefault("init_cash", 100_000.0)
    kwargs.setdefault("freq", "1D")
    pf = vbt.Portfolio.from_signals(close, entries, exits, **kwargs)
    return RunResult(engine=VERSION, fills=fills_frame(_fills(pf)), final_equity=_final_value(pf))


def run_vbt_orders(bars: pl.DataFrame, size: pd.DataFrame, **kwargs: Any) -> RunResult:
    """`Portfolio.from_orders` with a (timestamps x assets) `size` frame (NaN: no order)."""
    close = wide(bars, "close")
    kwargs.setdefault("init_cash", 100_000.0)
    kwargs.setdefault("freq", "1D")
    pf = vbt.Portfolio.from_orders(close, size.reindex_like(close), **kwargs)
    value = pf.value()
    final = float(np.asarray(value)[-1].sum()) if np.ndim(value) > 1 else float(value.iloc[-1])
    return RunResult(engine=VERSION, fills=fills_frame(_fills(pf)), final_equity=final)
