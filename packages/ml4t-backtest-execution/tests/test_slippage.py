import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.execution.slippage import (
    CompositeSlippage,
    FixedSlippage,
    NoSlippage,
    PercentageSlippage,
    SlippageModel,
    SpreadSlippage,
    VolumeShareSlippage,
)

prices = st.floats(0.01, 1e5)
quantities = st.floats(0.0, 1e7)
volumes = st.one_of(st.just(math.nan), st.floats(0.0, 1e9))


class TestSlippageModels:
    def test_no_slippage_returns_zero(self):
        assert NoSlippage().slippage(123.0, 1e6, volume=1.0) == 0.0

    def test_fixed_slippage_returns_per_unit_amount(self):
        assert FixedSlippage(0.03).slippage(10.0, 500) == 0.03

    def test_percentage_slippage_is_rate_times_price(self):
        # 5 bp of 80.00 = 0.04
        assert PercentageSlippage(0.0005).slippage(80.0, 1) == pytest.approx(0.04)

    def test_volume_share_below_limit_is_quadratic_in_share(self):
        # 200 of 20,000 = 1%; 50 * 0.1 * 0.01^2 = 0.0005
        s = VolumeShareSlippage(price_impact=0.1, volume_limit=0.025)
        assert s.slippage(50.0, 200, volume=20_000) == pytest.approx(0.0005)

    def test_volume_share_above_limit_is_capped_at_limit(self):
        # share 10% > 2.5% -> 50 * 0.1 * 0.025^2 = 0.003125
        s = VolumeShareSlippage()
        assert s.slippage(50.0, 2000, volume=20_000) == pytest.approx(0.003125)

    def test_volume_share_with_unknown_volume_uses_limit(self):
        assert VolumeShareSlippage().slippage(50.0, 1, volume=math.nan) == pytest.approx(0.003125)

    def test_spread_slippage_pays_half_of_absolute_and_relative_spread(self):
        # half of 0.04 + half of 10 bp of 100 = 0.02 + 0.05
        assert SpreadSlippage(spread=0.04, spread_bps=10.0).slippage(100.0, 1) == pytest.approx(
            0.07
        )

    def test_composite_sums_parts(self):
        both = CompositeSlippage((FixedSlippage(0.01), PercentageSlippage(0.001)))
        assert both.slippage(100.0, 5) == pytest.approx(0.11)

    @pytest.mark.parametrize(
        ("factory", "name"),
        [
            (lambda: FixedSlippage(-0.01), "per_unit"),
            (lambda: PercentageSlippage(math.nan), "rate"),
            (lambda: VolumeShareSlippage(price_impact=-1.0), "price_impact"),
            (lambda: VolumeShareSlippage(volume_limit=1.5), "volume_limit"),
            (lambda: SpreadSlippage(spread_bps=-2.0), "spread_bps"),
        ],
    )
    def test_model_with_out_of_range_parameter_raises_config_error(self, factory, name):
        with pytest.raises(ConfigError, match=name):
            factory()

    def test_models_are_frozen_with_parameter_repr(self):
        model = FixedSlippage(0.02)
        assert repr(model) == "FixedSlippage(per_unit=0.02)"
        with pytest.raises(AttributeError):
            model.per_unit = 1.0  # type: ignore[misc]


ALL_MODELS: list[SlippageModel] = [
    NoSlippage(),
    FixedSlippage(0.01),
    PercentageSlippage(0.001),
    VolumeShareSlippage(),
    SpreadSlippage(spread=0.02, spread_bps=5.0),
    CompositeSlippage((FixedSlippage(0.01), VolumeShareSlippage())),
]


@settings(max_examples=60, deadline=None)
@given(price=prices, quantity=quantities, volume=volumes)
def test_slippage_is_never_negative(price, quantity, volume):
    for model in ALL_MODELS:
        assert model.slippage(price, quantity, volume=volume) >= 0.0


def test_composite_rejects_non_models():
    with pytest.raises(ConfigError, match="SlippageModel"):
        CompositeSlippage((FixedSlippage(0.01), 0.02))  # type: ignore[arg-type]
