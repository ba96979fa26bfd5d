"""Backtrader runs of the validation scenarios (peer side).

Every run feeds backtrader the same bars ml4t-backtest sees, plus the precomputed signal columns
(`entry`, `exit`) as extra lines, and records each completed order as one fill. Backtrader
labels a daily bar at its session end (23:59:59.999989); fills are relabelled with the bar's
date, the convention of the suite.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import polars as pl

from validation.common import RunResult, fills_frame
from validation.compat import apply_backtrader_shim
from validation.datasets import to_pandas_ohlcv

apply_backtrader_shim()

import backtrader as bt  # noqa: E402

__all__ = ["VERSION", "run_backtrader", "run_backtrader_sweep"]

VERSION = f"backtrader {bt.__version__}"


class _SignalData(bt.feeds.PandasData):
    # OHLCV plus the suite's signal columns as extra lines.
    lines = ("entry", "exit")
    params = (("entry", "entry"), ("exit", "exit"), ("openinterest", None))


class _Recorder(bt.Strategy):
    # Calls `logic(self)` every bar; records every completed order as one fill.
    params = (("logic", None), ("state", None), ("daily", True))

    def __init__(self) -> None:
        self.fills: list[tuple[datetime, str, int, float, float]] = []
        self.st: dict[str, Any] = dict(self.p.state or {})

    def notify_order(self, order: Any) -> None:
        if order.status == order.Completed:
            dt = bt.num2date(order.executed.dt)
            if self.p.daily:
                dt = datetime(dt.year, dt.month, dt.day)
            side = 1 if order.isbuy() else -1
            self.fills.append(
                (dt, order.data._name, side, abs(order.executed.size), order.executed.price)
            )
        if hasattr(self, "on_order"):
            self.on_order(order)

    def next(self) -> None:
        self.p.logic(self)


def _cerebro(
    bars: pl.DataFrame,
    *,
    cash: float,
    broker: Callable[[Any], None] | None,
) -> Any:
    cerebro = bt.Cerebro(stdstats=False, maxcpus=1)
    for asset in bars["asset"].unique(maintain_order=True).to_list():
        one = to_pandas_ohlcv(bars.filter(pl.col("asset") == asset))
        cerebro.adddata(_SignalData(dataname=one), name=asset)
    cerebro.broker.setcash(cash)
    if broker is not None:
        broker(cerebro)
    return cerebro


def run_backtrader(
    bars: pl.DataFrame,
    logic: Callable[[Any], None],
    *,
    cash: float = 100_000.0,
    broker: Callable[[Any], None] | None = None,
    daily: bool = True,
    state: dict[str, Any] | None = None,
    sizer: tuple[Any, dict[str, Any]] | None = None,
) -> RunResult:
    """Run `logic` (called as ``logic(strategy)`` each bar) in backtrader on `bars`."""
    cerebro = _cerebro(bars, cash=cash, broker=broker)
    if sizer is not None:
        cerebro.addsizer(sizer[0], **sizer[1])
    cerebro.addstrategy(_Recorder, logic=logic, daily=daily, state=state)
    (strat,) = cerebro.run()
    return RunResult(
        engine=VERSION,
        fills=fills_frame(strat.fills),
        final_equity=float(cerebro.broker.getvalue()),
    )


class _SmaSweep(bt.Strategy):
    # The optimizer's strategy: SMA(fast)/SMA(slow) crossover with backtrader's own indicators,
    # buy `size` on a cross above, close on a cross below (market orders, next open).
    params = (("fast", 10), ("slow", 30), ("size", 100))

    def __init__(self) -> None:
        fast = bt.indicators.SMA(self.data.close, period=self.p.fast)
        slow = bt.indicators.SMA(self.data.close, period=self.p.slow)
        self.cross = bt.indicators.CrossOver(fast, slow)
        self.n_fills = 0

    def notify_order(self, order: Any) -> None:
        if order.status == order.Completed:
            self.n_fills += 1

    def next(self) -> None:
        if not self.position and self.cross[0] > 0:
            self.buy(size=self.p.size)
        elif self.position and self.cross[0] < 0:
            self.close()

    def stop(self) -> None:
        self.final_value = self.broker.getvalue()


def run_backtrader_sweep(
    bars: pl.DataFrame,
    fasts: list[int],
    slows: list[int],
    *,
    size: float = 100,
    cash: float = 100_000.0,
) -> dict[str, tuple[int, float]]:
    """Run Backtrader's optimizer (`optstrategy`) over fast x slow SMA windows.

    Returns:
        ``"fast=F,slow=S"`` -> (number of fills, final value), one entry per run.
    """
    cerebro = bt.Cerebro(stdstats=False, maxcpus=1, optreturn=False)
    one = to_pandas_ohlcv(bars)
    cerebro.adddata(bt.feeds.PandasData(dataname=one, openinterest=None))
    cerebro.broker.setcash(cash)
    cerebro.optstrategy(_SmaSweep, fast=fasts, slow=slows, size=[size])
    out: dict[str, tuple[int, float]] = {}
    for (strat,) in cerebro.run():
        out[f"fast={strat.p.fast},slow={strat.p.slow}"] = (strat.n_fills, float(strat.final_value))
    return out
