"""Broker options that reproduce peer semantics: trailing reference, bracket activation,
slippage capped at the bar, fee-inclusive resize. Every expected fill is computed by hand
in the comment next to it; each default keeps the behaviour the other broker tests pin."""

import numpy as np
import pytest

from ml4t.backtest.core.assets import AssetRegistry, Equity
from ml4t.backtest.core.enums import OrderSide, OrderStatus
from ml4t.backtest.core.types import NS_PER_DAY
from ml4t.backtest.execution.account import SimpleAccount
from ml4t.backtest.execution.broker import SimulationBroker
from ml4t.backtest.execution.commission import PercentageCommission
from ml4t.backtest.execution.fills import (
    BracketActivation,
    FillTiming,
    FundsPolicy,
    TrailReference,
)
from ml4t.backtest.execution.orders import Order, bracket_order
from ml4t.backtest.execution.slippage import FixedSlippage, PercentageSlippage

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def a(*values):
    return np.array(values, dtype=np.float64)


def bar(broker, t, o, h, lo, c, v=1e6):
    return broker.process_bar(t, t * NS_PER_DAY, a(o), a(h), a(lo), a(c), a(v))


def close(broker, t, c, v=1e6):
    return broker.process_close(t, t * NS_PER_DAY, a(c), a(v))


class TestTrailReference:
    def test_close_reference_trails_closes_not_highs_and_fills_on_a_gap(self):
        b = SimulationBroker(["X"], trail_reference=TrailReference.CLOSE)
        bar(b, 0, 100, 100, 100, 100)
        order = b.submit(Order.trailing_stop("X", SELL, 10, trail_amount=5.0))
        assert order.stop_price == 95.0  # last close 100 - 5
        # high 110 is ignored; after the bar the close 108 moves the level to 103
        assert bar(b, 1, 101, 110, 100, 108) == []
        assert order.stop_price == 103.0
        # low 104 stays above 103 (the EXTREME default would sit at 105 and fill);
        # close 104.5 - 5 = 99.5 < 103: the level never moves down
        assert bar(b, 2, 107, 108, 104, 104.5) == []
        assert order.stop_price == 103.0
        (fill,) = bar(b, 3, 102, 103, 101, 102)  # opens below 103: fills at the open
        assert fill.price == 102.0

    def test_close_reference_ignores_a_gap_up_open(self):
        b = SimulationBroker(["X"], trail_reference=TrailReference.CLOSE)
        bar(b, 0, 100, 100, 100, 100)
        order = b.submit(Order.trailing_stop("X", SELL, 1, trail_percent=0.1))
        # opens at 120 but the level stays 90 until the close: low 107 does not reach it
        assert bar(b, 1, 120, 121, 107, 110) == []
        assert order.stop_price == pytest.approx(99.0)  # 110 * 0.9

    def test_close_reference_buy_stop_follows_lower_closes(self):
        b = SimulationBroker(["X"], trail_reference=TrailReference.CLOSE)
        bar(b, 0, 100, 100, 100, 100)
        order = b.submit(Order.trailing_stop("X", BUY, 1, trail_amount=2.0))
        assert bar(b, 1, 99, 101, 90, 95) == []  # high 101 < 102; close 95 -> level 97
        assert order.stop_price == 97.0
        (fill,) = bar(b, 2, 96, 98, 95, 97.5)  # high 98 touches 97
        assert fill.price == 97.0

    def test_default_extreme_reference_trails_the_high(self):
        b = SimulationBroker(["X"])
        assert b.trail_reference is TrailReference.EXTREME
        bar(b, 0, 100, 100, 100, 100)
        order = b.submit(Order.trailing_stop("X", SELL, 10, trail_amount=5.0))
        assert bar(b, 1, 101, 110, 100, 108) == []
        assert order.stop_price == 105.0  # high 110 - 5


