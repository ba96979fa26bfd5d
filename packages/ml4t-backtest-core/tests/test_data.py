from __future__ import annotations

import math
import pickle
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ml4t.backtest.core.assets import AssetRegistry, Future
from ml4t.backtest.core.data import DataFeed, to_lag_ns
from ml4t.backtest.core.errors import ConfigError, DataValidationError, UnknownAssetError
from ml4t.backtest.core.types import NS_PER_DAY, to_timestamp

D1, D2, D3 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)
T1, T2, T3 = (to_timestamp(d) for d in (D1, D2, D3))


def prices(**overrides: Any) -> pl.DataFrame:
    # Five valid bars: AAA on 3 days, BBB on days 1 and 3 (sorted by timestamp, asset).
    data: dict[str, Any] = {
        "timestamp": [D1, D1, D2, D3, D3],
        "asset": ["AAA", "BBB", "AAA", "AAA", "BBB"],
        "open": [10.0, 20.0, 11.0, 12.0, 21.0],
        "high": [10.5, 20.5, 11.5, 12.5, 21.5],
        "low": [9.5, 19.5, 10.5, 11.5, 20.5],
        "close": [10.2, 20.2, 11.2, 12.2, 21.2],
        "volume": [100, 200, 110, 120, 210],
    }
    data.update(overrides)
    return pl.DataFrame(data)


