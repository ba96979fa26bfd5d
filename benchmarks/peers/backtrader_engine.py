"""Backtrader: one Cerebro, one data feed per asset, shared cash; signals as extra lines."""

from __future__ import annotations

import collections
import collections.abc
import time
from typing import Any

import polars as pl

for _name in ("Iterable", "Mapping", "MutableMapping", "Sequence", "Callable"):
    if not hasattr(collections, _name):  # backtrader 1.9.78 on Python >= 3.10 (see validation)
        setattr(collections, _name, getattr(collections.abc, _name))

import backtrader as bt  # noqa: E402
import pandas as pd  # noqa: E402

from peers.common import CASH, COMMISSION, CROSS_SIZE, D_SIDE, D_WEIGHT  # noqa: E402

__all__ = ["PATHS", "run"]

PATHS = {"cross": ("strategy",), "longshort": ("strategy",)}


class _Data(bt.feeds.PandasData):
    lines = ("entry", "exit", "score")
    params = (("entry", -1), ("exit", -1), ("score", -1), ("openinterest", None))


class _Cross(bt.Strategy):
    def __init__(self) -> None:
        self.n_fills = 0

    def notify_order(self, order: Any) -> None:
        if order.status == order.Completed:
            self.n_fills += 1

    def next(self) -> None:
        for d in self.datas:
            pos = self.getposition(d).size
            if pos == 0 and d.entry[0] > 0:
                self.buy(data=d, size=CROSS_SIZE)
            elif pos != 0 and d.exit[0] > 0:
                self.close(data=d)


class _LongShort(bt.Strategy):
    params = (("n_bars", 0),)  # the workload's bars; the data carry one more (see `run`)

    def __init__(self) -> None:
        self.n_fills = 0

    def notify_order(self, order: Any) -> None:
        if order.status == order.Completed:
            self.n_fills += 1

    def next(self) -> None:
        if len(self) > self.p.n_bars:
            return  # the padding bar: it only lets the broker fill the last bar's orders
        scores = sorted(((d.score[0], i) for i, d in enumerate(self.datas)))
        weights = [0.0] * len(self.datas)
        for _, i in scores[:D_SIDE]:
            weights[i] = -D_WEIGHT
        for _, i in scores[-D_SIDE:]:
            weights[i] = D_WEIGHT
        # sells first, as the other engines do
        targets = []
        for i, d in enumerate(self.datas):
            value = self.broker.getvalue()
            target = weights[i] * value / d.close[0]
            targets.append((target - self.getposition(d).size, i, target))
        for delta, i, target in sorted(targets):
            if delta != 0:
                self.order_target_size(data=self.datas[i], target=target)


def _frame(one: pl.DataFrame, *, pad: bool = False) -> pd.DataFrame:
    # One asset's bars; `pad` repeats the last bar one day later (same prices, volume 0).
    if pad:
        extra = one.tail(1).with_columns(
            pl.col("timestamp") + pl.duration(days=1), pl.lit(0.0).alias("volume")
        )
        one = pl.concat([one, extra])
    cols = [c for c in one.columns if c not in ("asset", "timestamp")]
    return pd.DataFrame(
        {c: one[c].to_numpy() for c in cols}, index=pd.DatetimeIndex(one["timestamp"].to_numpy())
    )


def run(kind: str, bars: pl.DataFrame, path: str) -> dict[str, float]:
    """Run workload `kind` in one Cerebro (market orders; D: cheat-on-close, 0.1%).

    D trades at each bar's close. Backtrader fills a cheat-on-close order at the close of
    the bar it was placed on, but only when its broker processes the next bar; so that the
    last bar's orders fill too, as in the other engines, every data gets one padding bar
    (the last bar repeated a day later) on which the strategy does nothing. The final
    equity is the same: the padding bar's close is the last close.
    """
    start = time.perf_counter()
    cerebro = bt.Cerebro(stdstats=False, maxcpus=1)
    pad = kind == "longshort"
    for asset, one in bars.partition_by("asset", as_dict=True, maintain_order=True).items():
        cerebro.adddata(_Data(dataname=_frame(one, pad=pad)), name=str(asset[0]))
    cerebro.broker.setcash(CASH)
    if kind == "cross":
        cerebro.addstrategy(_Cross)
    else:
        cerebro.broker.set_coc(True)
        cerebro.broker.setcommission(commission=COMMISSION)
        cerebro.addstrategy(_LongShort, n_bars=bars["timestamp"].n_unique())
    (strat,) = cerebro.run(runonce=False, preload=True)
    return {
        "seconds": time.perf_counter() - start,
        "fills": float(strat.n_fills),
        "final_equity": float(cerebro.broker.getvalue()),
    }