class TestBracketActivation:
    def test_next_bar_children_skip_the_entry_bar(self):
        b = SimulationBroker(["X"], bracket_activation=BracketActivation.NEXT_BAR)
        br = bracket_order("X", BUY, 10, take_profit=110.0, stop_loss=95.0)
        b.submit(br.entry)
        # entry at the open 100; the low 94 would hit the stop under SAME_BAR
        fills = bar(b, 0, 100, 101, 94, 96)
        assert [(f.order_id, f.price) for f in fills] == [(br.entry.order_id, 100.0)]
        assert br.stop_loss.is_working
        (fill,) = bar(b, 1, 96, 97, 94.5, 95)  # low 94.5 <= 95: stop at 95
        assert (fill.order_id, fill.price) == (br.stop_loss.order_id, 95.0)
        assert br.take_profit.status is OrderStatus.CANCELED

    def test_next_bar_children_fill_at_the_open_when_it_gaps_through(self):
        b = SimulationBroker(["X"], bracket_activation=BracketActivation.NEXT_BAR)
        br = bracket_order("X", BUY, 10, take_profit=110.0, stop_loss=95.0)
        b.submit(br.entry)
        bar(b, 0, 100, 112, 99, 100)  # the high 112 would hit the target under SAME_BAR
        (fill,) = bar(b, 1, 111, 113, 110.5, 112)  # opens above 110: the open
        assert (fill.order_id, fill.price) == (br.take_profit.order_id, 111.0)

    def test_same_bar_default_fills_children_on_the_entry_bar(self):
        b = SimulationBroker(["X"])
        assert b.bracket_activation is BracketActivation.SAME_BAR
        br = bracket_order("X", BUY, 10, take_profit=110.0, stop_loss=95.0)
        b.submit(br.entry)
        fills = bar(b, 0, 100, 101, 94, 96)
        assert [f.price for f in fills] == [100.0, 95.0]


class TestSlippageCapToBar:
    def test_buy_pays_at_most_the_bar_high(self):
        b = SimulationBroker(["X"], slippage=FixedSlippage(0.05), slippage_cap_to_bar=True)
        bar(b, 0, 10, 10, 10, 10)
        b.submit(Order.market("X", BUY, 100))
        (fill,) = bar(b, 1, 12.00, 12.02, 11.90, 11.95)  # 12.00 + 0.05 > 12.02: 12.02
        assert fill.price == pytest.approx(12.02)
        assert fill.slippage == pytest.approx(0.02 * 100)

    def test_sell_receives_at_least_the_bar_low(self):
        b = SimulationBroker(["X"], slippage=FixedSlippage(0.05), slippage_cap_to_bar=True)
        bar(b, 0, 12, 12, 12, 12)
        b.submit(Order.market("X", SELL, 100))
        (fill,) = bar(b, 1, 11.98, 12.05, 11.97, 12.0)  # 11.98 - 0.05 < 11.97: 11.97
        assert fill.price == pytest.approx(11.97)

    def test_slippage_inside_the_bar_is_unchanged(self):
        b = SimulationBroker(
            ["X"], slippage=PercentageSlippage(rate=0.001), slippage_cap_to_bar=True
        )
        bar(b, 0, 100, 100, 100, 100)
        b.submit(Order.market("X", BUY, 1))
        (fill,) = bar(b, 1, 100.0, 101.0, 99.0, 100.5)  # 100 * 1.001 = 100.1 <= 101
        assert fill.price == pytest.approx(100.1)

    def test_bar_opening_at_its_high_fills_buy_without_slippage(self):
        b = SimulationBroker(["X"], slippage=FixedSlippage(0.05), slippage_cap_to_bar=True)
        bar(b, 0, 10, 10, 10, 10)
        b.submit(Order.market("X", BUY, 1))
        (fill,) = bar(b, 1, 12.0, 12.0, 11.5, 11.8)
        assert fill.price == 12.0
        assert fill.slippage == 0.0

    def test_stop_touched_inside_the_bar_caps_at_the_low(self):
        b = SimulationBroker(["X"], slippage=FixedSlippage(0.05), slippage_cap_to_bar=True)
        bar(b, 0, 100, 100, 100, 100)
        b.submit(Order.stop("X", SELL, 1, 95.0))
        (fill,) = bar(b, 1, 97.0, 98.0, 94.98, 96.0)  # 95 - 0.05 < low 94.98: 94.98
        assert fill.price == pytest.approx(94.98)

    def test_close_fill_caps_at_that_bars_high(self):
        b = SimulationBroker(
            ["X"],
            fill_timing=FillTiming.SAME_BAR_CLOSE,
            slippage=FixedSlippage(0.05),
            slippage_cap_to_bar=True,
        )
        bar(b, 0, 9.9, 10.02, 9.8, 10.0)
        b.submit(Order.market("X", BUY, 1))
        (fill,) = close(b, 0, 10.0)  # close 10.00 + 0.05 > high 10.02: 10.02
        assert fill.price == pytest.approx(10.02)

    def test_default_does_not_cap(self):
        b = SimulationBroker(["X"], slippage=FixedSlippage(0.05))
        assert b.slippage_cap_to_bar is False
        bar(b, 0, 10, 10, 10, 10)
        b.submit(Order.market("X", BUY, 100))
        (fill,) = bar(b, 1, 12.00, 12.02, 11.90, 11.95)
        assert fill.price == pytest.approx(12.05)


