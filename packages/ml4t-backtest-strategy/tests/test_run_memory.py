"""A run restores the collector's thresholds and frees its state without a cyclic collection."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import numpy as np
import pytest

from ml4t.backtest.core.datasets import sample_feed
from ml4t.backtest.core.errors import StrategyError
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.engine import BacktestEngine
from ml4t.backtest.strategy.strategy import Strategy


class Grab(Strategy):
    """Rebalances into the top 3 by close; keeps weak references to the run's state."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.refs: list[weakref.ref[Any]] = []

    def on_start(self, ctx: Any) -> None:
        run = self.api
        self.refs = [weakref.ref(run), weakref.ref(run._broker)]

    def on_bar(self, bar: Any) -> None:
        if bar.index == self.fail_at:
            raise RuntimeError("stop")
        weights = np.zeros(len(bar.assets))
        weights[np.argsort(bar.close)[-3:]] = 0.3
        self.rebalance(weights)


@pytest.mark.parametrize("fail_at", [None, 40])
def test_run_restores_gc_thresholds_and_frees_its_state(fail_at: int | None) -> None:
    feed = sample_feed(["AAPL", "JPM", "XOM", "KO", "PG"], end="2014-06-30")
    before = gc.get_threshold()
    strategy = Grab(fail_at)
    engine = BacktestEngine(feed, strategy, BacktestConfig(initial_cash=1e6))
    gc.disable()
    try:
        if fail_at is None:
            result = engine.run()
            assert result.fills.height > 0
        else:
            failed = False
            try:
                engine.run()
            except StrategyError:  # (no pytest.raises: it would keep the traceback alive)
                failed = True
            assert failed
            assert engine.partial_result is not None
        assert gc.get_threshold() == before
        # freed by reference counting alone (the collector is off): no cycle keeps them
        assert [ref() is None for ref in strategy.refs] == [True, True]
    finally:
        gc.enable()
