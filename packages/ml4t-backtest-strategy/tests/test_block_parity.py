"""Whole runs with rebalances held as order blocks equal whole runs with `Order` objects.

`Strategy.rebalance` submits through `SimulationBroker.submit_block` when the book is empty:
the orders stay columns until the next open fills them (or something reads them). Turning
blocks off (every rebalance through `submit_many`) must leave every frame and metric of the
result unchanged, also when the strategy reads the returned orders, cancels one, asks for
its open orders, sends orders of its own, listens to fills, or the feed misses bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from polars.testing import assert_frame_equal

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.execution.broker import SimulationBroker
from ml4t.backtest.strategy import engine as engine_module
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.engine import BacktestEngine
from ml4t.backtest.strategy.strategy import Strategy

DAY = 86_400 * 10**9
FRAMES = ("equity_curve", "trades", "fills", "orders", "positions")


class Rotation(Strategy):
    """Top/bottom `n` by `score` every bar; `poke` > 0 also touches the book at random."""

    def __init__(self, n: int, short: bool, poke: int, seed: int) -> None:
        self.n = n
        self.short = short
        self.poke = poke
        self.rng = np.random.default_rng(seed)
        self.last: Sequence[Any] = []
        self.seen_fills = 0

    def on_bar(self, bar: Any) -> None:
        order = np.argsort(bar.signals["score"], kind="stable")
        weights = np.zeros(order.shape[0])
        sides = 2 if self.short else 1
        weights[order[-self.n :]] = 0.95 / (sides * self.n)
        if self.short:
            weights[order[: self.n]] = -0.95 / (sides * self.n)
        if self.poke:
            self._touch(bar)
        self.last = self.rebalance(weights)

    def _touch(self, bar: Any) -> None:
        roll = int(self.rng.integers(0, 4 * self.poke))
        if roll == 0 and len(self.last):
            _ = self.last[0].status  # read an order of the last rebalance
        elif roll == 1:
            for order in self.open_orders():
                self.cancel(order.order_id)
        elif roll == 2:
            self.buy(bar.assets[int(self.rng.integers(0, len(bar.assets)))], 3.0)

    def on_fill(self, fill: Any) -> None:
        self.seen_fills += 1


class QuietRotation(Rotation):
    """Rotation without `on_fill` (no fill events kept)."""

    on_fill = Strategy.on_fill


def _feed(seed: int, n_t: int = 80, n_a: int = 30, gaps: bool = False) -> DataFeed:
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (n_t, n_a)), axis=0))
    open_ = close * np.exp(rng.normal(0.0, 0.005, (n_t, n_a)))
    high = np.maximum(open_, close) * 1.01
    low = np.minimum(open_, close) * 0.99
    fields = {
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "volume": np.full((n_t, n_a), 1e6),
        "score": np.cumsum(rng.normal(size=(n_t, n_a)), axis=0),
    }
    if gaps:  # some assets miss some bars (no open, no close)
        missing = rng.random((n_t, n_a)) < 0.02
        missing[0] = False
        for name in ("open", "high", "low", "close", "volume"):
            fields[name][missing] = np.nan
    ts = 19_000 * DAY + np.arange(n_t, dtype=np.int64) * DAY
    return DataFeed(ts, [f"S{j:02d}" for j in range(n_a)], fields, signal_names=["score"])


CONFIGS: dict[str, dict[str, Any]] = {
    "margin": {
        "account": {"policy": "margin", "allow_short": True},
        "commission": {"kind": "per_share", "per_share": 0.005, "minimum": 1.0},
        "slippage": {"kind": "fixed_bps", "bps": 2.0},
        "sizing": {"min_trade_value": 300.0},
    },
    "cash": {
        "commission": {"kind": "percent", "rate": 0.001},
        "slippage": {"kind": "fixed_bps", "bps": 1.0},
    },
}


def _count_block_fills(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    # A list that grows by one each time the broker books a block as columns.
    lane: list[int] = []
    real = SimulationBroker._book_block

    def counting(self: SimulationBroker, *args: Any) -> Any:
        lane.append(1)
        return real(self, *args)

    monkeypatch.setattr(SimulationBroker, "_book_block", counting)
    return lane


def _run(feed: DataFeed, config: str, strategy: Strategy) -> Any:
    cfg = BacktestConfig(initial_cash=500_000.0, **CONFIGS[config])
    return BacktestEngine(feed, strategy, cfg).run()


@pytest.mark.parametrize(
    ("config", "poke", "listen", "gaps"),
    [
        ("margin", 0, False, False),
        ("margin", 0, True, True),
        ("margin", 2, False, True),
        ("cash", 0, False, True),
        ("cash", 1, True, False),
    ],
)
@pytest.mark.parametrize("seed", range(3))
def test_blocks_leave_every_result_unchanged(
    config: str, poke: int, listen: bool, gaps: bool, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = _feed(seed, gaps=gaps)
    short = config == "margin"
    cls = Rotation if listen else QuietRotation
    lane = _count_block_fills(monkeypatch)
    blocks = _run(feed, config, cls(10, short, poke, seed))
    assert lane  # rebalances were filled as columns
    with monkeypatch.context() as m:
        m.setattr(SimulationBroker, "submit_block", lambda self, *a, **k: None)
        objects = _run(feed, config, cls(10, short, poke, seed))
    assert blocks.fills.height > 150
    for frame in FRAMES:
        assert_frame_equal(getattr(blocks, frame), getattr(objects, frame), check_exact=True)
    assert str(blocks.metrics) == str(objects.metrics)


@pytest.mark.parametrize("seed", range(2))
def test_blocks_in_the_eager_loop(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # the per-bar loop (corporate actions, several currencies, futures) takes them too
    monkeypatch.setattr(engine_module, "LAZY_STATE", False)
    lane = _count_block_fills(monkeypatch)
    feed = _feed(seed, gaps=True)
    blocks = _run(feed, "margin", QuietRotation(10, True, 1, seed))
    assert lane
    with monkeypatch.context() as m:
        m.setattr(SimulationBroker, "submit_block", lambda self, *a, **k: None)
        objects = _run(feed, "margin", QuietRotation(10, True, 1, seed))
    for frame in FRAMES:
        assert_frame_equal(getattr(blocks, frame), getattr(objects, frame), check_exact=True)
    assert str(blocks.metrics) == str(objects.metrics)
