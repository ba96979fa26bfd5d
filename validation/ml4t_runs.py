"""ml4t-backtest side of the validation scenarios: one helper that runs a strategy on the
scenario's bars and returns the suite's `RunResult`, plus the reusable strategies."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import polars as pl

from ml4t.backtest.core.assets import AssetRegistry, Crypto, Equity
from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.strategy._version import __version__ as _strategy_version
from ml4t.backtest.strategy.config import BacktestConfig
from ml4t.backtest.strategy.engine import BacktestEngine
from ml4t.backtest.strategy.signals import SignalStrategy, run_signals
from ml4t.backtest.strategy.strategy import Strategy
from validation.common import RunResult, fills_frame

__all__ = [
    "VERSION",
    "CrossStrategy",
    "crypto_registry",
    "feed_of",
    "no_tick_registry",
    "run_ml4t",
    "run_ml4t_fast",
]

NO_TICK = 1e-9  # a price grid fine enough to leave every peer price unrounded
# A quantity grid fine enough for VectorBT's unrounded sizes: at 1e-9 the flooring of each
# order leaves up to 1e-9 share of cash per order unspent, and over a 120-stock rebalance
# that cash shifts the last (resized) buy by a few 1e-8 shares, beyond QTY_ATOL.
NO_LOT = 1e-12


def no_tick_registry(bars: pl.DataFrame, *, fractional: bool = False) -> AssetRegistry:
    """Equities without a price grid (peers that never round order prices to a tick).

    With `fractional` the lot is 1e-12 share (VectorBT trades any fraction).
    """
    assets = bars["asset"].unique().sort().to_list()
    lot = NO_LOT if fractional else 1.0
    return AssetRegistry([Equity(asset_id=a, tick_size=NO_TICK, lot_size=lot) for a in assets])


def crypto_registry(bars: pl.DataFrame) -> AssetRegistry:
    """Crypto assets (quantities in 1e-8 units) without a price grid."""
    assets = bars["asset"].unique().sort().to_list()
    return AssetRegistry([Crypto(asset_id=a, tick_size=NO_TICK) for a in assets])


VERSION = f"ml4t-backtest {_strategy_version}"


def feed_of(bars: pl.DataFrame, *, registry: AssetRegistry | None = None) -> DataFeed:
    """Build the feed (prices + every extra numeric column as a signal) from suite bars."""
    return DataFeed.from_polars(bars, registry=registry)


def _result(result: Any) -> RunResult:
    rows = []
    for r in result.fills.iter_rows(named=True):
        ts = r["timestamp"]
        if isinstance(ts, datetime) and ts.tzinfo is not None:
            ts = ts.astimezone(UTC).replace(tzinfo=None)
        rows.append((ts, str(r["asset"]), int(r["side"]), float(r["quantity"]), float(r["price"])))
    equity = float(result.equity_curve["equity"][-1])
    return RunResult(engine=VERSION, fills=fills_frame(rows), final_equity=equity)


def run_ml4t_fast(
    bars: pl.DataFrame,
    config: BacktestConfig,
    *,
    registry: AssetRegistry | None = None,
) -> RunResult:
    """Run the ``entry``/``exit`` columns through ml4t's signal fast path (numba kernel)."""
    feed = feed_of(bars, registry=registry)
    result = run_signals(feed, SignalStrategy("entry", "exit"), config)
    out = _result(result)
    return RunResult(
        engine=f"{VERSION} (fast path)", fills=out.fills, final_equity=out.final_equity
    )


def run_ml4t(
    bars: pl.DataFrame,
    strategy: Strategy,
    config: BacktestConfig,
    *,
    registry: AssetRegistry | None = None,
    corporate_actions: Iterable[Any] = (),
) -> RunResult:
    """Run `strategy` under `config` on `bars`; fills relabelled to naive UTC bar times."""
    feed = feed_of(bars, registry=registry)
    result = BacktestEngine(feed, strategy, config, corporate_actions=corporate_actions).run()
    return _result(result)


class CrossStrategy(Strategy):
    """Buy `size` on an ``entry`` signal when flat, flatten on ``exit`` (single asset)."""

    def __init__(self, size: float = 100.0) -> None:
        self.size = size

    def on_bar(self, bar: Any) -> None:
        asset = bar.assets[0]
        pos = self.get_position(asset)
        if pos == 0 and bar.signals["entry"][0] > 0 and not self.open_orders(asset):
            self.buy(asset, self.size)
        elif pos != 0 and bar.signals["exit"][0] > 0:
            self.close_position(asset)
