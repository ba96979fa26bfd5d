import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.execution.impact import (
    AlmgrenChrissImpact,
    CompositeImpact,
    KyleLambdaImpact,
    LinearImpact,
    MarketImpact,
    NoImpact,
    SquareRootImpact,
)
from ml4t.backtest.execution.liquidity import VolumeLimit


class TestImpactModels:
    def test_linear_impact_is_proportional_to_participation(self):
        # 0.2 * 40 * (20,000 / 500,000) = 0.32, 25% permanent
        imp = LinearImpact(0.2, permanent_fraction=0.25).impact(40.0, 20_000, adv=500_000)
        assert imp.temporary == pytest.approx(0.24)
        assert imp.permanent == pytest.approx(0.08)

    def test_square_root_impact_hand_computed(self):
        # 0.5 * 0.03 * sqrt(40,000 / 1,000,000) * 80 = 0.5 * 0.03 * 0.2 * 80 = 0.24
        imp = SquareRootImpact(0.5).impact(80.0, 40_000, volatility=0.03, adv=1_000_000)
        assert imp == MarketImpact(pytest.approx(0.24), 0.0)

    def test_almgren_chriss_hand_computed(self):
        # permanent 0.314*0.02*0.05*100 = 0.0314; temporary 0.142*0.02*(0.05/0.5)**0.6*100
        ac = AlmgrenChrissImpact(horizon_days=0.5)
        imp = ac.impact(100.0, 50_000, volatility=0.02, adv=1_000_000)
        assert imp.permanent == pytest.approx(0.0314)
        assert imp.temporary == pytest.approx(0.142 * 0.02 * 0.1**0.6 * 100)

    def test_kyle_lambda_is_permanent_and_linear(self):
        imp = KyleLambdaImpact(1e-5).impact(10.0, 3000)
        assert imp.temporary == 0.0
        assert imp.permanent == pytest.approx(0.03)

    def test_unknown_adv_gives_no_impact(self):
        for model in (LinearImpact(1.0), SquareRootImpact(), AlmgrenChrissImpact()):
            assert model.impact(100.0, 1000, volatility=0.02, adv=math.nan).total == 0.0
            assert model.impact(100.0, 1000, volatility=0.02, adv=0.0).total == 0.0

    def test_composite_adds_part_by_part(self):
        both = CompositeImpact((LinearImpact(0.5, permanent_fraction=1.0), KyleLambdaImpact(1e-6)))
        imp = both.impact(100.0, 10_000, adv=1_000_000)
        assert imp.temporary == 0.0
        assert imp.permanent == pytest.approx(0.5 + 0.01)

    def test_no_impact(self):
        assert NoImpact().impact(1.0, 1e9, adv=1.0).total == 0.0

    @pytest.mark.parametrize(
        "factory",
        [
            lambda: LinearImpact(-1.0),
            lambda: LinearImpact(1.0, permanent_fraction=1.5),
            lambda: SquareRootImpact(math.nan),
            lambda: AlmgrenChrissImpact(beta=0.0),
            lambda: AlmgrenChrissImpact(horizon_days=-1.0),
            lambda: KyleLambdaImpact(-1e-6),
        ],
    )
    def test_out_of_range_parameter_raises(self, factory):
        with pytest.raises(ConfigError):
            factory()


@pytest.mark.parametrize(
    "model", [LinearImpact(0.5), SquareRootImpact(1.0), AlmgrenChrissImpact()], ids=repr
)
def test_impact_with_overflowing_participation_is_treated_as_missing_statistics(model):
    # adv and volatility of 5e-324 make quantity / adv overflow to inf (and 0 * inf = NaN).
    impact = model.impact(100.0, 1_000.0, volatility=5e-324, adv=5e-324)
    assert (impact.temporary, impact.permanent) == (0.0, 0.0)


class TestVolumeLimit:
    def test_cap_is_fraction_of_volume(self):
        assert VolumeLimit(0.05).max_quantity(10_000.0) == pytest.approx(500.0)

    def test_missing_or_zero_volume_allows_nothing(self):
        assert VolumeLimit(0.05).max_quantity(0.0) == 0.0
        assert VolumeLimit(0.05).max_quantity(math.nan) == 0.0

    @pytest.mark.parametrize("fraction", [0.0, -0.1, 1.01, math.nan])
    def test_fraction_outside_unit_interval_raises(self, fraction):
        with pytest.raises(ConfigError, match="fraction"):
            VolumeLimit(fraction)


MODELS = [
    LinearImpact(0.3, permanent_fraction=0.5),
    SquareRootImpact(1.0, permanent_fraction=0.2),
    AlmgrenChrissImpact(),
    KyleLambdaImpact(1e-6),
    CompositeImpact((LinearImpact(0.1), KyleLambdaImpact(1e-7))),
]


@settings(max_examples=60, deadline=None)
@given(
    price=st.floats(0.01, 1e5),
    quantity=st.floats(0.0, 1e8),
    volatility=st.one_of(st.just(math.nan), st.floats(0.0, 2.0)),
    adv=st.one_of(st.just(math.nan), st.floats(0.0, 1e10)),
)
def test_impact_is_never_negative(price, quantity, volatility, adv):
    for model in MODELS:
        imp = model.impact(price, quantity, volatility=volatility, adv=adv)
        assert imp.temporary >= 0.0
        assert imp.permanent >= 0.0
