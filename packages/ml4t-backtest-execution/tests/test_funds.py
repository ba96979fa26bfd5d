import pytest

from ml4t.backtest.execution._funds import fee_inclusive_quantity


class TestFeeInclusiveQuantity:
    @pytest.mark.parametrize(
        ("budget", "price", "rate", "fixed"),
        [(1_000.0, 12.0, 0.01, 0.0), (1e6, 116.32, 0.001, 0.0), (500.0, 3.0, 0.002, 1.0)],
    )
    def test_percent_plus_fixed_fee_matches_the_closed_form(self, budget, price, rate, fixed):
        q = fee_inclusive_quantity(budget, price, lambda n: n * price * rate + fixed)
        # VectorBT's buy_nb: (cash - fixed_fees) / (1 + fees) / price
        assert q == pytest.approx((budget - fixed) / (1.0 + rate) / price, rel=1e-14)
        assert q * price + q * price * rate + fixed <= budget * (1.0 + 1e-15)

    def test_minimum_commission_binds_below_its_break_even(self):
        # max(1% of notional, 5): 100 / (10 * 1.01) = 9.9 units would pay 0.99 < 5,
        # so the minimum applies: (100 - 5) / 10 = 9.5
        q = fee_inclusive_quantity(100.0, 10.0, lambda n: max(0.01 * n * 10.0, 5.0))
        assert q == pytest.approx(9.5)

    def test_nothing_affordable_returns_zero(self):
        assert fee_inclusive_quantity(3.0, 10.0, lambda n: 5.0) == 0.0
        assert fee_inclusive_quantity(0.0, 10.0, lambda n: 0.0) == 0.0

    def test_no_fee_is_budget_over_price(self):
        assert fee_inclusive_quantity(100.0, 8.0, lambda n: 0.0) == 12.5
