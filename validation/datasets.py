"""Loaders of the validation data (validation/data), as pandas for the peers and polars for us.

Every loader returns the same bars in both shapes so that peer and ml4t-backtest see identical
numbers. Daily bars are labelled at midnight (naive, read as UTC); minute bars at their minute.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

__all__ = [
    "DATA",
    "Bars",
    "backtesting_py",
    "backtrader_daily",
    "backtrader_minute",
    "crypto_minute",
    "futures_minute",
    "sp500_2017",
    "to_pandas",
    "to_pandas_ohlcv",
    "zipline_bars",
]

DATA = Path(__file__).resolve().parent / "data"

Bars = pl.DataFrame  # long format: timestamp, asset, open, high, low, close, volume


def _finish(df: pl.DataFrame, asset: str) -> pl.DataFrame:
    return df.select(
        pl.col("timestamp").cast(pl.Datetime("us")),
        pl.lit(asset).alias("asset"),
        *(pl.col(c).cast(pl.Float64) for c in ("open", "high", "low", "close", "volume")),
    ).sort("timestamp")


@cache
def backtrader_daily(name: str = "orcl-2003-2005.txt") -> pl.DataFrame:
    """Daily bars of a backtrader data file (Yahoo or backtrader layout), asset = file stem."""
    df = pl.read_csv(DATA / "backtrader_datas" / name, try_parse_dates=True)
    df = df.rename({c: c.lower() for c in df.columns}).rename({"date": "timestamp"})
    return _finish(df, name.split("-", maxsplit=1)[0].upper() if name[0].isalpha() else "STOXX50")


@cache
def backtrader_minute() -> pl.DataFrame:
    """First 6,000 one-minute bars of the Euro STOXX 50 future (2006-01-02 onward)."""
    path = DATA / "backtrader_datas" / "2006-01-02-volume-min-001-first6000.txt"
    df = pl.read_csv(
        path,
        has_header=False,
        skip_rows=1,
        new_columns=["date", "time", "open", "high", "low", "close", "volume", "oi"],
    )
    df = df.with_columns(
        (pl.col("date") + " " + pl.col("time"))
        .str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S")
        .alias("timestamp")
    )
    return _finish(df, "FESX")


@cache
def backtesting_py(name: str = "GOOG") -> pl.DataFrame:
    """backtesting.py's sample data (GOOG daily, BTCUSD monthly)."""
    df = pl.read_csv(DATA / "backtesting_py" / f"{name}.csv", try_parse_dates=True)
    df = df.rename({df.columns[0]: "timestamp"}).rename(
        {c: c.lower() for c in ("Open", "High", "Low", "Close", "Volume")}
    )
    return _finish(df, name)


@cache
def crypto_minute(rows: int = 10_000) -> pl.DataFrame:
    """FTX BTC-PERP one-minute bars (fractional quantities)."""
    df = pl.read_csv(DATA / "intraday" / "ftx-btc-perp-1m-first10000.csv", n_rows=rows)
    df = df.with_columns(
        pl.col("timestamp").str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.f")
    )
    return _finish(df, "BTC-PERP")


@cache
def futures_minute(rows: int = 6_000) -> pl.DataFrame:
    """CME Euro FX future 6EH4 one-minute bars (multiplier 125,000)."""
    df = pl.read_csv(DATA / "intraday" / "6EH4-1m-first6000.csv", n_rows=rows)
    df = df.rename({"timestamp_utc": "timestamp"}).with_columns(
        pl.col("timestamp").str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S")
    )
    return _finish(df, "6EH4")


@cache
def sp500_2017(n_assets: int = 120) -> pl.DataFrame:
    """Daily bars of 2017 for the first `n_assets` complete S&P 500 symbols (IEX data)."""
    df = pl.read_parquet(DATA / "sp500_5yr_iex" / "sp500_120_2017.parquet")
    keep = sorted(df["symbol"].unique().to_list())[:n_assets]
    return (
        df.filter(pl.col("symbol").is_in(keep))
        .select(
            pl.col("date").cast(pl.Datetime("us")).alias("timestamp"),
            pl.col("symbol").alias("asset"),
            *(pl.col(c).cast(pl.Float64) for c in ("open", "high", "low", "close", "volume")),
        )
        .sort("timestamp", "asset")
    )


@cache
def zipline_bars() -> pl.DataFrame:
    """RAW (unadjusted) daily bars of AAPL and MSFT, 2008-2014, from zipline's test bundle."""
    df = pl.read_csv(
        DATA / "zipline_test_bundle" / "daily_bars_raw_aapl_msft_2008_2014.csv.gz",
        try_parse_dates=True,
    )
    return df.select(
        pl.col("date").cast(pl.Datetime("us")).alias("timestamp"),
        pl.col("symbol").alias("asset"),
        *(pl.col(c).cast(pl.Float64) for c in ("open", "high", "low", "close", "volume")),
    ).sort("timestamp", "asset")


def to_pandas(df: pl.DataFrame) -> Any:
    """Convert to pandas column by column through numpy (no pyarrow needed)."""
    return pd.DataFrame({c: df[c].to_numpy() for c in df.columns})


def to_pandas_ohlcv(df: pl.DataFrame, *, capitalized: bool = False) -> Any:
    """One asset's bars as a pandas frame indexed by timestamp (for the peers)."""
    pdf = to_pandas(df.drop("asset")).set_index("timestamp")
    pdf.index.name = "datetime"
    if capitalized:
        pdf.columns = [c.capitalize() for c in pdf.columns]
    return pdf
