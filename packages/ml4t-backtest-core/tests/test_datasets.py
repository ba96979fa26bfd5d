from __future__ import annotations

import polars as pl
import pytest

from ml4t.backtest.core.datasets import (
    SAMPLE_DATASET,
    dataset_path,
    list_datasets,
    load_sample_prices,
    sample_feed,
)
from ml4t.backtest.core.errors import ConfigError, UnknownAssetError
from ml4t.backtest.core.types import to_timestamp


def test_list_datasets_describes_the_bundled_sample() -> None:
    (info,) = list_datasets()
    assert info.name == SAMPLE_DATASET == "sp500_sample"
    assert info.rows == 41_547 == 33 * 1_259
    assert len(info.assets) == 33
    assert list(info.assets) == sorted(info.assets)
    assert (info.start, info.end) == ("2013-02-08", "2018-02-07")
    assert info.attribution == "Data provided for free by IEX"


def test_bundled_file_is_small_and_has_a_source_note() -> None:
    path = dataset_path()
    assert path.is_file()
    assert path.stat().st_size < 1_500_000
    source = (path.parent / "SOURCE.md").read_text()
    assert "Data provided for free by IEX" in source


def test_load_sample_prices_has_the_standard_long_format() -> None:
    df = load_sample_prices()
    assert df.schema == pl.Schema(
        {
            "timestamp": pl.Datetime("ns", "UTC"),
            "asset": pl.String,
            "open": pl.Float64,
            "high": pl.Float64,
            "low": pl.Float64,
            "close": pl.Float64,
            "volume": pl.Float64,
        }
    )
    assert df.height == 41_547
    assert df["asset"].n_unique() == 33
    assert df.select(pl.col("asset").count().over("asset").unique()).item() == 1_259
    assert df.equals(df.sort("timestamp", "asset"))


def test_known_real_values() -> None:
    # AAPL 2013-02-08 (split-adjusted; the SOURCE.md example close is 67.85)
    df = load_sample_prices(["AAPL"], start="2013-02-08", end="2013-02-08")
    assert df.row(0)[1:] == ("AAPL", 67.7142, 68.4014, 66.8928, 67.8542, 158168416.0)


def test_filters_by_asset_and_date() -> None:
    df = load_sample_prices(["MSFT", "JPM"], start="2017-01-01", end="2017-12-31")
    assert set(df["asset"]) == {"MSFT", "JPM"}
    assert df.height == 2 * 251  # NYSE had 251 sessions in 2017
    first = df["timestamp"].min()
    assert first is not None
    assert first.isoformat().startswith("2017-01-03")


def test_unknown_asset_raises_and_lists_what_exists() -> None:
    with pytest.raises(UnknownAssetError, match=r"\['TSLA'\] are not in 'sp500_sample'"):
        load_sample_prices(["AAPL", "TSLA"])


def test_unknown_dataset_raises() -> None:
    with pytest.raises(ConfigError, match="unknown data set 'nope'"):
        load_sample_prices(name="nope")


def test_sample_feed_builds_without_repair() -> None:
    feed = sample_feed()
    assert (feed.n_timestamps, feed.n_assets) == (1_259, 33)
    assert bool(feed.has_bar.all())
    assert feed.start == to_timestamp("2013-02-08")
    assert feed.end == to_timestamp("2018-02-07")


def test_sample_feed_passes_options() -> None:
    feed = sample_feed(["AAPL"], start="2013-02-08", end="2013-02-12", repair="drop")
    assert feed.n_timestamps == 3
    assert feed.repair_report is not None
    assert feed.repair_report.height == 0
