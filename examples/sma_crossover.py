"""SMA(20/50) crossover on bundled S&P 500 data: callbacks, fast path and a look-ahead audit.

Runs the same long-only crossover three ways on 10 large US stocks (2013-2018, daily):

1. an ``on_bar`` strategy reading point-in-time ``history()`` windows;
2. the same rules as signal columns through ``SignalStrategy`` in the engine;
3. those signal columns through the numba fast path (``run_signals``),

prints the metrics, checks that (2) and (3) agree to the cent, and audits (1) with
``check_lookahead``. Run: ``uv run python examples/sma_crossover.py`` (< 30 s).
"""

from __future__ import annotations

import time

import numpy as np
import polars as pl

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.datasets import load_sample_prices
from ml4t.backtest.strategy import (
    BacktestConfig,
    BacktestEngine,
    SignalStrategy,
    Strategy,
    check_lookahead,
    run_signals,
)

ASSETS = ["AAPL", "AMZN", "BA", "JPM", "KO", "MSFT", "NKE", "PG", "V", "XOM"]
FAST, SLOW = 20, 50
WEIGHT = 0.09  # of equity per position


class SmaCross(Strategy):
    """Hold an asset while its 20-day average is above its 50-day average."""

    def on_bar(self, bar):
        closes = self.history("close", SLOW)  # (bars, assets), ends at this bar
        if closes.shape[0] < SLOW:
            return
        fast = closes[-FAST:].mean(axis=0)
        slow = closes.mean(axis=0)
        for j, asset in enumerate(bar.assets):
            held = self.get_position(asset)
            if fast[j] > slow[j] and held == 0:
                self.order_target_percent(asset, WEIGHT)
            elif fast[j] < slow[j] and held > 0:
                self.close_position(asset)


def with_crossover_signals(prices: pl.DataFrame) -> pl.DataFrame:
    """Add entry/exit columns computed per asset from closes up to each bar."""
    fast = pl.col("close").rolling_mean(FAST).over("asset")
    slow = pl.col("close").rolling_mean(SLOW).over("asset")
    above = (fast > slow).fill_null(False)
    was = above.shift(1).over("asset").fill_null(False)
    return (
        prices.sort("asset", "timestamp")
        .with_columns(entry=(above & ~was).cast(pl.Float64), exit=(~above & was).cast(pl.Float64))
        .sort("timestamp", "asset")
    )


def main() -> None:
    started = time.perf_counter()
    prices = load_sample_prices(ASSETS)
    feed = DataFeed.from_polars(prices)
    config = BacktestConfig(initial_cash=1_000_000.0)

    result = BacktestEngine(data_feed=feed, strategy=SmaCross(), config=config).run()
    print(f"on_bar SMA({FAST}/{SLOW}) crossover, {len(ASSETS)} stocks, {feed.n_timestamps} days")
    print(result.summary())

    signal_feed = DataFeed.from_polars(with_crossover_signals(prices))
    signal_config = config.replace(sizing={"method": "percent_equity", "percent": WEIGHT})
    strategy = SignalStrategy("entry", "exit")
    slow_path = BacktestEngine(data_feed=signal_feed, strategy=strategy, config=signal_config)
    t0 = time.perf_counter()
    engine_result = slow_path.run()
    t1 = time.perf_counter()
    fast_result = run_signals(signal_feed, strategy, signal_config)
    t2 = time.perf_counter()
    equity_a = engine_result.equity_curve["equity"].to_numpy()
    diff = np.abs(equity_a - fast_result.equity_curve["equity"].to_numpy()).max()
    print(
        f"\nsignal columns: engine {t1 - t0:.2f} s, fast path {t2 - t1:.3f} s; "
        f"{fast_result.trades.height} trades each, max equity difference {diff:.2e}"
    )
    assert engine_result.trades.height == fast_result.trades.height
    assert diff < 0.01, "fast path and engine must agree to the cent"

    report = check_lookahead(lambda f: SmaCross(), feed, config, n_cuts=2, seed=7)
    print(
        f"look-ahead audit: {'passed' if report.passed else 'FAILED'} "
        f"({report.decisions_checked} decisions checked at cuts {report.cuts})"
    )
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
