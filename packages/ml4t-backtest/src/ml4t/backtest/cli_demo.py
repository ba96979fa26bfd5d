"""The demo backtest behind ``ml4t-backtest demo``: momentum rotation on the bundled sample.

Every `rebalance_every` bars (after a `lookback`-bar warm-up) the strategy ranks the assets by
their return over the last `lookback` bars and holds the `top` best in equal weights (95% of
equity in total), on the bundled daily prices of 33 large US stocks (2013-02 .. 2018-02).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from ml4t.backtest.strategy.bar import Bar
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.strategy import Strategy

__all__ = ["DEMO_STRATEGY_PATH", "MomentumRotation", "demo_config"]

DEMO_STRATEGY_PATH: Final = "ml4t.backtest.cli_demo:MomentumRotation"
"""Import path of the demo strategy, usable in a run config's ``[strategy] path``."""

INVESTED: Final = 0.95  # fraction of equity held in the picks


class MomentumRotation(Strategy):
    """Hold the `top` assets with the best trailing return, rebalanced on a fixed schedule.

    Args:
        lookback: Bars of trailing return used to rank, >= 2.
        top: Number of assets held, >= 1.
        rebalance_every: Bars between rebalances, >= 1.

    Example:
        >>> MomentumRotation(lookback=63, top=3).top
        3
    """

    def __init__(self, lookback: int = 126, top: int = 5, rebalance_every: int = 21) -> None:
        if lookback < 2 or top < 1 or rebalance_every < 1:
            raise ValueError(
                "MomentumRotation needs lookback >= 2, top >= 1, rebalance_every >= 1; were "
                f"{lookback}, {top}, {rebalance_every}"
            )
        self.lookback = lookback
        self.top = top
        self.rebalance_every = rebalance_every
        self._bars_seen = 0

    def on_bar(self, bar: Bar) -> None:
        """Rank and rebalance on schedule; otherwise do nothing."""
        self._bars_seen += 1
        since = self._bars_seen - self.lookback
        if since < 0 or since % self.rebalance_every:
            return
        close = self.history("close", self.lookback)
        with np.errstate(divide="ignore", invalid="ignore"):
            momentum = close[-1] / close[0] - 1.0
        momentum = np.where(np.isfinite(momentum), momentum, -np.inf)
        ranked = np.argsort(-momentum, kind="stable")[: self.top]
        weights = np.zeros(close.shape[1])
        weights[ranked[np.isfinite(momentum[ranked])]] = INVESTED / self.top
        self.rebalance(weights)


def demo_config() -> BacktestConfig:
    """Return the demo's settings: $100,000, default commission and slippage, next-bar open."""
    return BacktestConfig(initial_cash=100_000.0)