class TestBuild:
    def test_arrays_have_expected_shape_values_and_nan_for_missing_bars(self) -> None:
        feed = DataFeed.from_polars(prices())
        assert feed.timestamps.tolist() == [T1, T2, T3]
        assert feed.assets == ("AAA", "BBB")
        assert feed.asset_index == {"AAA": 0, "BBB": 1}
        assert feed.close[:, 0].tolist() == [10.2, 11.2, 12.2]
        assert feed.close[0, 1] == 20.2
        assert math.isnan(feed.close[1, 1])
        assert feed.volume[2].tolist() == [120.0, 210.0]
        assert feed.has_bar.tolist() == [[True, True], [True, False], [True, True]]
        for arr in (feed.open, feed.high, feed.low, feed.close, feed.volume):
            assert arr.dtype == np.float64
            assert arr.flags.c_contiguous
            assert not arr.flags.writeable

    def test_counts_start_end_and_nbytes(self) -> None:
        feed = DataFeed.from_polars(prices())
        assert (feed.n_timestamps, feed.n_assets, len(feed)) == (3, 2, 3)
        assert (feed.start, feed.end) == (T1, T3)
        # timestamps 3*8 + has_bar 6*1 + five fields of 6 float64
        assert feed.nbytes == 24 + 6 + 5 * 48

    def test_lazyframe_input_gives_same_feed(self) -> None:
        eager = DataFeed.from_polars(prices())
        lazy = DataFeed.from_polars(prices().lazy())
        assert eager.fingerprint() == lazy.fingerprint()

    def test_extra_numeric_columns_become_signals_and_bid_ask_are_quotes(self) -> None:
        df = prices(
            score=[1.0, 2.0, 3.0, 4.0, 5.0],
            flag=[True, False, True, False, True],
            bid=[10.1, 20.1, 11.1, 12.1, 21.1],
            ask=[10.3, 20.3, 11.3, 12.3, 21.3],
        )
        feed = DataFeed.from_polars(df)
        assert list(feed.fields) == [
            "open", "high", "low", "close", "volume", "score", "flag", "bid", "ask",
        ]  # fmt: skip
        assert list(feed.signals) == ["score", "flag"]
        assert feed.signals["flag"][:, 0].tolist() == [1.0, 1.0, 0.0]
        assert feed.fields["bid"][2, 1] == 21.1

    def test_single_asset_frame_without_asset_column_uses_asset_name(self) -> None:
        df = prices().filter(pl.col("asset") == "AAA").drop("asset")
        feed = DataFeed.from_polars(df, asset="SPY")
        assert feed.assets == ("SPY",)
        assert feed.close[:, 0].tolist() == [10.2, 11.2, 12.2]

    def test_asset_name_with_an_asset_column_raises(self) -> None:
        with pytest.raises(ConfigError, match="`asset='SPY'` is for a frame without"):
            DataFeed.from_polars(prices(), asset="SPY")

    def test_custom_column_names(self) -> None:
        df = prices().rename({"timestamp": "date", "asset": "symbol"})
        feed = DataFeed.from_polars(df, timestamp_col="date", asset_col="symbol")
        assert feed.assets == ("AAA", "BBB")

    def test_integer_asset_ids_become_text(self) -> None:
        feed = DataFeed.from_polars(prices(asset=[10, 20, 10, 10, 20]))
        assert feed.assets == ("10", "20")

    def test_strict_registry_rejects_unknown_asset(self) -> None:
        registry = AssetRegistry([Future(asset_id="AAA", multiplier=50.0)], strict=True)
        with pytest.raises(UnknownAssetError, match="'BBB' is not registered"):
            DataFeed.from_polars(prices(), registry=registry)

    def test_registry_is_kept(self) -> None:
        registry = AssetRegistry([Future(asset_id="AAA", multiplier=50.0)])
        feed = DataFeed.from_polars(prices(), registry=registry)
        assert feed.registry["AAA"].multiplier == 50.0
        assert feed.registry["BBB"].multiplier == 1.0

    def test_full_grid_frame_is_used_without_a_copy(self) -> None:
        # every (timestamp, asset) present: float64 columns in one chunk back the feed as-is
        df = prices().filter(pl.col("asset") == "AAA").with_columns(pl.col("volume") * 1.0)
        feed = DataFeed.from_polars(df, signals=None)
        assert np.shares_memory(feed.close, df.get_column("close").to_numpy())
        assert np.shares_memory(feed.volume, df.get_column("volume").to_numpy())
        assert feed.has_bar.all()
        assert not feed.close.flags.writeable
        assert feed.close.flags.c_contiguous

    def test_full_grid_of_several_assets_matches_the_scattered_build(self) -> None:
        dense = prices(
            timestamp=[D1, D1, D2, D2, D3, D3],
            asset=["AAA", "BBB"] * 3,
            open=[10.0, 20.0, 11.0, 21.0, 12.0, 22.0],
            high=[10.5, 20.5, 11.5, 21.5, 12.5, 22.5],
            low=[9.5, 19.5, 10.5, 20.5, 11.5, 21.5],
            close=[10.2, 20.2, 11.2, 21.2, 12.2, 22.2],
            volume=[100, 200, 110, 210, 120, 220],
        )
        feed = DataFeed.from_polars(dense)
        assert feed.has_bar.all()
        assert feed.close.tolist() == [[10.2, 20.2], [11.2, 21.2], [12.2, 22.2]]
        assert feed.volume[:, 1].tolist() == [200.0, 210.0, 220.0]
        # without its last row the frame is scattered onto the grid: NaN in the hole
        holed = DataFeed.from_polars(dense.head(5))
        assert holed.has_bar[2].tolist() == [True, False]
        assert math.isnan(holed.close[2, 1])
        assert holed.close[:2].tolist() == feed.close[:2].tolist()

    def test_full_grid_from_a_chunked_frame_is_contiguous(self) -> None:
        # a frame read in several chunks (parquet row groups) is copied into one array each
        df = pl.concat([prices().head(2), prices().tail(3)], rechunk=False)
        chunked = df.filter(pl.col("asset") == "AAA")
        assert chunked.n_chunks() > 1
        feed = DataFeed.from_polars(chunked)
        assert feed.close[:, 0].tolist() == [10.2, 11.2, 12.2]
        assert feed.close.flags.c_contiguous
        assert not feed.close.flags.writeable


