"""Whole runs with the batch lanes on equal whole runs with every order booked one by one.

A daily rebalance sends tens of market orders per bar. Three lanes handle them as arrays:
the broker's `submit_many` checks (with `Portfolio.check_orders`), its batch fill
(`execution._batch_fill`) and `Portfolio.apply_fills` for fills on distinct assets. Turning
all three off must leave every frame and metric of the result unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from polars.testing import assert_frame_equal

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.execution import broker as broker_module
from ml4t.backtest.portfolio import portfolio as portfolio_module
from ml4t.backtest.portfolio.portfolio import Portfolio
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.engine import BacktestEngine
from ml4t.backtest.strategy.strategy import Strategy

DAY = 86_400 * 10**9
FRAMES = ("equity_curve", "trades", "fills", "orders", "positions")


class TopBottom(Strategy):
    """Long the top `n`, short the bottom `n` (when `short`) by `score`, every bar."""

    def __init__(self, n: int, short: bool, gross: float) -> None:
        self.n = n
        self.short = short
        self.gross = gross

    def on_bar(self, bar: Any) -> None:
        order = np.argsort(bar.signals["score"], kind="stable")
        weights = np.zeros(order.shape[0])
        sides = 2 if self.short else 1
        weights[order[-self.n :]] = self.gross / (sides * self.n)
        if self.short:
            weights[order[: self.n]] = -self.gross / (sides * self.n)
        self.rebalance(weights)


def _feed(seed: int, n_t: int = 60, n_a: int = 40) -> DataFeed:
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (n_t, n_a)), axis=0))
    open_ = close * np.exp(rng.normal(0.0, 0.005, (n_t, n_a)))
    high = np.maximum(open_, close) * 1.01
    low = np.minimum(open_, close) * 0.99
    score = np.cumsum(rng.normal(size=(n_t, n_a)), axis=0)
    fields = {
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "volume": np.full((n_t, n_a), 1e6),
        "score": score,
    }
    ts = 19_000 * DAY + np.arange(n_t, dtype=np.int64) * DAY
    return DataFeed(ts, [f"S{j:02d}" for j in range(n_a)], fields, signal_names=["score"])


CONFIGS: dict[str, dict[str, Any]] = {
    "margin_long_short": {
        "account": {"policy": "margin", "allow_short": True},
        "commission": {"kind": "per_share", "per_share": 0.005, "minimum": 1.0},
        "slippage": {"kind": "fixed_bps", "bps": 2.0},
    },
    "cash_resize_percent": {
        "commission": {"kind": "percent", "rate": 0.001},
        "cash_shortfall": "resize",
        "share_rounding": "fractional",
    },
    "same_close_levered": {
        "fill_timing": "same_close",
        "account": {"policy": "margin", "allow_short": True},
        "commission": {"kind": "percent", "rate": 0.0005, "minimum": 1.0},
        "cash_shortfall": "resize",
    },
}


def _run(feed: DataFeed, name: str, short: bool, gross: float) -> Any:
    config = BacktestConfig(initial_cash=250_000.0, **CONFIGS[name])
    return BacktestEngine(feed, TopBottom(8, short, gross), config).run()


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("seed", range(3))
def test_batch_lanes_leave_every_result_unchanged(
    name: str, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = _feed(seed)
    short = name != "cash_resize_percent"
    gross = 1.9 if name == "same_close_levered" else 0.98  # near the limits: some resizes
    fast = _run(feed, name, short, gross)
    with monkeypatch.context() as m:
        m.setattr(broker_module, "BATCH_MIN", 10**9)
        m.setattr(portfolio_module, "_BATCH_MIN", 10**9)
        m.delattr(Portfolio, "check_orders")
        slow = _run(feed, name, short, gross)
    assert fast.fills.height > 200  # the scenario trades a lot
    for frame in FRAMES:
        assert_frame_equal(getattr(fast, frame), getattr(slow, frame), check_exact=True)
    assert fast.metrics == slow.metrics or str(fast.metrics) == str(slow.metrics)
