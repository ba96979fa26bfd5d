"""`Strategy.order_percent_at_fill`: all in at the next open, sized by the fill price."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.engine import BacktestEngine
from ml4t.backtest.strategy.strategy import Strategy

DAY = 86_400 * 10**9


def _feed(opens: list[float], closes: list[float]) -> DataFeed:
    o = np.array(opens)[:, None]
    c = np.array(closes)[:, None]
    fields = {
        "open": o,
        "high": np.fmax(o, c),
        "low": np.fmin(o, c),
        "close": c,
        "volume": np.full_like(o, 1e6),
    }
    ts = 19_000 * DAY + np.arange(o.shape[0], dtype=np.int64) * DAY
    return DataFeed(ts, ["A"], fields)


class Script(Strategy):
    """Bar 0: short all in; bar 2: cover and go long all in."""

    def on_bar(self, bar: Any) -> None:
        if bar.index == 0:
            self.order_percent_at_fill("A", -1.0)
        elif bar.index == 2:
            self.close_position("A")
            self.order_percent_at_fill("A", 1.0)


def test_a_reversal_is_sized_on_the_cash_the_cover_leaves() -> None:
    # backtesting.py's margin=1 account: the short loses 21 a share by the reversal, which
    # fills at bar 3's open (121) while the account's mark is bar 2's close (118)
    feed = _feed([100.0, 100.0, 115.0, 121.0], [100.0, 110.0, 118.0, 121.0])
    config = BacktestConfig.preset(
        "backtesting.py", initial_cash=10_000.0, commission={"kind": "percent", "rate": 0.002}
    )
    result = BacktestEngine(feed, Script(), config).run()
    fills = result.fills.select("quantity", "price", "commission").rows()
    short = math.floor(10_000.0 / (100.0 * 1.002))
    assert fills[0][:2] == (short, 100.0)  # bar 1's open
    cash = 10_000.0 + short * 100.0 - fills[0][2] - short * 121.0 - fills[1][2]
    assert fills[1][:2] == (short, 121.0)  # the cover, filled first (exits first)
    long = math.floor(cash / (121.0 * 1.002))
    assert fills[2][:2] == (long, 121.0)
    assert long * 121.0 * 1.002 <= cash < (long + 1) * 121.0 * 1.002


def test_bad_percent_and_a_sized_short_without_shorting_are_refused() -> None:
    feed = _feed([100.0, 100.0], [100.0, 100.0])

    class Bad(Strategy):
        def on_bar(self, bar: Any) -> None:
            if bar.index == 0:
                with pytest.raises(ValueError, match="order_percent_at_fill"):
                    self.order_percent_at_fill("A", 1.5)
                self.order_percent_at_fill("A", -0.5)

    config = BacktestConfig(initial_cash=1_000.0, account={"policy": "margin"})
    result = BacktestEngine(feed, Bad(), config).run()
    (row,) = result.orders.rows(named=True)
    assert row["status"] == "REJECTED"
    assert "opens a short" in row["reason"]
    assert result.fills.height == 0


class RandomAllIn(Strategy):
    """Random closes and all-in entries sized at the fill (long only)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_start(self, ctx: Any) -> None:
        self.rng = np.random.default_rng(self.seed)

    def on_bar(self, bar: Any) -> None:
        roll = self.rng.random()
        if roll < 0.3:
            self.close_position("A")
            self.order_percent_at_fill("A", float(self.rng.uniform(0.2, 1.0)))
        elif roll < 0.45:
            self.close_position("A")


@given(seed=st.integers(0, 10_000), rate=st.sampled_from([0.0, 0.001, 0.01]))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_sized_entries_never_overdraw_a_cash_account(seed: int, rate: float) -> None:
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.03, 80)))
    opens = close * np.exp(rng.normal(0.0, 0.02, 80))  # gaps: the fill price is not the close
    config = BacktestConfig(initial_cash=10_000.0, commission={"kind": "percent", "rate": rate})
    result = BacktestEngine(_feed(opens.tolist(), close.tolist()), RandomAllIn(seed), config).run()
    assert result.equity_curve["cash"].min() >= -1e-6  # every entry paid from cash left
    entries = result.orders.filter(pl.col("tag") == "")
    assert entries.filter(pl.col("status") == "REJECTED").height == 0  # none refused for funds
