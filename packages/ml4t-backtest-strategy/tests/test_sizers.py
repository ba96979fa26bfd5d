"""Position sizers and risk-parity weights, against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.strategy.sizers import (
    FixedQuantitySizer,
    FixedValueSizer,
    KellySizer,
    PercentEquitySizer,
    VolatilityTargetSizer,
    kelly_fraction,
    risk_parity_weights,
)


class TestSizers:
    def test_fixed_quantity_rounds_to_the_grid(self):
        assert FixedQuantitySizer(150).quantity(equity=1.0, price=1.0, step=100.0) == 100.0

    def test_fixed_value_uses_the_multiplier(self):
        # 100,000 / (4,000 * 50) = 0.5 contracts -> 0 whole contracts
        assert FixedValueSizer(100_000).quantity(equity=1e6, price=4000.0, multiplier=50.0) == 0.0
        assert FixedValueSizer(500_000).quantity(equity=1e6, price=4000.0, multiplier=50.0) == 2.0

    def test_percent_of_equity_with_fractional_step(self):
        q = PercentEquitySizer(0.1).quantity(equity=10_000.0, price=30_000.0, step=1e-4)
        assert q == pytest.approx(0.0333)

    def test_missing_or_bad_price_gives_zero(self):
        assert PercentEquitySizer(0.1).quantity(equity=1e4, price=math.nan) == 0.0
        assert PercentEquitySizer(0.1).quantity(equity=1e4, price=0.0) == 0.0

    def test_volatility_target_hand_computed(self):
        r = np.array([0.02, -0.02, 0.02, -0.02])
        sigma = np.std(r, ddof=1) * math.sqrt(252)  # 0.02309 * 15.87 = 0.3666
        sizer = VolatilityTargetSizer(target=0.2)
        assert sizer.weight(r) == pytest.approx(0.2 / sigma)
        assert sizer.quantity(equity=100_000.0, price=50.0, returns=r) == math.floor(
            0.2 / sigma * 100_000.0 / 50.0
        )

    def test_volatility_target_caps_weight_and_needs_returns(self):
        calm = np.full(10, 0.001) + np.arange(10) * 1e-6
        assert VolatilityTargetSizer(target=0.2, max_weight=1.5).weight(calm) == 1.5
        assert VolatilityTargetSizer(target=0.2).weight(np.array([0.01])) == 0.0
        with pytest.raises(ConfigError, match="returns"):
            VolatilityTargetSizer(target=0.2).quantity(equity=1.0, price=1.0)

    def test_kelly_fraction_and_sizer(self):
        assert kelly_fraction(0.55, 2.0) == pytest.approx(0.55 - 0.45 / 2.0)
        assert kelly_fraction(0.3, 1.0) < 0
        sizer = KellySizer(win_rate=0.3, win_loss_ratio=1.0)
        assert sizer.weight == 0.0  # negative edge: do not bet
        half = KellySizer(win_rate=0.55, win_loss_ratio=2.0, fraction=0.5)
        assert half.quantity(equity=100_000.0, price=10.0) == math.floor(0.5 * 0.325 * 10_000)

    @pytest.mark.parametrize(
        "make",
        [
            lambda: PercentEquitySizer(0.0),
            lambda: FixedQuantitySizer(-1),
            lambda: KellySizer(win_rate=1.5, win_loss_ratio=1.0),
            lambda: VolatilityTargetSizer(target=math.inf),
        ],
    )
    def test_invalid_parameters_raise_config_error(self, make):
        with pytest.raises(ConfigError):
            make()


class TestRiskParity:
    def test_inverse_volatility_weights_sum_to_gross(self):
        r = np.array([[0.01, 0.03, 0.0], [-0.01, -0.03, 0.0], [0.01, 0.03, 0.0]])
        w = risk_parity_weights(r, gross=0.8)
        # vols 1:3, third asset has zero volatility -> 0
        assert w.tolist() == pytest.approx([0.6, 0.2, 0.0])

    def test_nan_returns_are_ignored_and_short_histories_get_zero(self):
        r = np.array([[0.01, np.nan], [-0.01, 0.02], [0.01, np.nan]])
        assert risk_parity_weights(r).tolist() == pytest.approx([1.0, 0.0])

    def test_one_dimensional_input_is_rejected(self):
        with pytest.raises(ValueError, match="2-D"):
            risk_parity_weights(np.array([0.1, 0.2]))
