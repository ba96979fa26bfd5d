from __future__ import annotations

import math
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml4t.backtest.core.enums import OrderSide, RoundingMode
from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.core.precision import (
    GRID_EPSILON,
    is_on_grid,
    is_on_grid_array,
    round_limit_price,
    round_money,
    round_price,
    round_prices,
    round_quantities,
    round_quantity,
    round_to_grid,
    round_to_grid_array,
    step_decimals,
)


class TestStepDecimals:
    @pytest.mark.parametrize(
        ("step", "expected"),
        [
            (0.01, 2),
            (0.05, 2),
            (0.25, 2),
            (1.0, 0),
            (5.0, 0),
            (1e-8, 8),
            (0.00001, 5),
            (0.03125, 5),
        ],
    )
    def test_step_decimals_counts_decimal_places(self, step: float, expected: int) -> None:
        assert step_decimals(step) == expected

    @pytest.mark.parametrize("step", [0.0, -0.01, math.nan, math.inf])
    def test_step_decimals_with_bad_step_raises_config_error(self, step: float) -> None:
        with pytest.raises(ConfigError, match="`step` must be finite and > 0"):
            step_decimals(step)


class TestRoundToGrid:
    def test_float_noise_above_grid_point_rounds_down_to_it(self) -> None:
        # 0.1 + 0.2 = 0.30000000000000004: 30.000000000000004 ticks -> 30 ticks in every mode
        value = 0.1 + 0.2
        for mode in RoundingMode:
            assert round_to_grid(value, 0.01, mode=mode) == 0.3

    def test_float_noise_below_grid_point_rounds_up_to_it(self) -> None:
        # 0.29 / 0.01 = 28.999999999999996: a naive floor gives 0.28
        assert math.floor(0.29 / 0.01) == 28
        assert round_to_grid(0.29, 0.01, mode=RoundingMode.DOWN) == 0.29
        assert round_to_grid(0.29, 0.01, mode=RoundingMode.TOWARD_ZERO) == 0.29
        assert round_to_grid(0.7, 0.1, mode=RoundingMode.DOWN) == 0.7  # 6.999999999999999

    @pytest.mark.parametrize(
        ("mode", "expected"),
        [
            (RoundingMode.NEAREST, 10.02),
            (RoundingMode.DOWN, 10.01),
            (RoundingMode.UP, 10.02),
            (RoundingMode.TOWARD_ZERO, 10.01),
            (RoundingMode.AWAY_FROM_ZERO, 10.02),
        ],
    )
    def test_positive_value_between_ticks_follows_mode(
        self, mode: RoundingMode, expected: float
    ) -> None:
        assert round_to_grid(10.017, 0.01, mode=mode) == expected

    @pytest.mark.parametrize(
        ("mode", "expected"),
        [
            (RoundingMode.NEAREST, -10.02),
            (RoundingMode.DOWN, -10.02),
            (RoundingMode.UP, -10.01),
            (RoundingMode.TOWARD_ZERO, -10.01),
            (RoundingMode.AWAY_FROM_ZERO, -10.02),
        ],
    )
    def test_negative_value_between_ticks_follows_mode(
        self, mode: RoundingMode, expected: float
    ) -> None:
        assert round_to_grid(-10.017, 0.01, mode=mode) == expected

    def test_tie_goes_away_from_zero_even_when_float_is_just_below(self) -> None:
        # 0.145 / 0.01 = 14.499999999999998 in binary; it is a tie in decimal
        assert 0.145 / 0.01 < 14.5
        assert round_to_grid(0.145, 0.01) == 0.15
        assert round_to_grid(1.005, 0.01) == 1.01  # 100.49999999999999 ticks
        assert round_to_grid(0.125, 0.01) == 0.13
        assert round_to_grid(-0.125, 0.01) == -0.13
        assert round_to_grid(2.5, 1.0) == 3.0

    def test_quarter_tick_grid(self) -> None:
        assert round_to_grid(4501.37, 0.25) == 4501.25
        assert round_to_grid(4501.38, 0.25) == 4501.5

    def test_nan_and_inf_pass_through(self) -> None:
        assert math.isnan(round_to_grid(math.nan, 0.01))
        assert round_to_grid(math.inf, 0.01) == math.inf

    def test_result_is_never_negative_zero(self) -> None:
        result = round_to_grid(-0.001, 0.01, mode=RoundingMode.TOWARD_ZERO)
        assert result == 0.0
        assert math.copysign(1.0, result) == 1.0

    def test_value_just_off_grid_beyond_epsilon_is_not_snapped(self) -> None:
        value = 0.3 + 0.01 * 1e-6  # a millionth of a tick above 0.30
        assert round_to_grid(value, 0.01, mode=RoundingMode.UP) == 0.31

    def test_bad_step_raises_config_error(self) -> None:
        with pytest.raises(ConfigError, match="`step`"):
            round_to_grid(1.0, 0.0)