class TestFeeInclusiveResize:
    @staticmethod
    def _short_buy(policy):
        # 1,000 cash, 1% commission, lots of 0.001: a 90-share buy decided at 10 fills at 12
        acct = SimpleAccount(1000.0)
        reg = AssetRegistry([Equity(asset_id="X", lot_size=0.001)])
        b = SimulationBroker(
            ["X"],
            reg,
            account=acct,
            funds_policy=policy,
            commission=PercentageCommission(rate=0.01),
        )
        bar(b, 0, 10, 10, 10, 10)
        order = b.submit(Order.market("X", BUY, 90))  # 900 + 9 <= 1000 at submit
        (fill,) = bar(b, 1, 12, 12, 12, 12)  # 1080 + 10.80 > 1000 at the fill
        return fill, order

    def test_fee_inclusive_buys_cash_over_price_times_one_plus_rate(self):
        fill, order = self._short_buy(FundsPolicy.RESIZE_FEE_INCLUSIVE)
        # 1000 / (12 * 1.01) = 82.50825.. -> lot 0.001: 82.508 (cost 990.096 + 9.90096)
        assert fill.quantity == pytest.approx(82.508)
        assert fill.commission == pytest.approx(9.90096)
        assert fill.quantity * 12 + fill.commission <= 1000.0
        assert order.status is OrderStatus.CANCELED

    def test_resize_sets_aside_the_commission_of_the_whole_order(self):
        fill, _ = self._short_buy(FundsPolicy.RESIZE)
        # (1000 - 90 * 12 * 0.01) / 12 = 82.4333.. -> 82.433
        assert fill.quantity == pytest.approx(82.433)


class _MarginAccount(SimpleAccount):
    # A margin-based account view: buying power is excess / 0.5 and it exposes the rate the
    # way `Portfolio.account.default_initial_rate` does; submit checks are left to the fill.
    class account:  # noqa: N801 - mimics the Portfolio attribute
        default_initial_rate = 0.5

    def check_order(self, asset, side, quantity, price):
        return None


class TestFuturesMarginAtFill:
    @staticmethod
    def _broker(cash):
        from ml4t.backtest.core.assets import Future  # noqa: PLC0415

        reg = AssetRegistry(
            [Future(asset_id="6E", multiplier=125_000.0, tick_size=5e-5, initial_margin=2_500.0)]
        )
        return SimulationBroker(["6E"], reg, account=_MarginAccount(cash))

    def test_future_needs_its_initial_margin_in_buying_power(self):
        b = self._broker(100_000.0)  # buying power 100,000 (notional units)
        bar(b, 0, 1.2, 1.2, 1.2, 1.2)
        b.submit(Order.market("6E", BUY, 10))
        b.submit(Order.market("6E", BUY, 11))
        fills = bar(b, 1, 1.2, 1.2, 1.2, 1.2)
        # each contract ties up 2,500 / 0.5 = 5,000: 10 -> 50,000, then 11 -> 55,000 > 50,000
        assert [f.quantity for f in fills] == [10.0]

    def test_account_without_a_margin_rate_keeps_the_notional_check(self):
        from ml4t.backtest.core.assets import Future  # noqa: PLC0415

        reg = AssetRegistry(
            [Future(asset_id="6E", multiplier=125_000.0, tick_size=5e-5, initial_margin=2_500.0)]
        )
        acct = SimpleAccount(100_000.0)
        b = SimulationBroker(["6E"], reg, account=acct)
        assert b._bp_margin == [0.0]
