"""A parameter sweep in one process with the compiled twins on (``compiled="on"``).

Nine momentum rotations (lookback x holdings, rebalanced weekly) on the bundled S&P 500
sample. ``BacktestConfig(compiled="on")`` loads numba once, when the first run starts, and
every run then books its fills, checks its orders and matches its trades in compiled loops;
the results are the same bit for bit as with the default ``compiled="auto"`` (ADR 0011), so
the setting only trades a one-off load (1-2 s, about 120 MB) for faster runs: worth it for
sweeps, walk-forward loops and long runs, not for a single small backtest.
Run: ``uv run python examples/parameter_sweep.py`` (about 6 s).
"""

from __future__ import annotations

import itertools
import time

import polars as pl

from ml4t.backtest.cli_demo import MomentumRotation
from ml4t.backtest.core.datasets import sample_feed
from ml4t.backtest.strategy import BacktestConfig, BacktestEngine


def main() -> None:
    feed = sample_feed()
    config = BacktestConfig(initial_cash=1_000_000.0, compiled="on")
    rows = []
    for lookback, top in itertools.product((21, 63, 126), (3, 6, 10)):
        started = time.perf_counter()
        strategy = MomentumRotation(lookback=lookback, top=top, rebalance_every=5)
        result = BacktestEngine(feed, strategy, config).run()
        m = result.metrics
        rows.append(
            {
                "lookback": lookback,
                "top": top,
                "total_return": m["total_return"],
                "sharpe": m["sharpe_ratio"],
                "max_drawdown": m["max_drawdown"],
                "trades": result.trades.height,
                "seconds": time.perf_counter() - started,
            }
        )
    table = pl.DataFrame(rows).sort("sharpe", descending=True)
    with pl.Config(tbl_rows=20, float_precision=3):
        print(f"momentum sweep, {feed.n_assets} stocks x {feed.n_timestamps} days")
        print(table)
    first, rest = rows[0]["seconds"], [r["seconds"] for r in rows[1:]]
    print(
        f"first run {first:.2f} s (loads numba), later runs {min(rest):.2f}-{max(rest):.2f} s each"
    )
    best = table.row(0, named=True)
    print(f"best: lookback {best['lookback']}, top {best['top']} (Sharpe {best['sharpe']:.2f})")


if __name__ == "__main__":
    main()
