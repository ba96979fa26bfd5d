"""Benchmark DataFeed construction: rows/s, memory ratio, peak RSS.

Run: uv run python benchmarks/bench_feed.py [--repeat 3]

1. Synthetic: 500 assets x 2,520 days (seeded random walk), long format, sorted.
2. Real: shared/data/sp500_5yr_iex/all_stocks_5yr.parquet (619,040 rows, 505 tickers), which is
   sorted by ticker (not by time) and has 11 rows with NaN prices and 12 OHLC-inconsistent rows,
   so it is built with repair="fix"; the repair report is printed.

The ratio is feed.nbytes / polars DataFrame.estimated_size() of the frame it was built from.
Peak RSS is the process high-water mark (resource.getrusage) after each stage.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from ml4t.backtest.core.data import DataFeed

# shared/ lies beside the repository (in the workspace and in CI's clone alike)
SHARED = Path(__file__).resolve().parents[2] / "shared"
SP500 = SHARED / "data" / "sp500_5yr_iex" / "all_stocks_5yr.parquet"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def synthetic(n_assets: int = 500, n_days: int = 2_520, seed: int = 42) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    days = [date(2010, 1, 4) + timedelta(days=i) for i in range(n_days)]
    assets = [f"A{i:04d}" for i in range(n_assets)]
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, (n_days, n_assets)), axis=0))
    open_ = close * np.exp(rng.normal(0.0, 0.003, close.shape))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.01, close.shape))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.01, close.shape))
    volume = rng.integers(1_000, 1_000_000, close.shape).astype(np.float64)
    return pl.DataFrame(
        {
            "timestamp": pl.Series(np.repeat(np.array(days, dtype="datetime64[D]"), n_assets)),
            "asset": np.tile(np.array(assets), n_days),
            "open": open_.ravel(),
            "high": high.ravel(),
            "low": low.ravel(),
            "close": close.ravel(),
            "volume": volume.ravel(),
        }
    )


def timed(build: Callable[[], DataFeed], repeat: int) -> tuple[DataFeed, float]:
    best = float("inf")
    feed = build()  # warm-up (polars thread pool, imports)
    for _ in range(repeat):
        start = time.perf_counter()
        feed = build()
        best = min(best, time.perf_counter() - start)
    return feed, best


def report(name: str, rows: int, frame: pl.DataFrame, feed: DataFeed, seconds: float) -> None:
    raw = frame.estimated_size()
    print(f"\n== {name}")
    print(f"rows                {rows:>12,}")
    print(f"feed                {feed.n_timestamps:,} timestamps x {feed.n_assets:,} assets")
    print(f"build time (best)   {seconds:>12.3f} s")
    print(f"rows/s              {rows / seconds:>12,.0f}")
    print(f"raw frame size      {raw / 2**20:>12.1f} MiB (polars estimated_size)")
    print(f"feed.nbytes         {feed.nbytes / 2**20:>12.1f} MiB")
    print(f"ratio feed/raw      {feed.nbytes / raw:>12.2f}")
    print(f"peak RSS so far     {peak_rss_mb():>12.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"peak RSS at start   {peak_rss_mb():>12.0f} MiB")

    frame = synthetic()
    feed, seconds = timed(lambda: DataFeed.from_polars(frame), args.repeat)
    report("synthetic 500 assets x 2,520 days (from_polars)", frame.height, frame, feed, seconds)

    if not SP500.exists():
        print(f"\n(sp500 file not found at {SP500}; skipped)")
        return
    real = pl.read_parquet(SP500)

    def from_frame() -> DataFeed:
        return DataFeed.from_polars(real, timestamp_col="date", asset_col="symbol", repair="fix")

    def from_file() -> DataFeed:
        return DataFeed.from_parquet(SP500, timestamp_col="date", asset_col="symbol", repair="fix")

    feed, seconds = timed(from_frame, args.repeat)
    report("sp500_5yr_iex, repair='fix' (from_polars)", real.height, real, feed, seconds)
    _, seconds = timed(from_file, args.repeat)
    print(f"from_parquet incl. read {seconds:>8.3f} s  ({real.height / seconds:,.0f} rows/s)")
    print("\nrepair report:")
    with pl.Config(tbl_rows=20, fmt_table_cell_list_len=6, tbl_width_chars=120):
        print(feed.repair_report)
    print(f"\npeak RSS at end     {peak_rss_mb():>12.0f} MiB")


if __name__ == "__main__":
    main()
