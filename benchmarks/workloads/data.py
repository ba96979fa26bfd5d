"""Workload data: seeded synthetic bars and the real S&P 500 set, with their signals.

Every frame is long format (timestamp, asset, open, high, low, close, volume) plus the signal
columns of its workload: ``entry``/``exit`` (SMA(10)/SMA(30) crosses on close, workloads A-C)
or ``score`` (workload D). Frames are cached as parquet (one row group, so
every column loads as one contiguous chunk) under benchmarks/results/cache/ so each engine's
process reads the identical bytes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

__all__ = [
    "CACHE",
    "SP500",
    "add_cross",
    "add_score",
    "load",
    "synthetic_bars",
    "sp500_bars",
]

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "benchmarks" / "results" / "cache"
SP500 = ROOT.parent / "shared" / "data" / "sp500_5yr_iex" / "all_stocks_5yr.parquet"


def synthetic_bars(n_assets: int, n_bars: int, *, minute: bool, seed: int = 7) -> pl.DataFrame:
    """Random-walk OHLCV bars, identical for a given (n_assets, n_bars, minute, seed).

    Log returns are N(0, sigma) with sigma 0.0005 (minute) or 0.015 (daily); the open is the
    previous close moved by a small gap, high/low extend the open-close range.
    """
    rng = np.random.default_rng(seed)
    sigma = 0.0005 if minute else 0.015
    start = 20.0 + 180.0 * rng.random(n_assets)
    rets = rng.normal(0.0, sigma, size=(n_bars, n_assets))
    close = start * np.exp(np.cumsum(rets, axis=0))
    gap = rng.normal(0.0, sigma * 0.2, size=(n_bars, n_assets))
    open_ = np.vstack([start[None, :], close[:-1]]) * np.exp(gap)
    wick = np.abs(rng.normal(0.0, sigma * 0.5, size=(2, n_bars, n_assets)))
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    volume = rng.integers(1_000, 100_000, size=(n_bars, n_assets)).astype(np.float64)
    if minute:
        ts = pl.datetime_range(
            datetime(2020, 1, 1),
            datetime(2020, 1, 1) + timedelta(minutes=n_bars - 1),
            "1m",
            eager=True,
        )
    else:
        days = pl.date_range(datetime(2000, 1, 3), datetime(2040, 1, 1), "1d", eager=True)
        days = days.filter(days.dt.weekday() <= 5)[:n_bars]
        ts = days.cast(pl.Datetime("us"))
    assets = [f"S{j:03d}" for j in range(n_assets)]
    # round prices to the cent: every engine then sees exactly representable tick prices
    return pl.DataFrame(
        {
            "timestamp": np.repeat(ts.to_numpy(), n_assets),
            "asset": np.tile(np.array(assets), n_bars),
            "open": np.round(open_, 2).ravel(),
            "high": np.round(high, 2).ravel(),
            "low": np.round(low, 2).ravel(),
            "close": np.round(close, 2).ravel(),
            "volume": volume.ravel(),
        }
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("us")))


def sp500_bars(n_assets: int | None = None) -> pl.DataFrame:
    """The real S&P 500 set: every symbol with all 1,259 sessions and clean OHLC."""
    df = pl.read_parquet(SP500).rename({"date": "timestamp", "symbol": "asset"})
    n_days = df["timestamp"].n_unique()
    bad = (
        pl.any_horizontal(pl.col("open", "high", "low", "close").is_null())
        | (pl.col("high") < pl.col("low"))
        | (pl.col("close") > pl.col("high"))
        | (pl.col("close") < pl.col("low"))
        | (pl.col("open") > pl.col("high"))
        | (pl.col("open") < pl.col("low"))
        | (pl.col("volume") <= 0)
    )
    ok = (
        df.group_by("asset")
        .agg(n=pl.len(), bad=bad.sum())
        .filter((pl.col("n") == n_days) & (pl.col("bad") == 0))["asset"]
        .sort()
        .to_list()
    )
    if n_assets is not None:
        ok = ok[:n_assets]
    return (
        df.filter(pl.col("asset").is_in(ok))
        .select(
            pl.col("timestamp").cast(pl.Datetime("us")),
            "asset",
            *(pl.col(c).cast(pl.Float64) for c in ("open", "high", "low", "close", "volume")),
        )
        .sort("timestamp", "asset")
    )


def add_cross(df: pl.DataFrame, fast: int = 10, slow: int = 30) -> pl.DataFrame:
    """Add ``entry``/``exit``: SMA(fast) crosses above / below SMA(slow) of close."""
    diff = (pl.col("close").rolling_mean(fast) - pl.col("close").rolling_mean(slow)).over("asset")
    prev = diff.shift(1).over("asset")
    return df.sort("timestamp", "asset").with_columns(
        ((prev < 0) & (diff > 0)).fill_null(False).cast(pl.Float64).alias("entry"),
        ((prev > 0) & (diff < 0)).fill_null(False).cast(pl.Float64).alias("exit"),
    )


def add_score(df: pl.DataFrame, *, seed: int = 11, real: bool = False) -> pl.DataFrame:
    """Add ``score``: 20-day momentum (real data) or a seeded AR(1) signal (synthetic)."""
    df = df.sort("timestamp", "asset")
    if real:
        mom = (pl.col("close") / pl.col("close").shift(20) - 1.0).over("asset")
        return df.with_columns(mom.fill_null(0.0).alias("score"))
    n_assets = df["asset"].n_unique()
    n_bars = df.height // n_assets
    rng = np.random.default_rng(seed)
    shocks = rng.normal(size=(n_bars, n_assets))
    score = np.empty_like(shocks)
    score[0] = shocks[0]
    for t in range(1, n_bars):
        score[t] = 0.9 * score[t - 1] + shocks[t]
    return df.with_columns(pl.Series("score", np.round(score, 6).ravel()))


def load(workload: str, n_assets: int, n_bars: int) -> pl.DataFrame:
    """Build (or read from the cache) the bars of `workload` at the given size.

    `workload` is ``A``/``B``/``C``/``D`` (synthetic) or ``B-sp500``/``C-sp500``/``D-sp500``.
    """
    CACHE.mkdir(parents=True, exist_ok=True)
    # one row group per file: polars reads each row group as a chunk, and one chunk per
    # column is what a frame built in memory has (no engine then starts from split columns)
    path = CACHE / f"{workload}_{n_assets}x{n_bars}.v2.parquet"
    if path.exists():
        return pl.read_parquet(path)
    real = workload.endswith("sp500")
    kind = workload[0]
    if real:
        df = sp500_bars(n_assets)
        keep = df["timestamp"].unique().sort()[:n_bars]
        df = df.filter(pl.col("timestamp").is_in(keep.implode()))
    else:
        df = synthetic_bars(n_assets, n_bars, minute=kind == "A")
    df = (add_score(df, real=real) if kind == "D" else add_cross(df)).rechunk()
    df.write_parquet(path, row_group_size=df.height)
    return df
