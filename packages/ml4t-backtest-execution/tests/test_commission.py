import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml4t.backtest.core.errors import ConfigError
from ml4t.backtest.execution.commission import (
    IB_US_EQUITY_TIERS,
    CompositeCommission,
    CryptoCommission,
    FuturesCommission,
    NoCommission,
    PercentageCommission,
    PerShareCommission,
    PerTradeCommission,
    TieredCommission,
)


class TestPerShareCommission:
    def test_charges_per_share_above_minimum(self):
        # 1,000 * 0.005 = 5.00
        assert PerShareCommission(0.005, minimum=1.0).commission(1000, 20.0) == pytest.approx(5.0)

    def test_small_order_pays_minimum(self):
        assert PerShareCommission(0.005, minimum=1.0).commission(10, 20.0) == 1.0

    def test_cheap_shares_are_capped_at_fraction_of_value(self):
        # 10,000 * 0.005 = 50 > 1% of (10,000 * 0.10) = 10
        fee = PerShareCommission(0.005, minimum=1.0, max_fraction=0.01)
        assert fee.commission(10_000, 0.10) == pytest.approx(10.0)

    def test_absolute_maximum_caps_the_fee(self):
        assert PerShareCommission(0.01, maximum=25.0).commission(10_000, 50.0) == 25.0


class TestTieredCommission:
    def test_table_is_ib_published_schedule(self):
        assert (
            (300_000.0, 0.0035),
            (3_000_000.0, 0.0020),
            (20_000_000.0, 0.0015),
            (100_000_000.0, 0.0010),
            (math.inf, 0.0005),
        ) == IB_US_EQUITY_TIERS

    @pytest.mark.parametrize(
        ("monthly", "expected"),
        [
            (0.0, 3.5),  # 1000 * 0.0035
            (299_999.0, 3.5),
            (300_000.0, 2.0),  # 1000 * 0.0020
            (5_000_000.0, 1.5),
            (50_000_000.0, 1.0),
            (200_000_000.0, 0.5),
        ],
    )
    def test_rate_depends_on_volume_already_traded_this_month(self, monthly, expected):
        ib = TieredCommission.interactive_brokers_us_equity()
        assert ib.commission(1000, 50.0, monthly_volume=monthly) == pytest.approx(expected)

    def test_minimum_and_value_cap(self):
        ib = TieredCommission()
        assert ib.commission(50, 100.0) == 0.35  # 0.175 -> minimum
        assert ib.commission(100, 0.20) == pytest.approx(0.20)  # 1% of 20 caps the 0.35 minimum

    def test_non_increasing_tiers_raise_config_error(self):
        with pytest.raises(ConfigError, match="increase"):
            TieredCommission(((100.0, 0.01), (50.0, 0.005)))


class TestOtherCommissions:
    def test_percentage_with_minimum(self):
        assert PercentageCommission(0.001, minimum=2.0).commission(10, 100.0) == 2.0
        assert PercentageCommission(0.001).commission(100, 100.0) == pytest.approx(10.0)

    def test_percentage_uses_multiplier(self):
        assert PercentageCommission(0.0001).commission(2, 5000.0, multiplier=50.0) == pytest.approx(
            50.0
        )

    def test_per_trade_is_flat(self):
        assert PerTradeCommission(4.95).commission(1, 1.0) == 4.95

    def test_futures_per_contract_plus_exchange_fee(self):
        # 3 * (0.85 + 1.38) = 6.69
        assert FuturesCommission(0.85, exchange_fee=1.38).commission(3, 4000.0) == pytest.approx(
            6.69
        )

    def test_crypto_maker_and_taker_bps(self):
        fees = CryptoCommission(maker_bps=1.0, taker_bps=4.0)
        # 2 BTC * 30,000 = 60,000; taker 4 bp = 24, maker 1 bp = 6
        assert fees.commission(2, 30_000.0) == pytest.approx(24.0)
        assert fees.commission(2, 30_000.0, maker=True) == pytest.approx(6.0)

    def test_composite_sums(self):
        fee = CompositeCommission((PerShareCommission(0.005), PerTradeCommission(1.0)))
        assert fee.commission(200, 10.0) == pytest.approx(2.0)

    def test_no_commission(self):
        assert NoCommission().commission(1e6, 1e3) == 0.0

    @pytest.mark.parametrize(
        "factory",
        [
            lambda: PerShareCommission(-0.01),
            lambda: PercentageCommission(rate=math.inf),
            lambda: PerTradeCommission(-1.0),
            lambda: FuturesCommission(per_contract=math.nan),
            lambda: CryptoCommission(maker_bps=-1.0),
            lambda: TieredCommission(minimum=-0.1),
        ],
    )
    def test_negative_or_non_finite_parameters_raise(self, factory):
        with pytest.raises(ConfigError):
            factory()


MODELS = [
    NoCommission(),
    PerShareCommission(0.005, minimum=1.0, max_fraction=0.01),
    PercentageCommission(0.001, minimum=1.0),
    PerTradeCommission(1.0),
    TieredCommission(),
    FuturesCommission(0.85, exchange_fee=1.0),
    CryptoCommission(2.0, 5.0),
    CompositeCommission((PerShareCommission(0.01), PerTradeCommission(0.5))),
]


@settings(max_examples=60, deadline=None)
@given(
    quantity=st.floats(0.0, 1e8),
    price=st.floats(0.0001, 1e6),
    monthly=st.floats(0.0, 1e9),
    maker=st.booleans(),
)
def test_commission_is_never_negative(quantity, price, monthly, maker):
    for model in MODELS:
        assert model.commission(quantity, price, monthly_volume=monthly, maker=maker) >= 0.0
