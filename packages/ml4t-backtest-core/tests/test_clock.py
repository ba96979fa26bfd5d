from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml4t.backtest.core.clock import Clock, ClockSource, ClockTick
from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.errors import ConfigError, DataValidationError, LookAheadError
from ml4t.backtest.core.types import NS_PER_DAY, to_timestamp


def daily() -> ClockSource:
    return ClockSource.from_arrays("daily", [10, 20, 30, 40], {"close": [1.0, 2.0, 3.0, 4.0]})


class TestClockSource:
    def test_visible_at_adds_the_lag(self) -> None:
        src = ClockSource.from_arrays("m", [0, 100], {"x": [1.0, 2.0]}, lag=timedelta(0, 0, 1))
        assert src.lag == 1_000
        assert src.visible_at.tolist() == [1_000, 1_100]

    def test_unsorted_timestamps_raise(self) -> None:
        with pytest.raises(DataValidationError, match="index 1") as info:
            ClockSource.from_arrays("m", [5, 1], {"x": [1.0, 2.0]})
        assert info.value.check == "unsorted"

    def test_column_length_must_match(self) -> None:
        with pytest.raises(ConfigError, match="first axis must match the 2 timestamps"):
            ClockSource.from_arrays("m", [1, 2], {"x": [1.0]})

    def test_empty_name_raises(self) -> None:
        with pytest.raises(ConfigError, match="non-empty `name`"):
            ClockSource.from_arrays("", [1], {"x": [1.0]})

    def test_from_polars_long_format_pivots_per_asset(self) -> None:
        df = pl.DataFrame(
            {
                "timestamp": [date(2024, 1, 3), date(2024, 1, 2), date(2024, 1, 3)],
                "asset": ["B", "A", "A"],
                "score": [3.0, 1.0, 2.0],
            }
        )
        src = ClockSource.from_polars("s", df, asset_col="asset")
        assert src.assets == ("A", "B")
        assert src.timestamps.tolist() == [to_timestamp("2024-01-02"), to_timestamp("2024-01-03")]
        grid = src.values["score"]
        assert grid[0, 0] == 1.0
        assert math.isnan(grid[0, 1])
        assert grid[1].tolist() == [2.0, 3.0]

    def test_from_feed_uses_fields_and_assets(self) -> None:
        feed = DataFeed(
            [1, 2], ["X"], {f: [[1.0], [2.0]] for f in ("open", "high", "low", "close", "volume")}
        )
        src = ClockSource.from_feed("px", feed, lag=5)
        assert src.assets == ("X",)
        assert src.visible_at.tolist() == [6, 7]
        assert src.values["close"].shape == (2, 1)


