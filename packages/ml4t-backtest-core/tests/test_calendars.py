from __future__ import annotations

import builtins
import sys
from datetime import date
from typing import Any

import numpy as np
import polars as pl
import pytest

from ml4t.backtest.core import calendars as calendars_module
from ml4t.backtest.core.calendars import (
    Crypto247Calendar,
    ExchangeCalendar,
    calendar_gaps,
    get_calendar,
    missing_sessions,
    non_session_days,
)
from ml4t.backtest.core.data import DataFeed
from ml4t.backtest.core.errors import CalendarError, MissingDependencyError
from ml4t.backtest.core.types import NS_PER_DAY, format_timestamp, to_timestamp

HOUR = 3_600 * 10**9


def feed_on(days: list[str], assets: list[str], bars: list[list[bool]]) -> DataFeed:
    ts = [to_timestamp(d) for d in days]
    has = np.array(bars, dtype=bool)
    values = np.where(has, 1.0, np.nan)
    fields = {f: values for f in ("open", "high", "low", "close", "volume")}
    return DataFeed(ts, assets, fields, has_bar=has)


class TestCrypto:
    def test_every_day_is_a_full_session(self) -> None:
        cal = Crypto247Calendar()
        sessions = cal.sessions("2024-02-27", "2024-03-01")
        assert [format_timestamp(s) for s in sessions] == [
            "2024-02-27",
            "2024-02-28",
            "2024-02-29",
            "2024-03-01",
        ]
        assert cal.is_session("2024-12-25")
        assert cal.is_session("2024-01-06")
        assert not cal.is_half_day("2024-12-24")
        assert cal.open_close("2024-01-02 15:00") == (
            to_timestamp("2024-01-02"),
            to_timestamp("2024-01-03"),
        )

    def test_reversed_range_is_empty(self) -> None:
        assert Crypto247Calendar().sessions("2024-01-05", "2024-01-01").size == 0

    @pytest.mark.parametrize("name", ["24/7", "crypto", "CRYPTO"])
    def test_get_calendar_names(self, name: str) -> None:
        assert isinstance(get_calendar(name), Crypto247Calendar)


class TestMissingDependency:
    def test_exchange_calendar_without_the_extra_names_the_install_command(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        real_import = builtins.__import__

        def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
            if name.startswith("exchange_calendars"):
                raise ImportError("No module named 'exchange_calendars'")
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", fake_import)
        monkeypatch.delitem(sys.modules, "exchange_calendars", raising=False)
        with pytest.raises(MissingDependencyError) as info:
            ExchangeCalendar("XNYS")
        assert 'pip install "ml4t-backtest-core[calendars]"' in str(info.value)
        assert isinstance(info.value, ImportError)


class TestGaps:
    def test_missing_sessions_on_a_24_7_calendar(self) -> None:
        ts = [to_timestamp(d) for d in ("2024-01-01", "2024-01-02", "2024-01-05")]
        missing = missing_sessions(ts, Crypto247Calendar())
        assert [format_timestamp(s) for s in missing] == ["2024-01-03", "2024-01-04"]

    def test_intraday_bars_count_for_their_day(self) -> None:
        ts = [to_timestamp("2024-01-01") + 13 * HOUR, to_timestamp("2024-01-02") + 20 * HOUR]
        assert missing_sessions(ts, Crypto247Calendar()).size == 0

    def test_calendar_gaps_per_asset_between_first_and_last_bar(self) -> None:
        feed = feed_on(
            ["2024-01-01", "2024-01-02", "2024-01-04"],
            ["A", "B"],
            [[True, False], [False, True], [True, True]],
        )
        gaps = calendar_gaps(feed, Crypto247Calendar())
        assert gaps.rows() == [
            ("A", date(2024, 1, 2)),
            ("A", date(2024, 1, 3)),
            ("B", date(2024, 1, 3)),
        ]
        assert gaps.schema == pl.Schema({"asset": pl.String, "session": pl.Date})

    def test_non_session_days_on_24_7_is_empty(self) -> None:
        assert non_session_days([to_timestamp("2024-01-06")], Crypto247Calendar()).size == 0


@pytest.fixture(scope="module")
def nyse() -> Any:
    pytest.importorskip("exchange_calendars")
    return get_calendar("NYSE")


class TestNYSE:
    def test_aliases_give_the_same_calendar(self, nyse: Any) -> None:
        assert nyse.name == "XNYS"
        assert get_calendar("xnys") is nyse  # cached
        assert nyse.timezone == "America/New_York"

    def test_independence_day_2024_is_closed(self, nyse: Any) -> None:
        assert not nyse.is_session("2024-07-04")
        assert nyse.is_session("2024-07-05")
        with pytest.raises(
            CalendarError, match=r"2024-07-04 is not a XNYS session \(next session: 2024-07-05\)"
        ):
            nyse.open_close("2024-07-04")

    def test_day_after_thanksgiving_2024_is_a_half_day_closing_13_00_et(self, nyse: Any) -> None:
        assert nyse.is_half_day("2024-11-29")
        open_, close = nyse.open_close("2024-11-29")
        # 09:30 and 13:00 EST are 14:30 and 18:00 UTC
        assert open_ == to_timestamp("2024-11-29T14:30:00")
        assert close == to_timestamp("2024-11-29T18:00:00")
        assert not nyse.is_half_day("2024-11-27")
        assert nyse.open_close("2024-11-27")[1] == to_timestamp("2024-11-27T21:00:00")

    def test_summer_session_hours_follow_daylight_saving(self, nyse: Any) -> None:
        assert nyse.open_close("2024-07-05") == (
            to_timestamp("2024-07-05T13:30:00"),
            to_timestamp("2024-07-05T20:00:00"),
        )

    def test_sessions_skip_weekends_and_holidays(self, nyse: Any) -> None:
        sessions = nyse.sessions("2024-07-01", "2024-07-08")
        assert [format_timestamp(s) for s in sessions] == [
            "2024-07-01",
            "2024-07-02",
            "2024-07-03",
            "2024-07-05",
            "2024-07-08",
        ]
        assert sessions.dtype == np.int64
        assert np.all(sessions % NS_PER_DAY == 0)

    def test_2024_has_252_sessions(self, nyse: Any) -> None:
        assert nyse.sessions("2024-01-01", "2024-12-31").size == 252

    def test_outside_the_covered_range_raises(self, nyse: Any) -> None:
        with pytest.raises(CalendarError, match="build it with a wider start="):
            nyse.is_session("1980-01-02")

    def test_unknown_code_raises(self) -> None:
        pytest.importorskip("exchange_calendars")
        with pytest.raises(CalendarError, match="unknown calendar 'NOPE'"):
            get_calendar("NOPE")

    def test_unknown_option_raises(self) -> None:
        with pytest.raises(CalendarError, match="unknown calendar options"):
            get_calendar("NYSE", tz="UTC")

    def test_gaps_of_a_feed_against_nyse(self, nyse: Any) -> None:
        feed = feed_on(
            ["2024-07-02", "2024-07-03", "2024-07-06", "2024-07-08"],  # 07-06 is a Saturday
            ["A"],
            [[True], [True], [True], [True]],
        )
        assert [format_timestamp(s) for s in missing_sessions(feed, nyse)] == ["2024-07-05"]
        assert [format_timestamp(s) for s in non_session_days(feed, nyse)] == ["2024-07-06"]
        assert calendar_gaps(feed, nyse).rows() == [("A", date(2024, 7, 5))]


def test_calendars_module_exports() -> None:
    assert set(calendars_module.__all__) >= {"get_calendar", "TradingCalendar", "calendar_gaps"}