class TestPriceAndQuantity:
    def test_round_price_nearest_nickel(self) -> None:
        assert round_price(101.237, 0.05) == 101.25
        assert round_price(101.224, 0.05) == 101.2

    def test_round_price_bad_tick_names_tick_size(self) -> None:
        with pytest.raises(ConfigError, match="`tick_size` must be finite and > 0, was -1"):
            round_price(10.0, -1.0)

    def test_buy_limit_rounds_down_and_sell_limit_rounds_up(self) -> None:
        assert round_limit_price(10.037, 0.01, OrderSide.BUY) == 10.03
        assert round_limit_price(10.031, 0.01, OrderSide.SELL) == 10.04

    def test_limit_already_on_grid_is_unchanged_for_both_sides(self) -> None:
        price = 0.1 + 0.2  # 0.30000000000000004 is on the grid within epsilon
        assert round_limit_price(price, 0.01, OrderSide.BUY) == 0.3
        assert round_limit_price(price, 0.01, OrderSide.SELL) == 0.3

    def test_round_quantity_floors_toward_zero_by_default(self) -> None:
        assert round_quantity(10.9, 1.0) == 10.0
        assert round_quantity(-10.9, 1.0) == -10.0
        assert round_quantity(149.0, 100.0) == 100.0

    def test_round_quantity_fractional_crypto_lot(self) -> None:
        assert round_quantity(0.123456789, 1e-8) == 0.12345678

    def test_round_quantity_nearest_when_asked(self) -> None:
        assert round_quantity(10.6, 1.0, mode=RoundingMode.NEAREST) == 11.0

    def test_round_quantity_bad_lot_names_lot_size(self) -> None:
        with pytest.raises(ConfigError, match="`lot_size`"):
            round_quantity(1.0, 0.0)


class TestIsOnGrid:
    @pytest.mark.parametrize(
        ("value", "step", "expected"),
        [
            (0.1 + 0.2, 0.01, True),
            (0.305, 0.01, False),
            (100.0, 0.25, True),
            (100.1, 0.25, False),
            (math.nan, 0.01, False),
            (math.inf, 0.01, False),
            (-0.3, 0.01, True),
        ],
    )
    def test_is_on_grid(self, value: float, step: float, expected: bool) -> None:
        assert is_on_grid(value, step) is expected

    def test_tolerance_widens_with_the_float_resolution_of_large_values(self) -> None:
        # 128.16560767 is 12_816_560_767 satoshis; float division is off by ~2e-6 units there
        assert is_on_grid(128.16560767, 1e-8)
        assert not is_on_grid(128.165607675, 1e-8)

    def test_tolerance_is_relative_to_the_grid(self) -> None:
        # half the epsilon in ticks is on the grid, twice the epsilon is not
        assert is_on_grid(1.0 + 0.5 * GRID_EPSILON * 0.01, 0.01)
        assert not is_on_grid(1.0 + 1e-6 * 0.01, 0.01)


class TestRoundMoney:
    def test_half_even_by_default(self) -> None:
        assert round_money(2.675) == Decimal("2.68")
        assert round_money(2.665) == Decimal("2.66")
        assert round_money(0.125) == Decimal("0.12")

    def test_float_is_read_through_its_shortest_text(self) -> None:
        assert round_money(0.1 + 0.2, 2) == Decimal("0.30")

    def test_places_and_rounding_are_configurable(self) -> None:
        assert round_money("1234.5678", 3) == Decimal("1234.568")
        assert round_money(0.125, rounding=ROUND_HALF_UP) == Decimal("0.13")
        assert round_money(-1.239, 2, rounding=ROUND_DOWN) == Decimal("-1.23")
        assert round_money(7, 0) == Decimal("7")

    def test_negative_places_raise(self) -> None:
        with pytest.raises(ConfigError, match="`places` must be >= 0, was -1"):
            round_money(1.0, -1)

    def test_nan_amount_raises(self) -> None:
        with pytest.raises(ConfigError, match="`amount` must be finite"):
            round_money(math.nan)


class TestArrays:
    def test_round_to_grid_array_matches_hand_values(self) -> None:
        out = round_to_grid_array([0.1 + 0.2, 0.145, -0.145, 10.017, math.nan], 0.01)
        assert out[:4].tolist() == [0.3, 0.15, -0.15, 10.02]
        assert math.isnan(out[4])
        down = round_to_grid_array([0.29, 0.7], 0.01, mode=RoundingMode.DOWN)
        assert down.tolist() == [0.29, 0.7]
        assert out.dtype == np.float64

    def test_round_prices_and_quantities(self) -> None:
        assert round_prices([101.237], 0.05, mode=RoundingMode.DOWN).tolist() == [101.2]
        assert round_quantities([10.9, -10.9, 0.7 + 0.1], 0.1).tolist() == [10.9, -10.9, 0.8]

    def test_is_on_grid_array(self) -> None:
        assert is_on_grid_array([0.3, 0.305, math.nan], 0.01).tolist() == [True, False, False]

    @settings(max_examples=200, deadline=None)
    @given(
        values=st.lists(
            st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
            min_size=1,
            max_size=20,
        ),
        step=st.sampled_from([0.01, 0.05, 0.25, 1.0, 1e-4, 1e-8, 100.0]),
        mode=st.sampled_from(list(RoundingMode)),
    )
    def test_array_twin_equals_scalar_and_result_is_on_grid(
        self, values: list[float], step: float, mode: RoundingMode
    ) -> None:
        out = round_to_grid_array(values, step, mode=mode)
        for value, got in zip(values, out.tolist(), strict=True):
            assert got == round_to_grid(value, step, mode=mode)
            assert is_on_grid(got, step, eps=1e-6)
            # float64 holds ~15.9 significant digits: allow that much beyond the grid
            slack = step * 1e-6 + abs(value) * 1e-14
            assert abs(got - value) <= step + slack
            if mode is RoundingMode.DOWN:
                assert got <= value + slack
            if mode is RoundingMode.UP:
                assert got >= value - slack
            if mode is RoundingMode.TOWARD_ZERO:
                assert abs(got) <= abs(value) + slack
