"""Bundled sample data, so demos, docs and tests run offline.

One data set ships with the core distribution: ``sp500_sample``, real daily OHLCV of 33 large
US stocks for 1,259 sessions (2013-02-08 .. 2018-02-07), split-adjusted. Data provided for
free by IEX; see ``_data/SOURCE.md`` for origin and license.

Example:
    >>> prices = load_sample_prices(["AAPL", "MSFT"])
    >>> prices.shape, prices.columns[:2]
    ((2518, 7), ['timestamp', 'asset'])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any, Final

import polars as pl

from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.errors import ConfigError, UnknownAssetError
from ml4t.backtest.core.types import to_timestamp

__all__ = [
    "DatasetInfo",
    "SAMPLE_DATASET",
    "list_datasets",
    "dataset_path",
    "load_sample_prices",
    "sample_feed",
]

SAMPLE_DATASET: Final = "sp500_sample"


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """Description of a bundled data set.

    Attributes:
        name: Name to pass to the loaders.
        file: File name inside the package's ``_data`` folder.
        description: What it holds.
        rows: Number of rows.
        assets: Asset ids, sorted.
        start: First date (ISO).
        end: Last date (ISO).
        attribution: Line to keep wherever the data is published.
    """

    name: str
    file: str
    description: str
    rows: int
    assets: tuple[str, ...]
    start: str
    end: str
    attribution: str


_DATASETS: Final = {
    SAMPLE_DATASET: DatasetInfo(
        name=SAMPLE_DATASET,
        file="sp500_sample.parquet",
        description="Daily OHLCV of 33 large US stocks, split-adjusted (IEX via Kaggle 'S&P 500 "
        "stock data', MIT/CC0)",
        rows=41_547,
        assets=(
            *("AAPL", "AMGN", "AMZN", "BA", "BAC", "C", "CSCO", "CVX", "DIS", "FB", "GE"),
            *("GOOGL", "HD", "IBM", "INTC", "JNJ", "JPM", "KO", "MA", "MCD", "MRK", "MSFT"),
            *("NKE", "PEP", "PFE", "PG", "T", "UNH", "V", "VZ", "WFC", "WMT", "XOM"),
        ),
        start="2013-02-08",
        end="2018-02-07",
        attribution="Data provided for free by IEX",
    )
}


def list_datasets() -> list[DatasetInfo]:
    """Return the bundled data sets.

    Example:
        >>> [d.name for d in list_datasets()]
        ['sp500_sample']
    """
    return list(_DATASETS.values())


def _info(name: str) -> DatasetInfo:
    try:
        return _DATASETS[name]
    except KeyError:
        raise ConfigError(f"unknown data set {name!r}; available: {sorted(_DATASETS)}") from None


def dataset_path(name: str = SAMPLE_DATASET) -> Path:
    """Return the file path of a bundled data set.

    Example:
        >>> dataset_path().name
        'sp500_sample.parquet'
    """
    resource = files("ml4t.backtest.core").joinpath("_data", _info(name).file)
    with as_file(resource) as path:
        return Path(path)


def load_sample_prices(
    assets: Iterable[str] | None = None,
    *,
    start: Any = None,
    end: Any = None,
    name: str = SAMPLE_DATASET,
) -> pl.DataFrame:
    """Load bundled daily prices in long format.

    Args:
        assets: Asset ids to keep (None = all); unknown ids raise.
        start: First date kept (inclusive), anything `to_timestamp` reads.
        end: Last date kept (inclusive).
        name: Data set name (see `list_datasets`).

    Returns:
        Columns ``timestamp`` (``Datetime("ns", "UTC")``, midnight of the session date),
        ``asset``, ``open``, ``high``, ``low``, ``close`` (Float64) and ``volume`` (Float64),
        sorted by (timestamp, asset).

    Raises:
        UnknownAssetError: An asset is not in the data set.

    Example:
        >>> df = load_sample_prices(["AAPL"], start="2013-02-08", end="2013-02-11")
        >>> df.select("asset", "close").rows()
        [('AAPL', 67.8542), ('AAPL', 68.5614)]
    """
    info = _info(name)
    lazy = pl.scan_parquet(dataset_path(name))
    if assets is not None:
        wanted = list(dict.fromkeys(assets))
        unknown = [a for a in wanted if a not in info.assets]
        if unknown:
            raise UnknownAssetError(
                f"assets {unknown} are not in {name!r}; available: {', '.join(info.assets)}"
            )
        lazy = lazy.filter(pl.col("asset").is_in(wanted))
    ts = pl.col("timestamp").cast(pl.Datetime("ns")).dt.replace_time_zone("UTC")
    lazy = lazy.with_columns(ts, pl.col("volume").cast(pl.Float64))
    if start is not None:
        lazy = lazy.filter(pl.col("timestamp").dt.epoch("ns") >= to_timestamp(start))
    if end is not None:
        lazy = lazy.filter(pl.col("timestamp").dt.epoch("ns") <= to_timestamp(end))
    return lazy.sort("timestamp", "asset").collect()


def sample_feed(
    assets: Iterable[str] | None = None,
    *,
    start: Any = None,
    end: Any = None,
    name: str = SAMPLE_DATASET,
    **options: Any,
) -> DataFeed:
    """Build a `DataFeed` from bundled prices (`options` go to `DataFeed.from_polars`).

    Example:
        >>> feed = sample_feed(["AAPL", "MSFT", "JPM"])
        >>> feed.n_timestamps, feed.assets
        (1259, ('AAPL', 'JPM', 'MSFT'))
    """
    prices = load_sample_prices(assets, start=start, end=end, name=name)
    return DataFeed.from_polars(prices, **options)
