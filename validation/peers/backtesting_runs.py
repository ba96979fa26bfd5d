"""backtesting.py runs of the validation scenarios (peer side).

backtesting.py reports round trips (`stats["_trades"]`); each becomes an entry fill and an exit
fill. Trades still open at the end (backtesting.py 0.6 keeps them open unless
``finalize_trades=True``) contribute their entry fill only, read from the strategy's broker.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import backtesting
import numpy as np
import polars as pl
from backtesting import Backtest, Strategy
from backtesting.lib import FractionalBacktest

from validation.common import RunResult, fills_frame
from validation.datasets import to_pandas_ohlcv

__all__ = ["VERSION", "run_backtesting"]

VERSION = f"backtesting.py {backtesting.__version__}"


def _ts(x: Any) -> datetime:
    return x.to_pydatetime().replace(tzinfo=None)


def run_backtesting(
    bars: pl.DataFrame,
    logic: Callable[[Any], None],
    *,
    cash: float = 100_000.0,
    fractional_unit: float | None = None,
    **kwargs: Any,
) -> RunResult:
    """Run `logic` (called as ``logic(strategy)`` each bar) in backtesting.py on `bars`.

    `kwargs` go to `Backtest` (commission, trade_on_close, exclusive_orders, ...).
    """
    asset = bars["asset"][0]
    data = to_pandas_ohlcv(bars, capitalized=True)
    data = data.rename(columns={"Entry": "entry", "Exit": "exit"})
    strategy = type(
        "ScenarioStrategy",
        (Strategy,),
        {"init": lambda self: None, "next": logic},
    )
    if fractional_unit is not None:
        bt = FractionalBacktest(
            data, strategy, cash=cash, fractional_unit=fractional_unit, **kwargs
        )
    else:
        bt = Backtest(data, strategy, cash=cash, **kwargs)
    stats = bt.run()
    rows: list[tuple[datetime, str, int, float, float]] = []
    trades = stats["_trades"]
    for t in trades.itertuples():
        side = 1 if t.Size > 0 else -1
        rows.append((_ts(t.EntryTime), asset, side, abs(t.Size), float(t.EntryPrice)))
        rows.append((_ts(t.ExitTime), asset, -side, abs(t.Size), float(t.ExitPrice)))
    unit = fractional_unit or 1.0
    for t in stats["_strategy"].trades:  # still open at the end
        side = 1 if t.size > 0 else -1
        rows.append((_ts(t.entry_time), asset, side, abs(t.size) * unit, t.entry_price / unit))
    equity = float(stats["Equity Final [$]"])
    return RunResult(
        engine=VERSION,
        fills=fills_frame(rows),
        final_equity=equity,
        extra={
            "n_closed_trades": float(len(trades)),
            "commissions": float(np.nansum(stats.get("Commissions [$]", 0.0))),
        },
    )