class TestTimestamps:
    def test_naive_datetime_of_any_unit_is_utc(self) -> None:
        for unit in ("ms", "us", "ns"):
            ts = pl.Series([datetime(2024, 1, 2, 14, 30)] * 2).cast(pl.Datetime(unit))
            df = prices().head(2).with_columns(timestamp=ts)
            feed = DataFeed.from_polars(df)
            assert feed.timestamps.tolist() == [T1 + (14 * 3600 + 1800) * 10**9]

    def test_aware_datetime_is_converted_to_utc(self) -> None:
        ts = pl.Series([datetime(2024, 1, 2, 9, 30)] * 2).dt.replace_time_zone("America/New_York")
        feed = DataFeed.from_polars(prices().head(2).with_columns(timestamp=ts))
        assert feed.timestamps.tolist() == [T1 + (14 * 3600 + 1800) * 10**9]  # 09:30 EST

    def test_iso_text_timestamps_are_parsed(self) -> None:
        df = prices(
            timestamp=["2024-01-02", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-04"]
        )
        assert DataFeed.from_polars(df).timestamps.tolist() == [T1, T2, T3]

    def test_text_mixing_offsets_and_naive_raises_timezone_mismatch(self) -> None:
        texts = ["2024-01-02T00:00:00+00:00", "2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00"]
        texts += ["2024-01-04T00:00:00+00:00"] * 2
        with pytest.raises(DataValidationError) as info:
            DataFeed.from_polars(prices(timestamp=texts))
        assert info.value.check == "timezone_mismatch"
        assert info.value.rows == (2,)

    def test_naive_prices_with_aware_context_raise_timezone_mismatch(self) -> None:
        df = prices().with_columns(pl.col("timestamp").cast(pl.Datetime("us")))
        ctx = pl.DataFrame({"timestamp": [datetime(2024, 1, 2, tzinfo=UTC)], "vix": [13.0]})
        with pytest.raises(DataValidationError, match="mix naive") as info:
            DataFeed.from_polars(df, context=ctx)
        assert info.value.check == "timezone_mismatch"

    def test_different_aware_timezones_are_fine(self) -> None:
        df = prices().with_columns(
            pl.col("timestamp").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        )
        ctx = pl.DataFrame(
            {"timestamp": [datetime(2024, 1, 1, 19, tzinfo=timezone(timedelta(hours=-5)))]}
        ).with_columns(vix=pl.lit(13.0))
        feed = DataFeed.from_polars(df, context=ctx)
        assert feed.context["vix"].tolist() == [13.0, 13.0, 13.0]  # 19:00 -05:00 = 00:00 UTC

    def test_integer_timestamp_column_raises_timestamp_dtype(self) -> None:
        with pytest.raises(DataValidationError, match="has dtype Int64") as info:
            DataFeed.from_polars(prices(timestamp=[1, 1, 2, 3, 3]))
        assert info.value.check == "timestamp_dtype"
        assert info.value.column == "timestamp"

    def test_unparseable_text_raises_timestamp_dtype(self) -> None:
        with pytest.raises(DataValidationError) as info:
            DataFeed.from_polars(prices(timestamp=["x", "x", "y", "z", "z"]))
        assert info.value.check == "timestamp_dtype"


class TestChecks:
    def check(self, df: pl.DataFrame, **options: Any) -> DataValidationError:
        with pytest.raises(DataValidationError) as info:
            DataFeed.from_polars(df, **options)
        return info.value

    def test_empty_frame(self) -> None:
        err = self.check(prices().head(0))
        assert err.check == "empty"
        assert "0 rows" in str(err)

    def test_missing_column_names_it_and_the_fix(self) -> None:
        err = self.check(prices().drop("volume"))
        assert err.check == "missing_columns"
        assert err.column == "volume"
        assert "['volume'] not in" in str(err)
        assert "rename your columns" in str(err)

    def test_missing_asset_column_without_asset_name(self) -> None:
        err = self.check(prices().drop("asset"))
        assert (err.check, err.column) == ("missing_columns", "asset")

    def test_non_numeric_value_column(self) -> None:
        err = self.check(prices(note=["a", "b", "c", "d", "e"]))
        assert (err.check, err.column) == ("non_numeric", "note")
        assert "column 'note' has dtype String" in str(err)

    def test_null_asset(self) -> None:
        err = self.check(prices(asset=["AAA", None, "AAA", "AAA", "BBB"]))
        assert (err.check, err.rows) == ("null_key", (1,))

    def test_unsorted_names_the_row_and_the_fix(self) -> None:
        df = prices()[[0, 2, 1, 3, 4]]  # (D2, AAA) before (D1, BBB)
        err = self.check(df)
        assert err.check == "unsorted"
        assert err.rows == (2,)
        assert "row 2 (asset='BBB', 2024-01-02)" in str(err)
        assert "repair='fix'" in str(err)

    def test_unsorted_assets_within_a_timestamp(self) -> None:
        err = self.check(prices()[[1, 0, 2, 3, 4]])
        assert (err.check, err.rows) == ("unsorted", (1,))

    def test_duplicate_key(self) -> None:
        err = self.check(prices()[[0, 1, 2, 2, 3, 4]])
        assert (err.check, err.rows) == ("duplicate", (3,))
        assert "row 3 (asset='AAA', 2024-01-03)" in str(err)

    @pytest.mark.parametrize("bad", [None, math.nan, math.inf, -math.inf])
    def test_non_finite_price(self, bad: float | None) -> None:
        err = self.check(prices(close=[10.2, 20.2, bad, 12.2, 21.2]))
        assert (err.check, err.rows, err.column) == ("non_finite_price", (2,), "close")

    def test_message_lists_values_like_the_style_guide(self) -> None:
        err = self.check(prices(high=[10.5, 20.5, 10.0, 12.5, 21.5]))
        assert str(err) == (
            "prices frame: high is below low: 1 row(s); row 2 (asset='AAA', 2024-01-03): "
            "high=10.0, low=10.5; drop or repair the rows (repair='drop' or repair='fix')"
        )
        assert (err.check, err.rows, err.column) == ("high_below_low", (2,), "high")

    @pytest.mark.parametrize("bad", [0.0, -1.0])
    def test_non_positive_price(self, bad: float) -> None:
        err = self.check(prices(open=[10.0, bad, 11.0, 12.0, 21.0]))
        assert (err.check, err.rows, err.column) == ("non_positive_price", (1,), "open")

    def test_non_finite_volume(self) -> None:
        err = self.check(prices(volume=[100.0, 200.0, None, 120.0, 210.0]))
        assert (err.check, err.rows, err.column) == ("non_finite_volume", (2,), "volume")

    def test_negative_volume(self) -> None:
        err = self.check(prices(volume=[100, 200, 110, -1, 210]))
        assert (err.check, err.rows, err.column) == ("negative_volume", (3,), "volume")

    def test_high_below_close(self) -> None:
        err = self.check(prices(close=[10.2, 20.2, 11.2, 12.2, 21.6]))
        assert (err.check, err.rows) == ("high_below_open_close", (4,))
        assert "open=21.0, high=21.5, close=21.6" in str(err)

    def test_low_above_open(self) -> None:
        err = self.check(prices(open=[10.0, 20.0, 10.4, 12.0, 21.0]))
        assert (err.check, err.rows, err.column) == ("low_above_open_close", (2,), "low")

    def test_first_offending_rows_are_listed_with_a_count(self) -> None:
        n = 20
        df = pl.DataFrame(
            {
                "timestamp": [date(2024, 1, 1) + timedelta(days=i) for i in range(n)],
                "asset": ["X"] * n,
                "open": [10.0] * n,
                "high": [9.0] * n,
                "low": [9.5] * n,
                "close": [10.0] * n,
                "volume": [1.0] * n,
            }
        )
        err = self.check(df)
        assert err.rows == tuple(range(10))
        assert "20 row(s)" in str(err)
        assert "(and 15 more)" in str(err)


class TestRepair:
    def test_unknown_repair_mode_raises_config_error(self) -> None:
        with pytest.raises(ConfigError, match="`repair` must be None, 'drop' or 'fix'"):
            DataFeed.from_polars(prices(), repair="clip")  # type: ignore[arg-type]

    def test_clean_frame_gives_empty_report(self) -> None:
        feed = DataFeed.from_polars(prices(), repair="drop")
        assert feed.repair_report is not None
        assert feed.repair_report.height == 0
        assert DataFeed.from_polars(prices()).repair_report is None

    def test_fix_sorts_deduplicates_keeping_last_and_clips(self) -> None:
        df = prices()[[2, 0, 1, 3, 4]]  # unsorted: row 1 (D1, AAA) after (D2, AAA)
        dup = prices()[[4]].with_columns(close=pl.lit(21.4))  # later duplicate of (D3, BBB)
        df = pl.concat([df, dup]).with_columns(
            high=pl.Series([11.5, 10.5, 20.5, 12.5, 21.5, 21.3])  # row 5: high < close 21.4
        )
        feed = DataFeed.from_polars(df, repair="fix")
        assert feed.close[2, 1] == 21.4  # the later row won
        assert feed.high[2, 1] == 21.4  # raised to max(open, close)
        report = feed.repair_report
        assert report is not None
        assert report.select("check", "action", "count", "rows").rows() == [
            ("unsorted", "sorted", 1, [1]),
            ("duplicate", "kept last", 1, [4]),
            ("high_below_open_close", "clipped", 1, [5]),
        ]

    def test_drop_removes_bad_rows_and_reports_them(self) -> None:
        df = prices(
            close=[10.2, math.nan, 11.2, 12.2, 21.2], high=[10.5, 20.5, 11.5, 12.0, 21.5]
        )  # row 1 NaN close; row 3 high 12.0 < close 12.2
        feed = DataFeed.from_polars(df, repair="drop")
        assert feed.has_bar.tolist() == [[True, False], [True, False], [False, True]]
        report = feed.repair_report
        assert report is not None
        assert report.rows() == [
            ("non_finite_price", "dropped", 1, [1]),
            ("high_below_open_close", "dropped", 1, [3]),
        ]

    def test_fix_clips_high_below_low_to_contain_open_close(self) -> None:
        df = prices(high=[10.5, 20.5, 10.0, 12.5, 21.5])  # row 2: high 10.0 < low 10.5
        feed = DataFeed.from_polars(df, repair="fix")
        # open 11.0, close 11.2: high = max(10.0, 11.0, 11.2), low = min(10.5, 11.0, 11.2)
        assert (feed.high[1, 0], feed.low[1, 0]) == (11.2, 10.5)

    def test_repair_that_drops_every_row_raises_empty(self) -> None:
        df = prices(close=[math.nan] * 5)
        with pytest.raises(DataValidationError, match="no rows left after repair"):
            DataFeed.from_polars(df, repair="drop")


class TestSignalsAndContext:
    def test_signals_frame_is_aligned_as_of_per_asset(self) -> None:
        sig = pl.DataFrame(
            {
                "timestamp": [datetime(2024, 1, 2, 12), datetime(2024, 1, 1)],
                "asset": ["AAA", "BBB"],
                "pred": [0.5, -0.2],
            }
        )
        feed = DataFeed.from_polars(prices(), signals=sig)
        pred = feed.signals["pred"]
        # AAA's value stamped Jan 2 12:00 is visible from the Jan 3 bar on
        assert math.isnan(pred[0, 0])
        assert pred[1:, 0].tolist() == [0.5, 0.5]
        # BBB's value stamped Jan 1 is visible from the first bar and carried forward
        assert pred[:, 1].tolist() == [-0.2, -0.2, -0.2]

    def test_signal_lag_delays_visibility(self) -> None:
        sig = pl.DataFrame({"timestamp": [D1], "asset": ["AAA"], "pred": [1.0]})
        feed = DataFeed.from_polars(prices(), signals=sig, signal_lag=timedelta(days=1))
        assert np.isnan(feed.signals["pred"][0, 0])
        assert feed.signals["pred"][1:, 0].tolist() == [1.0, 1.0]

    def test_exact_signal_mode_does_not_carry_values_forward(self) -> None:
        sig = pl.DataFrame({"timestamp": [D1], "asset": ["AAA"], "pred": [1.0]})
        feed = DataFeed.from_polars(prices(), signals=sig, signal_mode="exact")
        col = feed.signals["pred"][:, 0]
        assert col[0] == 1.0
        assert np.isnan(col[1:]).all()

    def test_explicit_nan_signal_overrides_the_previous_value(self) -> None:
        sig = pl.DataFrame(
            {"timestamp": [D1, D2], "asset": ["AAA", "AAA"], "pred": [1.0, math.nan]}
        )
        feed = DataFeed.from_polars(prices(), signals=sig)
        col = feed.signals["pred"][:, 0]
        assert col[0] == 1.0
        assert np.isnan(col[1])
        assert np.isnan(col[2])

    def test_two_signal_rows_before_one_bar_keep_the_later(self) -> None:
        sig = pl.DataFrame(
            {
                "timestamp": [datetime(2024, 1, 2, 13), datetime(2024, 1, 2, 12)],
                "asset": ["AAA", "AAA"],
                "pred": [2.0, 1.0],
            }
        )
        feed = DataFeed.from_polars(prices(), signals=sig)
        assert feed.signals["pred"][1, 0] == 2.0

    def test_signals_with_unknown_asset_raise(self) -> None:
        sig = pl.DataFrame({"timestamp": [D1], "asset": ["ZZZ"], "pred": [1.0]})
        with pytest.raises(DataValidationError, match=r"assets \['ZZZ'\]") as info:
            DataFeed.from_polars(prices(), signals=sig)
        assert info.value.check == "unknown_asset"

    def test_signals_with_duplicate_key_raise(self) -> None:
        sig = pl.DataFrame({"timestamp": [D1, D1], "asset": ["AAA", "AAA"], "pred": [1.0, 2.0]})
        with pytest.raises(DataValidationError) as info:
            DataFeed.from_polars(prices(), signals=sig)
        assert (info.value.check, info.value.rows) == ("duplicate", (1,))

    def test_signal_name_clash_raises(self) -> None:
        sig = pl.DataFrame({"timestamp": [D1], "asset": ["AAA"], "close": [1.0]})
        with pytest.raises(DataValidationError) as info:
            DataFeed.from_polars(prices(), signals=sig)
        assert (info.value.check, info.value.column) == ("column_clash", "close")

    def test_context_is_aligned_as_of_with_publication_lag(self) -> None:
        ctx = pl.DataFrame({"timestamp": [D2, D1], "vix": [15.0, 14.0]})
        feed = DataFeed.from_polars(prices(), context=ctx)
        assert feed.context["vix"].tolist() == [14.0, 15.0, 15.0]
        lagged = DataFeed.from_polars(prices(), context=ctx, context_lag=NS_PER_DAY)
        assert np.isnan(lagged.context["vix"][0])
        assert lagged.context["vix"][1:].tolist() == [14.0, 15.0]

    def test_negative_lag_raises(self) -> None:
        ctx = pl.DataFrame({"timestamp": [D1], "vix": [14.0]})
        with pytest.raises(ConfigError, match="`context_lag` must be >= 0"):
            DataFeed.from_polars(prices(), context=ctx, context_lag=-1)

    def test_to_lag_ns(self) -> None:
        assert to_lag_ns(timedelta(hours=1, microseconds=1)) == 3_600_000_001_000
        with pytest.raises(ConfigError):
            to_lag_ns(1.5)  # type: ignore[arg-type]


class TestDerived:
    def test_slice_is_inclusive(self) -> None:
        feed = DataFeed.from_polars(prices())
        part = feed.slice("2024-01-03", "2024-01-04")
        assert part.timestamps.tolist() == [T2, T3]
        assert part.close[:, 0].tolist() == [11.2, 12.2]
        assert feed.slice(end=D1).n_timestamps == 1

    def test_slice_outside_range_raises(self) -> None:
        with pytest.raises(ConfigError, match="no timestamps between"):
            DataFeed.from_polars(prices()).slice("2030-01-01")

    def test_select_drops_timestamps_without_bars(self) -> None:
        feed = DataFeed.from_polars(prices()).select(["BBB"])
        assert feed.assets == ("BBB",)
        assert feed.timestamps.tolist() == [T1, T3]
        assert feed.close[:, 0].tolist() == [20.2, 21.2]

    def test_select_unknown_asset_raises(self) -> None:
        with pytest.raises(UnknownAssetError, match="'ZZZ' is not in the feed"):
            DataFeed.from_polars(prices()).select(["ZZZ"])

    def test_summary(self) -> None:
        summary = DataFeed.from_polars(prices()).summary()
        assert summary.select("asset", "bars", "missing").rows() == [("AAA", 3, 0), ("BBB", 2, 1)]
        assert summary["first"].dtype == pl.Datetime("ns", "UTC")

    def test_to_polars_round_trips(self) -> None:
        df = prices(score=[1.0, 2.0, 3.0, 4.0, 5.0])
        feed = DataFeed.from_polars(df)
        out = feed.to_polars()
        expected = df.with_columns(
            pl.col("timestamp").cast(pl.Datetime("ns")).dt.replace_time_zone("UTC"),
            pl.col("volume").cast(pl.Float64),
        )
        assert_frame_equal(out, expected)
        assert DataFeed.from_polars(out).fingerprint() == feed.fingerprint()

    def test_to_polars_with_context(self) -> None:
        ctx = pl.DataFrame({"timestamp": [D1], "vix": [14.0]})
        out = DataFeed.from_polars(prices(), context=ctx).to_polars(include_context=True)
        assert out["vix"].to_list() == [14.0] * 5

    def test_fingerprint_changes_with_any_value(self) -> None:
        a = DataFeed.from_polars(prices())
        b = DataFeed.from_polars(prices(volume=[100, 200, 110, 120, 211]))
        assert a.fingerprint() == DataFeed.from_polars(prices()).fingerprint()
        assert a.fingerprint() != b.fingerprint()
        assert len(a.fingerprint()) == 64

    def test_fingerprint_is_the_documented_digest(self) -> None:
        # the in-place hashing gives the digest of the documented byte layout, including
        # NaNs with another sign or payload (hashed as np.nan), and is cached
        rng = np.random.default_rng(0)
        close = rng.uniform(10, 20, (50, 3))
        close[3, 1] = np.nan
        sig = rng.normal(size=(50, 3))
        sig[5, 0] = -np.nan
        sig[6, 2] = np.array([0x7FF8000000000123], dtype=np.uint64).view(np.float64)[0]
        fields = {"open": close, "high": close, "low": close, "close": close,
                  "volume": close * 0 + 1.0, "sig": sig}  # fmt: skip
        ts = np.arange(50, dtype=np.int64) * NS_PER_DAY
        feed = DataFeed(ts, ["A", "B", "C"], fields, context={"vix": rng.normal(size=50)})

        def reference(f: DataFeed) -> str:
            import hashlib  # noqa: PLC0415

            digest = hashlib.sha256()
            digest.update(b"ml4t-datafeed-v1\x00")
            digest.update(f.timestamps.astype("<i8").tobytes())
            digest.update("\x1f".join(f.assets).encode())
            digest.update(f.has_bar.tobytes())
            for group, arrays in (("f", f.fields), ("c", f.context)):
                for name in sorted(arrays):
                    arr = arrays[name]
                    digest.update(f"\x00{group}:{name}\x00".encode())
                    digest.update(np.where(np.isnan(arr), np.nan, arr).astype("<f8").tobytes())
            digest.update("\x1f".join(f.signals).encode())
            return digest.hexdigest()

        assert feed.fingerprint() == reference(feed)
        assert feed.fingerprint() is feed.fingerprint()  # cached
        clean = fields | {"sig": np.where(np.isnan(sig), np.nan, sig)}
        same = DataFeed(ts, ["A", "B", "C"], clean, context={"vix": feed.context["vix"]})
        assert same.fingerprint() == feed.fingerprint()
        assert feed.slice(end=int(ts[10])).fingerprint() == reference(feed.slice(end=int(ts[10])))
        feed.timestamps = feed.timestamps + 1  # replacing an array is seen
        assert feed.fingerprint() == reference(feed) != same.fingerprint()

    def test_pickle_round_trip_keeps_data_and_read_only_arrays(self) -> None:
        ctx = pl.DataFrame({"timestamp": [D1], "vix": [14.0]})
        feed = DataFeed.from_polars(prices(), context=ctx, repair="fix")
        clone = pickle.loads(pickle.dumps(feed))
        assert clone.fingerprint() == feed.fingerprint()
        assert clone.assets == feed.assets
        assert clone.asset_index == feed.asset_index
        assert not clone.close.flags.writeable
        assert not clone.context["vix"].flags.writeable
        assert clone.repair_report is not None

    def test_repr(self) -> None:
        text = repr(DataFeed.from_polars(prices()))
        assert text.startswith("DataFeed(n_timestamps=3, n_assets=2, start='2024-01-02'")


class TestConstructorFromArrays:
    def test_has_bar_defaults_to_finite_close(self) -> None:
        nan = math.nan
        fields = {f: [[1.0, nan]] for f in ("open", "high", "low", "close", "volume")}
        feed = DataFeed([T1], ["A", "B"], fields)
        assert feed.has_bar.tolist() == [[True, False]]

    def test_unsorted_timestamps_raise(self) -> None:
        fields = {f: [[1.0], [1.0]] for f in ("open", "high", "low", "close", "volume")}
        with pytest.raises(DataValidationError, match="strictly increasing") as info:
            DataFeed([T2, T1], ["A"], fields)
        assert info.value.rows == (1,)

    def test_wrong_shape_raises(self) -> None:
        fields = {f: [[1.0, 2.0]] for f in ("open", "high", "low", "close", "volume")}
        with pytest.raises(DataValidationError, match=r"expected \(1, 1\)"):
            DataFeed([T1], ["A"], fields)

    def test_unsorted_assets_raise(self) -> None:
        fields = {f: [[1.0, 2.0]] for f in ("open", "high", "low", "close", "volume")}
        with pytest.raises(DataValidationError, match="unique and sorted"):
            DataFeed([T1], ["B", "A"], fields)


class TestFiles:
    def test_parquet_and_csv_give_the_same_feed(self, tmp_path: Path) -> None:
        df = prices()
        df.write_parquet(tmp_path / "p.parquet")
        df.write_csv(tmp_path / "p.csv")
        a = DataFeed.from_parquet(tmp_path / "p.parquet")
        b = DataFeed.from_csv(tmp_path / "p.csv")
        assert a.fingerprint() == b.fingerprint() == DataFeed.from_polars(df).fingerprint()

    def test_csv_options_pass_through(self, tmp_path: Path) -> None:
        prices().rename({"asset": "ticker"}).write_csv(tmp_path / "p.csv")
        feed = DataFeed.from_csv(tmp_path / "p.csv", asset_col="ticker")
        assert feed.assets == ("AAA", "BBB")
