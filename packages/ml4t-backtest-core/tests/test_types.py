from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pytest

from ml4t.backtest.core.errors import InvalidPriceError, InvalidQuantityError
from ml4t.backtest.core.types import (
    NS_PER_DAY,
    NS_PER_SECOND,
    Money,
    Price,
    Quantity,
    format_timestamp,
    to_timestamp,
)

JAN2 = 1_704_153_600_000_000_000  # 2024-01-02T00:00:00Z = 19724 days * 86400 s


class TestValueTypes:
    def test_price_must_be_finite_and_positive(self) -> None:
        assert float(Price(101.25)) == 101.25
        for bad in (0.0, -1.0, math.nan, math.inf):
            with pytest.raises(InvalidPriceError, match="must be finite and > 0"):
                Price(bad)

    def test_quantity_must_be_finite_and_non_negative(self) -> None:
        assert float(Quantity(0.0)) == 0.0
        with pytest.raises(InvalidQuantityError, match="was -1"):
            Quantity(-1)
        with pytest.raises(InvalidQuantityError):
            Quantity(math.nan)

    def test_money_checks_amount_and_iso_code(self) -> None:
        assert Money(-5.0, "EUR").amount == -5.0
        with pytest.raises(ValueError, match="`amount`"):
            Money(math.inf)
        for bad in ("usd", "US", "U$D"):
            with pytest.raises(ValueError, match="3-letter upper-case ISO code"):
                Money(1.0, bad)

    def test_value_types_are_frozen(self) -> None:
        price = Price(1.0)
        with pytest.raises(AttributeError):
            price.value = 2.0  # type: ignore[misc]


class TestTimestamps:
    def test_constants(self) -> None:
        assert NS_PER_SECOND == 10**9
        assert NS_PER_DAY == 86_400 * 10**9
        assert JAN2 == 19_724 * NS_PER_DAY

    @pytest.mark.parametrize(
        "value",
        [
            "2024-01-02",
            "2024-01-02T00:00:00",
            "2024-01-02T01:00:00+01:00",
            datetime(2024, 1, 2),
            datetime(2024, 1, 2, tzinfo=UTC),
            datetime(2024, 1, 1, 19, tzinfo=timezone(timedelta(hours=-5))),
            date(2024, 1, 2),
            np.datetime64("2024-01-02"),
            np.datetime64("2024-01-02T00:00:00.000000000"),
            JAN2,
            np.int64(JAN2),
        ],
    )
    def test_to_timestamp_reads_every_supported_form(self, value: object) -> None:
        assert to_timestamp(value) == JAN2  # type: ignore[arg-type]

    def test_microseconds_are_kept(self) -> None:
        assert to_timestamp(datetime(2024, 1, 2, 0, 0, 0, 5)) == JAN2 + 5_000

    def test_bad_values_raise(self) -> None:
        with pytest.raises(ValueError, match="use ISO-8601"):
            to_timestamp("02/01/2024")
        with pytest.raises(ValueError, match="bool is not a point in time"):
            to_timestamp(True)
        with pytest.raises(ValueError, match="unsupported type float"):
            to_timestamp(1.5)  # type: ignore[arg-type]

    def test_format_timestamp(self) -> None:
        assert format_timestamp(JAN2) == "2024-01-02"
        assert format_timestamp(JAN2 + 34_200 * NS_PER_SECOND) == "2024-01-02T09:30:00"
        assert format_timestamp(JAN2 + 1_500_000) == "2024-01-02T00:00:00.0015"

    def test_text_with_nanoseconds_keeps_them(self) -> None:
        assert to_timestamp("2024-01-02T00:00:00.000000007") == JAN2 + 7
        assert to_timestamp("2024-01-02T00:00:00.12345678+00:00") == JAN2 + 123_456_780

    def test_round_trip(self) -> None:
        ts = JAN2 + 12_345_678_900
        assert to_timestamp(format_timestamp(ts)) == ts
