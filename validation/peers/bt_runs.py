"""bt (pmorissette/bt) runs of the validation scenarios (peer side)."""

from __future__ import annotations

from datetime import datetime

import bt
import pandas as pd
import polars as pl

from validation.common import RunResult, fills_frame
from validation.peers.vectorbt_runs import wide

__all__ = ["VERSION", "run_bt_monthly_equal_weight"]

VERSION = f"bt {bt.__version__}"


def run_bt_monthly_equal_weight(bars: pl.DataFrame, *, cash: float = 1_000_000.0) -> RunResult:
    """bt's canonical strategy: RunMonthly, SelectAll, WeighEqually, Rebalance (close prices,
    integer positions, no commission)."""
    prices = wide(bars, "close")
    strategy = bt.Strategy(
        "ew",
        [
            bt.algos.RunMonthly(),
            bt.algos.SelectAll(),
            bt.algos.WeighEqually(),
            bt.algos.Rebalance(),
        ],
    )
    test = bt.Backtest(
        strategy, prices, initial_capital=cash, integer_positions=True, progress_bar=False
    )
    res = bt.run(test)
    tx = res.get_transactions()
    rows: list[tuple[datetime, str, int, float, float]] = []
    for (day, sec), r in tx.iterrows():
        q = float(r["quantity"])
        ts = pd.Timestamp(day).to_pydatetime().replace(tzinfo=None)
        rows.append((ts, str(sec), 1 if q > 0 else -1, abs(q), float(r["price"])))
    final = float(test.strategy.values.iloc[-1])
    return RunResult(engine=VERSION, fills=fills_frame(rows), final_equity=final)