class TestClock:
    def test_ticks_merge_sources_in_time_order(self) -> None:
        macro = ClockSource.from_arrays("macro", [5, 25], {"cpi": [300.0, 301.0]}, lag=20)
        ticks = list(Clock(daily(), macro))
        assert ticks == [
            ClockTick(0, 10, ("daily",)),
            ClockTick(1, 20, ("daily",)),
            ClockTick(2, 25, ("macro",)),
            ClockTick(3, 30, ("daily",)),
            ClockTick(4, 40, ("daily",)),
            ClockTick(5, 45, ("macro",)),
        ]

    def test_simultaneous_updates_list_every_source(self) -> None:
        other = ClockSource.from_arrays("other", [20], {"y": [9.0]})
        ticks = list(Clock(daily(), other))
        assert ticks[1].updated == ("daily", "other")

    def test_asof_returns_latest_visible_value_only(self) -> None:
        macro = ClockSource.from_arrays("macro", [5], {"cpi": [300.0]}, lag=20)
        clock = Clock(daily(), macro)
        seen = []
        for tick in clock:
            row = clock.asof("macro")
            seen.append((tick.timestamp, None if row is None else row["cpi"]))
        assert seen == [(10, None), (20, None), (25, 300.0), (30, 300.0), (40, 300.0)]

    def test_asof_for_per_asset_source_returns_rows(self) -> None:
        src = ClockSource.from_arrays("px", [1, 2], {"close": [[1.0, 2.0], [3.0, 4.0]]})
        clock = Clock(src)
        next(iter(clock))
        row = clock.asof("px")
        assert row is not None
        assert row["close"].tolist() == [1.0, 2.0]

    def test_reading_after_now_raises_look_ahead_error(self) -> None:
        clock = Clock(daily())
        it = iter(clock)
        next(it)
        next(it)  # now = 20
        assert clock.now == 20
        assert clock.asof("daily", 15) == {"close": 1.0}
        with pytest.raises(LookAheadError, match="but the clock is at"):
            clock.asof("daily", 21)
        with pytest.raises(LookAheadError):
            clock.asof_index("daily", 30)

    def test_reading_now_before_start_raises(self) -> None:
        clock = Clock(daily())
        with pytest.raises(LookAheadError, match="before the clock started"):
            clock.asof("daily")
        assert clock.asof("daily", 25) == {"close": 2.0}  # explicit time is fine outside a run

    def test_reset_moves_before_the_first_tick(self) -> None:
        clock = Clock(daily())
        list(clock)
        assert clock.now == 40
        clock.reset()
        assert clock.now is None

    def test_positions_and_updated_arrays(self) -> None:
        macro = ClockSource.from_arrays("macro", [5], {"cpi": [300.0]}, lag=20)
        clock = Clock(daily(), macro)
        assert clock.timestamps.tolist() == [10, 20, 25, 30, 40]
        assert clock.positions("daily").tolist() == [0, 1, 1, 2, 3]
        assert clock.positions("macro").tolist() == [-1, -1, 0, 0, 0]
        assert clock.updated("macro").tolist() == [False, False, True, False, False]

    def test_duplicate_source_names_raise(self) -> None:
        with pytest.raises(ConfigError, match=r"repeated: \['daily'\]"):
            Clock(daily(), daily())

    def test_unknown_source_raises(self) -> None:
        with pytest.raises(ConfigError, match="unknown clock source 'x'"):
            Clock(daily()).asof("x", 10)

    def test_no_sources_raise(self) -> None:
        with pytest.raises(ConfigError, match="at least one source"):
            Clock()

    def test_from_mapping_with_monthly_data_published_five_days_later(self) -> None:
        days = [date(2024, 1, d) for d in range(1, 32)]
        px = pl.DataFrame({"timestamp": days, "spy": np.arange(31, dtype=float)})
        cpi = pl.DataFrame(
            {"timestamp": [date(2023, 12, 31), date(2024, 1, 31)], "cpi": [1.0, 2.0]}
        )
        clock = Clock.from_mapping({"px": px, "cpi": cpi}, lags={"cpi": timedelta(days=5)})
        values = {}
        for tick in clock:
            row = clock.asof("cpi")
            values[tick.timestamp] = None if row is None else row["cpi"]
        assert values[to_timestamp("2024-01-04")] is None
        assert values[to_timestamp("2024-01-05")] == 1.0  # Dec 31 + 5 days
        assert values[to_timestamp("2024-01-31")] == 1.0  # the January print is not out yet
        assert to_timestamp("2024-02-05") in values  # and is published on Feb 5
        assert values[to_timestamp("2024-02-05")] == 2.0

    def test_from_mapping_accepts_feeds_and_sources_and_renames(self) -> None:
        feed = DataFeed(
            [NS_PER_DAY], ["X"], {f: [[1.0]] for f in ("open", "high", "low", "close", "volume")}
        )
        clock = Clock.from_mapping({"px": feed, "m": daily()}, lags={"m": 1})
        assert clock.sources == ("px", "m")
        assert clock.source("m").lag == 1
        with pytest.raises(ConfigError, match="unknown sources"):
            Clock.from_mapping({"px": feed}, lags={"nope": 1})


sorted_times = st.lists(st.integers(0, 1_000), min_size=0, max_size=15).map(sorted)


@settings(max_examples=150, deadline=None)
@given(
    sources=st.lists(st.tuples(sorted_times, st.integers(0, 200)), min_size=1, max_size=4),
    probe=st.integers(1, 50),
)
def test_no_source_ever_shows_a_value_before_it_is_visible(
    sources: list[tuple[list[int], int]], probe: int
) -> None:
    built = [
        ClockSource.from_arrays(f"s{i}", ts, {"v": np.arange(len(ts), dtype=float)}, lag=lag)
        for i, (ts, lag) in enumerate(sources)
    ]
    if all(len(s) == 0 for s in built):
        assert len(Clock(*built)) == 0
        return
    clock = Clock(*built)
    previous = -1
    for tick in clock:
        assert tick.timestamp > previous
        previous = tick.timestamp
        for src in built:
            row = clock.asof_index(src.name)
            ts, lag = src.timestamps, src.lag
            if row >= 0:
                # visible: published at or before now ...
                assert ts[row] + lag <= tick.timestamp
                got = clock.asof(src.name)
                assert got is not None
                assert got["v"] == float(row)
            # ... and the latest such row: the next one is still in the future
            if row + 1 < len(src):
                assert ts[row + 1] + lag > tick.timestamp
            published_now = bool(np.any(ts + lag == tick.timestamp))
            assert (src.name in tick.updated) == published_now
            with pytest.raises(LookAheadError):
                clock.asof(src.name, tick.timestamp + probe)
