"""Signals shared by the peers and ml4t-backtest, computed once in polars.

Every scenario's decision rule is precomputed here and handed to both engines as columns, so a
difference can only come from execution semantics (fill timing, prices, sizing, costs), which is
what the suite validates. All signals at bar ``t`` use data up to and including bar ``t``.
"""

from __future__ import annotations

import math

import polars as pl

__all__ = ["above_sma", "sma_cross", "sma_cross_exact"]


def sma_cross(df: pl.DataFrame, fast: int = 10, slow: int = 30) -> pl.DataFrame:
    """Add ``entry`` (fast SMA crosses above slow) and ``exit`` (crosses below), 1.0 or 0.0.

    A cross at bar t means ``diff[t-1] < 0 < diff[t]`` (or ``> 0 >`` for ``exit``) with
    ``diff = SMA(close, fast) - SMA(close, slow)``; bars before the slow window are 0.
    """
    diff = (pl.col("close").rolling_mean(fast) - pl.col("close").rolling_mean(slow)).over("asset")
    prev = diff.shift(1).over("asset")
    return df.with_columns(
        ((prev < 0) & (diff > 0)).fill_null(False).cast(pl.Float64).alias("entry"),
        ((prev > 0) & (diff < 0)).fill_null(False).cast(pl.Float64).alias("exit"),
    )


def above_sma(df: pl.DataFrame, window: int = 20) -> pl.DataFrame:
    """Add ``entry`` = 1.0 while close > SMA(window) and ``exit`` = 1.0 while close < SMA."""
    sma = pl.col("close").rolling_mean(window).over("asset")
    return df.with_columns(
        (pl.col("close") > sma).fill_null(False).cast(pl.Float64).alias("entry"),
        (pl.col("close") < sma).fill_null(False).cast(pl.Float64).alias("exit"),
    )


def sma_cross_exact(df: pl.DataFrame, fast: int, slow: int) -> pl.DataFrame:
    """`sma_cross` with Backtrader's exact arithmetic (one asset).

    SMAs are ``math.fsum`` of the window / period (as backtrader's SMA), and a cross compares
    the current difference with the last NON-ZERO previous difference (backtrader's
    CrossOver via NonZeroDifference), so a bar where the SMAs are exactly equal does not hide a
    cross.
    """

    close = df["close"].to_list()
    n = len(close)
    entry = [0.0] * n
    exit_ = [0.0] * n
    last_nz = math.nan
    for t in range(slow - 1, n):
        f = math.fsum(close[t - fast + 1 : t + 1]) / fast
        s = math.fsum(close[t - slow + 1 : t + 1]) / slow
        d = f - s
        if last_nz < 0 < d:
            entry[t] = 1.0
        elif last_nz > 0 > d:
            exit_[t] = 1.0
        if d != 0:
            last_nz = d
    return df.with_columns(pl.Series("entry", entry), pl.Series("exit", exit_))
